/**
 * Preparing an ingest batch for the store: the CPU of ingest, done in a preparation thread
 * (prepare-worker.ts) so that it never runs on the thread that proxies Flink.
 *
 * From the raw body to what the store inserts: parse (JSON array or JSON lines), check each
 * record (check.ts), keep it to the accounts the caller may ingest into (a member account's key:
 * its own; the management account's: any) and stamp it with the caller's account when it names
 * none, stamp it with who delivered it (`additionalEventData.ingestedBy`, which no record can
 * forge) and `eventCategory: Management`, apply the audit policy's level (source
 * `ingest`; a record at `None` is left out and counted), redact it as the recorder redacts every
 * event, and serialize the prepared records as one JSON array text. The main thread passes that
 * text through to the store without parsing it. A body that cannot be read at all is a coded
 * error (`failure`), and nothing of it is stored.
 */
import type { ErrorCode } from '../../errors/index.js';
import { FlinkTrailError } from '../../errors/index.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { applyLevel, type AuditPolicy } from '../../pipeline/audit-policy/index.js';
import { redactEvent, type Redactor } from '../../pipeline/redact.js';
import { parseJson, parseJsonLines, type BodyFormat, type JsonLine, type Rejected } from '../../http/body.js';
import { checkRecord, invalid } from './check.js';

/** Who delivered a batch, as recorded in each of its records. */
export interface IngestedBy {
  principalId: string;
  userName: string;
  /** The caller's account (a management account's key may deliver into another account). */
  accountId: string;
  /** `keyId`, not `accessKeyId`: the redactor hides every key named like access-key. */
  keyId?: string;
  requestId: string;
}

/** Which accounts a batch's records may belong to (`recipientAccountId`). */
export interface IngestAccount {
  /** The caller's account: where a record that names none is stored. */
  accountId: string;
  /** The caller is of the management account: its records may name any account. */
  anyAccount: boolean;
}

export interface PrepareRequest {
  body: Uint8Array;
  format: BodyFormat;
  ingestedBy: IngestedBy;
  account: IngestAccount;
  maxEvents: number;
}

/** Prepared records, a JSON array, and each one's eventSource (for metrics). */
export interface PreparedChunk {
  json: string;
  sources: string[];
}

/** Prepared records per chunk: the store inserts one chunk while the next is prepared. */
export const CHUNK = 1000;

export type Prepared =
  | {
      ok: true;
      /** Records in the body. */
      records: number;
      rejected: Rejected[];
      /** Valid records the audit policy leaves out (level None). */
      omitted: number;
      /** The prepared records not yet emitted as chunks, a JSON array. */
      json: string;
      /** Each of their eventSources, in order (for metrics). */
      sources: string[];
    }
  | { ok: false; code: ErrorCode; args: unknown[] };

/** A JSON body's records: an array, or one record on its own. */
function jsonRecords(value: unknown): JsonLine[] {
  if (Array.isArray(value)) return value.map((v: unknown, index) => ({ index, value: v }));
  if (value && typeof value === 'object') return [{ index: 0, value }];
  throw new FlinkTrailError('FT_ERR_INGEST_INVALID_BODY', 'JSON', 'expected an array of records (or one record)');
}

/**
 * Prepares the batch. With `emit`, every CHUNK prepared records are handed over as soon as they
 * are ready (the result then holds only the rest); a body that cannot be read fails before any.
 */
export function prepareBatch(req: PrepareRequest, policy: AuditPolicy, redactor: Redactor, emit?: (chunk: PreparedChunk) => void): Prepared {
  let records: JsonLine[];
  try {
    const body = Buffer.from(req.body.buffer, req.body.byteOffset, req.body.byteLength);
    records = req.format === 'json' ? jsonRecords(parseJson(body)) : parseJsonLines(body);
    if (records.length === 0) throw new FlinkTrailError('FT_ERR_INGEST_INVALID_BODY', 'JSON lines', 'no records');
    if (records.length > req.maxEvents) throw new FlinkTrailError('FT_ERR_INGEST_TOO_MANY_EVENTS', records.length, req.maxEvents);
  } catch (err) {
    if (err instanceof FlinkTrailError) return { ok: false, code: err.code, args: err.args };
    throw err;
  }
  const rejected: Rejected[] = [];
  let kept: ActionTrailEvent[] = [];
  let omitted = 0;
  const chunk = (events: ActionTrailEvent[]): PreparedChunk => ({ json: JSON.stringify(events), sources: events.map((e) => e.eventSource) });
  for (const r of records) {
    if ('error' in r) {
      rejected.push(invalid(r.index, r.error));
      continue;
    }
    const checked = checkRecord(r.value, r.index);
    if ('rejected' in checked) {
      rejected.push(checked.rejected);
      continue;
    }
    const named = checked.event.recipientAccountId;
    if (named !== undefined && named !== req.account.accountId && !req.account.anyAccount) {
      const err = new FlinkTrailError('FT_ERR_INGEST_FOREIGN_ACCOUNT', r.index, named, req.account.accountId);
      rejected.push({ index: r.index, code: err.code, message: err.message });
      continue;
    }
    const e: ActionTrailEvent = {
      ...checked.event,
      recipientAccountId: named ?? req.account.accountId,
      eventCategory: 'Management',
      additionalEventData: { ...checked.event.additionalEventData, ingestedBy: req.ingestedBy },
    };
    const level = policy.levelOf(e);
    if (level === 'None') omitted++;
    else kept.push(redactEvent(redactor, applyLevel(e, level)));
    if (emit && kept.length === CHUNK) {
      emit(chunk(kept));
      kept = [];
    }
  }
  return { ok: true, records: records.length, rejected, omitted, ...chunk(kept) };
}
