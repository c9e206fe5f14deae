/**
 * Integration-test helper: a real S3 server (OpenStack Swift + s3api from Debian) started by
 * scripts/it/s3.sh. If FLINKTRAIL_TEST_S3_ENDPOINT is set (with FLINKTRAIL_TEST_S3_ACCESS_KEY_ID
 * and FLINKTRAIL_TEST_S3_SECRET_ACCESS_KEY), that server is used and nothing is started — but
 * then `pause`/`resume` (outage tests) are unavailable and throw.
 */
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { register, starting } from './lifecycle.js';
import { itScript } from './servers.js';

export interface S3Server {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
  external: boolean;
  /** An s3:// destination URL for `bucket` (created here) and `prefix`. */
  destination(bucket: string, prefix?: string): Promise<string>;
  client(): S3Client;
  /** Stops only the S3 endpoint (an outage); data stays. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  stop(): Promise<void>;
}

export function startS3(opts: { ownServer?: boolean } = {}): Promise<S3Server> {
  return starting(start(opts));
}

async function start(opts: { ownServer?: boolean }): Promise<S3Server> {
  const env = process.env['FLINKTRAIL_TEST_S3_ENDPOINT'];
  let info: { endpoint: string; region: string; accessKeyId: string; secretAccessKey: string; runDir?: string; pids?: number[] };
  if (env && !opts.ownServer) {
    info = {
      endpoint: env,
      region: 'us-east-1',
      accessKeyId: process.env['FLINKTRAIL_TEST_S3_ACCESS_KEY_ID'] ?? 'test:tester',
      secretAccessKey: process.env['FLINKTRAIL_TEST_S3_SECRET_ACCESS_KEY'] ?? 'testing',
    };
  } else {
    await itScript('s3', ['install'], 600_000);
    info = await itScript('s3', ['start'], 120_000);
  }
  const runDir = info.runDir;
  const client = () =>
    new S3Client({
      endpoint: info.endpoint,
      region: info.region,
      forcePathStyle: true,
      credentials: { accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey },
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
  const owned = () => {
    if (!runDir) throw new Error('pause/resume need a server started by this helper (FLINKTRAIL_TEST_S3_ENDPOINT is set)');
    return runDir;
  };
  const stop = runDir
    ? register({
        name: 'S3 (Swift)',
        stop: () => itScript('s3', ['stop', '--run-dir', runDir]).then(() => undefined),
        groups: info.pids ?? [],
        logs: ['proxy', 'object', 'container', 'account'].map((n) => `${runDir}/log/${n}.out`),
      })
    : () => Promise.resolve();
  return {
    ...info,
    external: !runDir,
    client,
    async destination(bucket, prefix = '') {
      const c = client();
      try {
        await c.send(new CreateBucketCommand({ Bucket: bucket }));
      } catch (err) {
        if (!/BucketAlreadyOwnedByYou|BucketAlreadyExists/.test((err as Error).name)) throw err;
      } finally {
        c.destroy();
      }
      const q = new URLSearchParams({ endpoint: info.endpoint, region: info.region, accessKeyId: info.accessKeyId, secretAccessKey: info.secretAccessKey });
      return `s3://${bucket}${prefix ? `/${prefix}` : ''}?${q.toString()}`;
    },
    pause: async () => void (await itScript('s3', ['pause', '--run-dir', owned()])),
    resume: async () => void (await itScript('s3', ['resume', '--run-dir', owned()], 60_000)),
    stop,
  };
}
