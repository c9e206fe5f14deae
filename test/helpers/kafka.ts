/**
 * Integration-test helper: a real Apache Kafka 4.x broker (KRaft, jars from Maven Central)
 * started by scripts/it/kafka.sh, or the one at FLINKTRAIL_TEST_KAFKA_BOOTSTRAP. `consume`
 * collects a topic's records from the beginning (over the plaintext listener). With `saslSsl`
 * the broker also has a SASL_SSL listener serving the given certificate, with SCRAM and PLAIN
 * users (always a broker of its own); `pause`/`resume` stop and restart it (same ports, data).
 */
import { Admin, Consumer, stringDeserializers, type Message } from '@platformatic/kafka';
import { register, starting } from './lifecycle.js';
import { itScript } from './servers.js';

export interface KafkaRecord {
  key: string;
  value: string;
  receivedAt: number;
}

export interface KafkaServer {
  bootstrap: string;
  /** host:port of the SASL_SSL listener (with `saslSsl`). */
  saslSsl?: string;
  /** Stops the broker (an outage) and starts it again on the same ports with the same data. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Creates topics (one partition each), so consumers can subscribe before the first record. */
  createTopics(topics: string[]): Promise<void>;
  /** Starts collecting every record of `topic` (from the earliest offset) into `records`. */
  consume(topic: string): Promise<{ records: KafkaRecord[]; close(): Promise<void> }>;
  stop(): Promise<void>;
}

export interface KafkaStartOptions {
  saslSsl?: {
    cert: string;
    key: string;
    /** NAME:PASSWORD, credentials for SCRAM-SHA-512 and SCRAM-SHA-256. */
    scramUsers?: string[];
    /** NAME:PASSWORD, credentials for PLAIN. */
    plainUsers?: string[];
  };
}

export function startKafka(opts: KafkaStartOptions = {}): Promise<KafkaServer> {
  return starting(start(opts));
}

async function start(opts: KafkaStartOptions): Promise<KafkaServer> {
  const env = process.env['FLINKTRAIL_TEST_KAFKA_BOOTSTRAP'];
  let info: { bootstrap: string; saslSsl?: string | null; runDir?: string; pid?: number };
  if (env && !opts.saslSsl) info = { bootstrap: env };
  else {
    await itScript('kafka', ['install'], 900_000);
    const args = ['start'];
    if (opts.saslSsl) {
      const s = opts.saslSsl;
      args.push('--tls-cert', s.cert, '--tls-key', s.key);
      for (const u of s.scramUsers ?? []) args.push('--scram-user', u);
      for (const u of s.plainUsers ?? []) args.push('--plain-user', u);
    }
    info = await itScript('kafka', args, 240_000);
  }
  const runDir = info.runDir;
  // The broker's process group; resume replaces it (the registration reads this array on exit).
  const groups = info.pid ? [info.pid] : [];
  const stop = runDir
    ? register({
        name: 'Kafka',
        stop: () => itScript('kafka', ['stop', '--run-dir', runDir]).then(() => undefined),
        groups,
        logs: [`${runDir}/kafka.log`],
      })
    : () => Promise.resolve();
  const own = async (cmd: 'pause' | 'resume') => {
    if (!runDir) throw new Error(`Kafka ${cmd}: only a broker started here can be paused`);
    const r = await itScript<{ pid?: number }>('kafka', [cmd, '--run-dir', runDir], 240_000);
    if (r.pid) groups.splice(0, groups.length, r.pid);
  };
  return {
    bootstrap: info.bootstrap,
    ...(info.saslSsl ? { saslSsl: info.saslSsl } : {}),
    pause: () => own('pause'),
    resume: () => own('resume'),
    async createTopics(topics) {
      const admin = new Admin({ clientId: 'ft-test-admin', bootstrapBrokers: [info.bootstrap] });
      try {
        await admin.createTopics({ topics, partitions: 1, replicas: 1 });
      } finally {
        await admin.close();
      }
    },
    async consume(topic) {
      const consumer = new Consumer({
        groupId: `ft-test-${topic}-${Date.now()}`,
        clientId: 'ft-test',
        bootstrapBrokers: [info.bootstrap],
        deserializers: stringDeserializers,
      });
      const stream = await consumer.consume({ topics: [topic], mode: 'earliest', autocommit: false, maxWaitTime: 100 } as never);
      const records: KafkaRecord[] = [];
      stream.on('data', (m: Message<string, string, string, string>) => records.push({ key: m.key, value: m.value, receivedAt: Date.now() }));
      return {
        records,
        async close() {
          await stream.close();
          await new Promise<void>((resolve) => consumer.close(true, () => resolve()));
        },
      };
    },
    stop,
  };
}
