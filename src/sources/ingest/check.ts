/**
 * The checks every ingested record passes (run in ingest's preparation threads, see prepare.ts).
 *
 * Each record is validated against schema/actiontrail-event.schema.json (compiled once) and
 * must be final (outcome `pending` would stall trail delivery, which waits for outcomes).
 * Empty strings in optional fields (`errorCode: ""`, as many exporters write for absent
 * values) count as absent. Fields that become part of paths, object keys and file names —
 * `acsRegion`, `userIdentity.accountId`, `additionalEventData.cluster` — must follow the one
 * naming rule (event/names.ts), so no record can produce a key a destination refuses.
 */
import { readFileSync } from 'node:fs';
import AjvModule from 'ajv';
import addFormatsModule from 'ajv-formats';
import { FlinkTrailError } from '../../errors/index.js';
import { nameProblem, type NameKind } from '../../event/names.js';
import type { ActionTrailEvent } from '../../event/types.js';
import type { Rejected } from '../../http/body.js';

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

export function invalid(index: number, why: string): Rejected {
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

