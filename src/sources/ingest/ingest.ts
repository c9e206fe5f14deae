/**
 * Ingest of ActionTrail records from other tools (CI/CD, platforms, other audit pipelines).
 *
 * Each record is validated against schema/actiontrail-event.schema.json (compiled once) and
 * must be final (outcome `pending` would stall trail delivery, which waits for outcomes).
 * Empty strings in optional fields (`errorCode: ""`, as many exporters write for absent
 * values) count as absent. Fields that become part of paths, object keys and file names —
 * `acsRegion`, `userIdentity.accountId`, `additionalEventData.cluster` — must follow the one
 * naming rule (event/names.ts), so no record can produce a key a destination refuses.
 * Records are idempotent on `eventId`: one already stored, or repeated in the batch, counts as a
 * duplicate and is not stored again (the store's unique event id is the last guard, also across
 * concurrent batches). Valid records are recorded as given — their own eventSource, identity and
 * times — plus `additionalEventData.ingestedBy`: who delivered them, which no record can forge.
 * The recorder redacts them like every event.
 */
import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { Counter } from 'prom-client';
import { FlinkTrailError } from '../../errors/index.js';
import { nameProblem, type NameKind } from '../../event/names.js';
import type { ActionTrailEvent, UserIdentity } from '../../event/types.js';
import type { Recorder } from '../../pipeline/recorder.js';
import type { EventStore } from '../../store/types.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { JsonLine, Rejected } from '../../http/body.js';

const Ajv = AjvModule.default;
const addFormats = addFormatsModule.default;
const schema = JSON.parse(readFileSync(new URL('../../../schema/actiontrail-event.schema.json', import.meta.url), 'utf8')) as object;
const ajv = new Ajv({ allErrors: false, strict: false });
// `fast` formats: plain regular expressions, 3x quicker on 10,000-record batches; eventTime is
// then checked with Date.parse below.
addFormats(ajv, { mode: 'fast', formats: ['uuid', 'date-time'] });
const validateRecord = ajv.compile<ActionTrailEvent>(schema);

interface ObjectSchema {
  required?: string[];
  properties?: Record<string, ObjectSchema>;
}

/** The optional properties of an object schema: where an empty string means "absent". */
function optionalOf(s: ObjectSchema | undefined): Set<string> {
  const required = new Set(s?.required ?? []);
  return new Set(Object.keys(s?.properties ?? {}).filter((k) => !required.has(k)));
}
const root = schema as ObjectSchema;
const OPTIONAL = {
  record: optionalOf(root),
  userIdentity: optionalOf(root.properties?.['userIdentity']),
  additionalEventData: optionalOf(root.properties?.['additionalEventData']),
};

/** Named fields that end up in paths, keys and file names, and the rule each follows. */
const NAMED_FIELDS: readonly { path: readonly string[]; kind: NameKind }[] = [
  { path: ['acsRegion'], kind: 'region' },
  { path: ['userIdentity', 'accountId'], kind: 'accountId' },
  { path: ['additionalEventData', 'cluster'], kind: 'cluster' },
];

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function withoutEmpty(o: Record<string, unknown>, optional: ReadonlySet<string>): Record<string, unknown> {
  let out: Record<string, unknown> | undefined;
  for (const k of Object.keys(o)) {
    if (o[k] === '' && optional.has(k)) {
      out ??= { ...o };
      delete out[k];
    }
  }
  return out ?? o;
}

/** The record with empty strings in optional fields (also of userIdentity and additionalEventData) removed. */
export function dropEmptyOptionals(value: unknown): unknown {
  if (!isObject(value)) return value;
  const r = withoutEmpty(value, OPTIONAL.record);
  const ui = r['userIdentity'];
  const aed = r['additionalEventData'];
  const ui2 = isObject(ui) ? withoutEmpty(ui, OPTIONAL.userIdentity) : ui;
  const aed2 = isObject(aed) ? withoutEmpty(aed, OPTIONAL.additionalEventData) : aed;
  return ui2 === ui && aed2 === aed && r === value ? value : { ...r, ...(ui2 !== undefined ? { userIdentity: ui2 } : {}), ...(aed2 !== undefined ? { additionalEventData: aed2 } : {}) };
}

export interface IngestResult {
  accepted: number;
  duplicates: number;
  rejected: Rejected[];
}

export interface IngestCaller {
  identity: UserIdentity;
  requestId: string;
}

function invalid(index: number, why: string): Rejected {
  const e = new FlinkTrailError('FT_ERR_INGEST_INVALID_EVENT', index, why);
  return { index, code: e.code, message: e.message };
}

/** Checks one record against the schema; returns it, or why not. */
export function checkRecord(input: unknown, index: number): { event: ActionTrailEvent } | { rejected: Rejected } {
  const value = dropEmptyOptionals(input);
  if (!validateRecord(value)) {
    const err = validateRecord.errors?.[0];
    const where = err?.instancePath ? err.instancePath.slice(1).replace(/\//g, '.') : 'record';
    const extra = err?.keyword === 'additionalProperties' ? ` '${String(err.params['additionalProperty'])}'` : '';
    return { rejected: invalid(index, `${where} ${err?.message ?? 'is invalid'}${extra}`.slice(0, 500)) };
  }
  if (value.additionalEventData.outcome === 'pending') {
    return { rejected: invalid(index, 'additionalEventData.outcome must be final (success, failure or unknown), not pending') };
  }
  if (Number.isNaN(Date.parse(value.eventTime))) return { rejected: invalid(index, 'eventTime is not a valid time') };
  for (const f of NAMED_FIELDS) {
    let v: unknown = value;
    for (const k of f.path) v = isObject(v) ? v[k] : undefined;
    if (v === undefined) continue;
    const problem = nameProblem(f.kind, v);
    if (problem) {
      const e = new FlinkTrailError('FT_ERR_INGEST_INVALID_NAME', index, f.path.join('.'), problem);
      return { rejected: { index, code: e.code, message: e.message } };
    }
  }
  return { event: value };
}

/** Records checked per event-loop turn (a few ms of CPU at most). */
const SLICE = 50;

export class Ingester {
  private readonly inFlight = new Set<string>();
  private readonly counter: Counter<'result'>;

  constructor(
    private readonly store: EventStore,
    private readonly recorder: Recorder,
    metrics: Metrics,
  ) {
    this.counter = new Counter({
      name: 'flinktrail_ingest_events_total',
      help: 'Records received by the ingest API, by result (accepted, duplicate, rejected).',
      labelNames: ['result'] as const,
      registers: [metrics.registry],
    });
  }

  async ingest(records: readonly JsonLine[], caller: IngestCaller): Promise<IngestResult> {
    const result: IngestResult = { accepted: 0, duplicates: 0, rejected: [] };
    const mine: string[] = [];
    const writes: Promise<void>[] = [];
    const ingestedBy = {
      principalId: caller.identity.principalId,
      userName: caller.identity.userName,
      // `keyId`, not `accessKeyId`: the redactor hides every key named like access-key.
      ...(caller.identity.accessKeyId ? { keyId: caller.identity.accessKeyId } : {}),
      requestId: caller.requestId,
    };
    try {
      // In slices: checking a record is CPU on the thread that also proxies Flink, so a large
      // batch yields between slices (the duplicate lookup of each slice is one store round trip,
      // answered by a store thread) and the gateway's requests run in between.
      for (let from = 0; from < records.length; from += SLICE) {
        const fresh: ActionTrailEvent[] = [];
        for (const r of records.slice(from, from + SLICE)) {
          if ('error' in r) {
            result.rejected.push(invalid(r.index, r.error));
            continue;
          }
          const checked = checkRecord(r.value, r.index);
          if ('rejected' in checked) result.rejected.push(checked.rejected);
          else fresh.push(checked.event);
        }
        const stored = fresh.length ? await this.store.existing(fresh.map((e) => e.eventId)) : new Set<string>();
        for (const e of fresh) {
          // inFlight is read after the lookup: a concurrent batch (or this one) may have claimed the id.
          if (stored.has(e.eventId) || this.inFlight.has(e.eventId)) {
            result.duplicates++;
            continue;
          }
          this.inFlight.add(e.eventId);
          mine.push(e.eventId);
          writes.push(
            this.recorder.recordOrThrow({
              ...e,
              eventCategory: 'Management',
              additionalEventData: { ...e.additionalEventData, ingestedBy },
            }),
          );
          result.accepted++;
        }
        if (!fresh.length) await new Promise<void>((r) => setImmediate(r));
      }
      await Promise.all(writes);
    } finally {
      for (const id of mine) this.inFlight.delete(id);
    }
    this.counter.inc({ result: 'accepted' }, result.accepted);
    this.counter.inc({ result: 'duplicate' }, result.duplicates);
    this.counter.inc({ result: 'rejected' }, result.rejected.length);
    return result;
  }
}
