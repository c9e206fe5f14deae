/**
 * The ingest API: `POST /api/v1/events` takes ActionTrail records from other tools.
 *
 * Body: a JSON array of records (`Content-Type: application/json`), or JSON lines
 * (`application/x-ndjson`, or `?format=jsonl`), at most `ingest.maxEvents` records and
 * `ingest.maxBodyBytes` bytes. Answer: `{accepted, duplicates, rejected: [{index, code,
 * message}]}` once the accepted records are committed; a body that cannot be parsed at all is a
 * coded 4xx and nothing of it is stored. The call itself is recorded as `IngestEvents`
 * (FlinkTrail's own event, with the counts), and needs the action `Actiontrail:IngestEvents`
 * (admin, or a policy allowing it). A member account's key ingests into its own account only
 * (a record naming another is refused, `FT_ERR_INGEST_FOREIGN_ACCOUNT`). See docs/reference/ingest.md.
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from '../../config/index.js';
import { FlinkTrailError } from '../../errors/index.js';
import type { Principal } from '../../identity/authenticate.js';
import type { Recorder } from '../../pipeline/recorder.js';
import type { Metrics } from '../../telemetry/metrics.js';
import { userIdentityOf } from '../../identity/caller.js';
import { callerAccount } from '../../event/account.js';
import { acceptRawBodies, bodyFormat } from '../../http/body.js';
import { Ingester } from './ingest.js';
import { PreparePool } from './pool.js';

export { checkRecord } from './check.js';
export { Ingester, type IngestResult } from './ingest.js';
export { PreparePool } from './pool.js';
export { acceptRawBodies, bodyFormat, parseJson, parseJsonLines, type Rejected } from '../../http/body.js';

export const INGEST_PATH = '/api/v1/events';
export const INGEST_ACTION = 'IngestEvents';

export interface IngestDeps {
  config: Readonly<Config>;
  recorder: Recorder;
  metrics: Metrics;
}

export function createIngestModule(deps: IngestDeps) {
  const { config } = deps;
  // Preparing a batch is CPU (parse, schema checks, redaction): threads, not the request thread.
  const pool = new PreparePool({ threads: config.ingest.threads, auditPolicy: config.auditPolicy, nice: config.ingest.threadNice });
  const ingester = new Ingester(pool, deps.recorder, deps.metrics, config.ingest.maxEvents);
  return {
    name: 'ingest',
    ingester,
    start: () => pool.start(),
    stop: () => pool.close(),
    routes(api: FastifyInstance): void {
      void api.register((scope, _opts, done) => {
        acceptRawBodies(scope, () => config.ingest.maxBodyBytes);
        scope.post(INGEST_PATH, { config: { audit: { eventName: INGEST_ACTION, eventRW: 'Write', sensitive: true } } }, async (req) => {
          const query = req.query as Record<string, unknown>;
          for (const k of Object.keys(query)) {
            if (k !== 'format') throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', `unknown parameter ${k.slice(0, 64)} (known: format)`);
          }
          const format = bodyFormat(req.headers['content-type'], req.headers['content-encoding'], query['format']);
          const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
          const principal = req.principal as Principal;
          const account = callerAccount(principal, config.accountId);
          const { records, ...result } = await ingester.ingest(body, format, {
            identity: userIdentityOf(principal, account),
            account: { accountId: account, anyAccount: account === config.accountId },
            requestId: req.id,
          });
          req.auditParameters = { format, records, accepted: result.accepted, duplicates: result.duplicates, rejected: result.rejected.length };
          return result;
        });
        done();
      });
    },
  };
}
