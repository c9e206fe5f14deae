/*
 * FlinkTrail integration-test job: an unbounded, slow, checkpointable pipeline.
 *
 *   sequence (fromSequence 1..count) -> throttle (sleep per record) -> keyBy(v % keys)
 *     -> count-per-key (keyed ValueState) -> print
 *
 * Uses only APIs present in both Flink 1.20 and 2.x (no ParameterTool, no open(Configuration),
 * no addSink). Built by scripts/flink/flink.sh fetch; never bundle Flink classes into the jar.
 *
 * Program args (all optional):
 *   --job-name NAME             job name (default "flinktrail-demo-job")
 *   --rate N                    records per second per source subtask (default 10)
 *   --count N                   records to emit, then finish (default: unbounded = Long.MAX_VALUE)
 *   --checkpoint-interval MS    periodic checkpoint interval, 0 disables (default 10000)
 *   --keys N                    number of distinct keys for the keyed state (default 4)
 */
package flinktrail.demo;

import org.apache.flink.api.common.functions.MapFunction;
import org.apache.flink.api.common.functions.RichMapFunction;
import org.apache.flink.api.common.state.ValueState;
import org.apache.flink.api.common.state.ValueStateDescriptor;
import org.apache.flink.api.common.typeinfo.Types;
import org.apache.flink.api.java.functions.KeySelector;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;

public final class DemoJob {
    private DemoJob() {}

    /** Sleeps so that the (chained) source emits about {@code rate} records per second. */
    public static final class Throttle implements MapFunction<Long, Long> {
        private static final long serialVersionUID = 1L;
        private final long sleepMillis;

        public Throttle(long rate) {
            this.sleepMillis = rate <= 0 ? 0 : Math.max(1L, 1000L / rate);
        }

        @Override
        public Long map(Long value) throws Exception {
            if (sleepMillis > 0) {
                Thread.sleep(sleepMillis);
            }
            return value;
        }
    }

    public static final class ModKey implements KeySelector<Long, Long> {
        private static final long serialVersionUID = 1L;
        private final long keys;

        public ModKey(long keys) {
            this.keys = Math.max(1L, keys);
        }

        @Override
        public Long getKey(Long value) {
            return value % keys;
        }
    }

    /** Keeps a per-key counter in keyed state so savepoints/checkpoints carry real state. */
    public static final class CountPerKey extends RichMapFunction<Long, String> {
        private static final long serialVersionUID = 1L;
        private transient ValueState<Long> count;

        @Override
        public String map(Long value) throws Exception {
            if (count == null) {
                count = getRuntimeContext().getState(new ValueStateDescriptor<>("count", Types.LONG));
            }
            Long c = count.value();
            long next = (c == null ? 0L : c) + 1L;
            count.update(next);
            return "value=" + value + " count=" + next;
        }
    }

    public static void main(String[] args) throws Exception {
        String jobName = "flinktrail-demo-job";
        long rate = 10L;
        long count = Long.MAX_VALUE;
        long checkpointInterval = 10_000L;
        long keys = 4L;
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            String v = i + 1 < args.length ? args[i + 1] : null;
            switch (a) {
                case "--job-name": jobName = require(a, v); i++; break;
                case "--rate": rate = Long.parseLong(require(a, v)); i++; break;
                case "--count": count = Long.parseLong(require(a, v)); i++; break;
                case "--checkpoint-interval": checkpointInterval = Long.parseLong(require(a, v)); i++; break;
                case "--keys": keys = Long.parseLong(require(a, v)); i++; break;
                default: throw new IllegalArgumentException("unknown argument: " + a);
            }
        }

        StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment();
        if (checkpointInterval > 0) {
            env.enableCheckpointing(checkpointInterval);
        }
        env.fromSequence(1L, count).name("sequence").uid("sequence")
                .map(new Throttle(rate)).name("throttle").uid("throttle")
                .keyBy(new ModKey(keys))
                .map(new CountPerKey()).name("count-per-key").uid("count-per-key")
                .print().name("print").uid("print");
        env.execute(jobName);
    }

    private static String require(String flag, String value) {
        if (value == null) {
            throw new IllegalArgumentException("missing value for " + flag);
        }
        return value;
    }
}
