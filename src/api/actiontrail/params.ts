/**
 * RPC parameters: the query string and a form body merged into one name → value map, with the
 * accessors actions validate through. Everything is a string on the wire; lists arrive
 * flattened 1-based (`LookupAttribute.1.Key`, `Destinations.2`), as pop-core and
 * OpenApiUtil.query send them. A parameter given twice, an unknown one, a malformed list name,
 * a gap in a list's numbering or too many entries is a coded InvalidParameter, never ignored:
 * a typo must not widen a query.
 */
import { FlinkTrailError } from '../../errors/index.js';
import type { Pair } from './signature.js';

/** The parameters of the request envelope (signature, format), not of any action. */
export const COMMON_PARAMETERS = new Set([
  'Action',
  'Version',
  'Format',
  'AccessKeyId',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'SignatureType',
  'Timestamp',
  'Signature',
  'SecurityToken',
  'RegionId',
]);

const invalid = (name: string, why: string) => new FlinkTrailError('FT_ERR_RPC_INVALID_PARAMETER', name.slice(0, 80), why);
const missing = (name: string) => new FlinkTrailError('FT_ERR_RPC_MISSING_PARAMETER', name.slice(0, 80));

export class RpcParams {
  private readonly map = new Map<string, string>();

  constructor(pairs: Iterable<Pair>) {
    for (const [k, v] of pairs) {
      if (this.map.has(k)) throw invalid(k, 'given more than once (in the query and the body, or twice)');
      if (k.length > 128 || v.length > 8192) throw invalid(k, 'name longer than 128 or value longer than 8192 characters');
      this.map.set(k, v);
    }
  }

  get(name: string): string | undefined {
    return this.map.get(name);
  }

  required(name: string): string {
    const v = this.map.get(name);
    if (v === undefined || v === '') throw missing(name);
    return v;
  }

  /** The action's own parameters (the envelope left out), for validation and the record. */
  apiParameters(): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [k, v] of this.map) if (!COMMON_PARAMETERS.has(k)) out[k] = v;
    return out;
  }

  /** Refuses parameters the action does not take; `lists` are prefixes of flattened lists. */
  onlyKnown(known: readonly string[], lists: readonly string[] = []): void {
    for (const k of this.map.keys()) {
      if (COMMON_PARAMETERS.has(k) || known.includes(k) || lists.some((l) => k.startsWith(`${l}.`))) continue;
      const accepted = [...known, ...lists.map((l) => `${l}.N`)];
      throw invalid(k, `not a parameter of this action; it takes ${accepted.length ? accepted.join(', ') : 'none'}`);
    }
  }

  /** `true`/`false` (any case), or `fallback` when absent. */
  bool(name: string, fallback: boolean): boolean {
    const v = this.map.get(name);
    if (v === undefined || v === '') return fallback;
    if (/^true$/i.test(v)) return true;
    if (/^false$/i.test(v)) return false;
    throw invalid(name, 'must be true or false');
  }

  /** A whole number in [min, max], or `fallback` when absent. */
  int(name: string, min: number, max: number, fallback: number): number {
    const v = this.map.get(name);
    if (v === undefined || v === '') return fallback;
    if (!/^\d{1,9}$/.test(v) || Number(v) < min || Number(v) > max) throw invalid(name, `must be a whole number from ${min} to ${max}`);
    return Number(v);
  }

  /**
   * A flattened list `Prefix.1[.Field]`, `Prefix.2[.Field]`, … — `fields` empty for a list of
   * plain values. Numbering starts at 1 without gaps; at most `max` entries; every entry needs
   * every field.
   */
  list(prefix: string, fields: readonly string[], max: number): Record<string, string>[] {
    const shape = fields.length ? `${prefix}.N.${fields.join('|')}` : `${prefix}.N`;
    const pattern = new RegExp(`^${prefix}\\.([1-9][0-9]{0,3})${fields.length ? `\\.(${fields.join('|')})` : ''}$`);
    const entries = new Map<number, Record<string, string>>();
    for (const [k, v] of this.map) {
      if (!k.startsWith(`${prefix}.`)) continue;
      const m = pattern.exec(k);
      if (!m) throw invalid(k, `a list item is named ${shape}, N = 1, 2, 3, ...`);
      const n = Number(m[1]);
      const entry = entries.get(n) ?? {};
      entry[m[2] ?? ''] = v;
      entries.set(n, entry);
    }
    if (entries.size > max) throw invalid(prefix, `at most ${max} entries (got ${entries.size})`);
    const out: Record<string, string>[] = [];
    for (let n = 1; n <= entries.size; n++) {
      const entry = entries.get(n);
      if (!entry) throw invalid(`${prefix}.${n}`, `the list has a gap: number the entries 1 to ${entries.size} without skipping`);
      for (const f of fields.length ? fields : ['']) if (entry[f] === undefined) throw missing(f ? `${prefix}.${n}.${f}` : `${prefix}.${n}`);
      out.push(entry);
    }
    return out;
  }
}
