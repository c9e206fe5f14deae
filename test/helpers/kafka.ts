/**
 * Integration-test helper: a real Apache Kafka 4.x broker (KRaft, jars from Maven Central)
 * started by scripts/it/kafka.sh, or the one at FLINKTRAIL_TEST_KAFKA_BOOTSTRAP. `consume`
 * collects a topic's records from the beginning.
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
  /** Creates topics (one partition each), so consumers can subscribe before the first record. */
  createTopics(topics: string[]): Promise<void>;
  /** Starts collecting every record of `topic` (from the earliest offset) into `records`. */
  consume(topic: string): Promise<{ records: KafkaRecord[]; close(): Promise<void> }>;
  stop(): Promise<void>;
}

export function startKafka(): Promise<KafkaServer> {
  return starting(start());
}

async function start(): Promise<KafkaServer> {
  const env = process.env['FLINKTRAIL_TEST_KAFKA_BOOTSTRAP'];
  let info: { bootstrap: string; runDir?: string; pid?: number };
  if (env) info = { bootstrap: env };
  else {
    await itScript('kafka', ['install'], 900_000);
    info = await itScript('kafka', ['start'], 180_000);
  }
  const runDir = info.runDir;
  const stop = runDir
    ? register({
        name: 'Kafka',
        stop: () => itScript('kafka', ['stop', '--run-dir', runDir]).then(() => undefined),
        ...(info.pid ? { groups: [info.pid] } : {}),
        logs: [`${runDir}/kafka.log`],
      })
    : () => Promise.resolve();
  return {
    bootstrap: info.bootstrap,
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
