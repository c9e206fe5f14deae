/**
 * Load → merge → validate → freeze.
 *
 * Sources, later ones winning: the YAML file, environment variables `FLINKTRAIL__<PATH>` (path
 * segments joined by double underscores, e.g. `FLINKTRAIL__API__PORT=9000`,
 * `FLINKTRAIL__GATEWAY__FAIL_CLOSED=false`), then `overrides` from the command line. Values from
 * the environment and `--set` are parsed as YAML scalars, so `true`, `8470` and `[a, b]` work.
 * Keys counted in a unit of time (marked `unit` in the schema) also take durations such as
 * `60s`, `5m`, `1h` (src/config/duration.ts). All validation problems are reported at once with
 * their key paths.
 */
import { readFileSync } from 'node:fs';
import { Ajv } from 'ajv';
import { parse as parseYaml } from 'yaml';
import { FlinkTrailError } from '../errors/index.js';
import { parseDuration, type DurationUnit } from './duration.js';
import { configSchema, type Config } from './schema.js';

export type { AuditPolicyConfig, AuditRuleConfig, Config, ClusterConfig, ClusterKind } from './schema.js';
export { configSchema } from './schema.js';

const ajv = new Ajv({ allErrors: true, useDefaults: true, strict: false });
const validate = ajv.compile(configSchema);

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function camel(segment: string): string {
  return segment.toLowerCase().replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

/** Sets `obj[a][b][c] = value` for the path `a.b.c`, creating objects on the way. */
export function setPath(obj: Plain, path: readonly string[], value: unknown): void {
  let cur: Plain = obj;
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      cur[key] = value;
      return;
    }
    const next = cur[key];
    if (!isPlain(next)) cur[key] = {};
    cur = cur[key] as Plain;
  });
}

/** Reads `FLINKTRAIL__A__B_C=v` into `{a: {bC: v}}`. */
export function fromEnv(env: NodeJS.ProcessEnv): Plain {
  const out: Plain = {};
  for (const [name, raw] of Object.entries(env)) {
    if (!name.startsWith('FLINKTRAIL__') || raw === undefined) continue;
    const path = name.slice('FLINKTRAIL__'.length).split('__').map(camel);
    setPath(out, path, parseYaml(raw) as unknown);
  }
  return out;
}

function merge(base: Plain, over: Plain): Plain {
  const out: Plain = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const cur = out[k];
    out[k] = isPlain(cur) && isPlain(v) ? merge(cur, v) : v;
  }
  return out;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export interface LoadOptions {
  file?: string;
  env?: NodeJS.ProcessEnv;
  /** Already-structured overrides from flags (`--flink`, `--data-dir`, `--set a.b=c`). */
  overrides?: Plain;
}

/** Builds the frozen config, or throws FT_ERR_CONFIG_INVALID listing every problem. */
export function loadConfig(opts: LoadOptions = {}): Readonly<Config> {
  let fromFile: Plain = {};
  if (opts.file) {
    const parsed: unknown = parseYaml(readFileSync(opts.file, 'utf8'));
    if (parsed !== null && parsed !== undefined && !isPlain(parsed)) {
      throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', `${opts.file} must hold a YAML mapping`);
    }
    fromFile = (parsed as Plain | null) ?? {};
  }
  const merged = merge(merge(fromFile, fromEnv(opts.env ?? {})), opts.overrides ?? {});
  return buildConfig(merged);
}

interface SchemaNode {
  unit?: DurationUnit;
  properties?: Record<string, SchemaNode>;
  items?: SchemaNode;
}

/**
 * Turns duration strings at keys the schema marks with a `unit` into numbers of that unit, in
 * place, before validation (so `minimum`/`maximum` apply to the number). A string that is no
 * duration is reported here and removed, so the schema does not report it a second time.
 */
function convertDurations(node: SchemaNode, value: Plain, path: string, problems: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const v = value[key];
    const where = `${path}${key}`;
    if (child.unit && typeof v === 'string') {
      try {
        value[key] = parseDuration(v, child.unit);
      } catch (err) {
        problems.push(`${where}: ${(err as Error).message}`);
        delete value[key];
      }
    } else if (isPlain(v)) convertDurations(child, v, `${where}.`, problems);
    else if (Array.isArray(v) && child.items) v.forEach((item, i) => isPlain(item) && convertDurations(child.items as SchemaNode, item, `${where}.${i}.`, problems));
  }
}

export function buildConfig(input: Plain): Readonly<Config> {
  const candidate = structuredClone(input);
  const durationProblems: string[] = [];
  convertDurations(configSchema as unknown as SchemaNode, candidate, '', durationProblems);
  if (!validate(candidate) || durationProblems.length) {
    const problems = [...durationProblems, ...(validate.errors ?? []).map((e) => {
      const where = e.instancePath ? e.instancePath.slice(1).replace(/\//g, '.') : '(root)';
      const extra = e.keyword === 'additionalProperties' ? ` '${String(e.params['additionalProperty'])}'` : '';
      return `${where}: ${e.message ?? 'invalid'}${extra}`;
    })];
    throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', problems.join('; '));
  }
  const config = candidate as unknown as Config;
  const names = new Set<string>();
  const problems: string[] = [];
  config.clusters.forEach((c, i) => {
    if (names.has(c.name)) problems.push(`clusters.${i}.name: duplicate cluster name '${c.name}'`);
    names.add(c.name);
  });
  const kafka = config.journal.kafka;
  if (kafka) {
    // Without store.url it is refused when the app starts (app.ts): CLI commands load this file
    // too, some of them without the --store that serve is given.
    if (config.store.spool) problems.push('journal.kafka: not with store.spool (both keep writes flowing while PostgreSQL is gone; use one)');
    if (kafka.sasl && !kafka.tls) problems.push('journal.kafka.sasl: needs journal.kafka.tls (SASL is sent over TLS only)');
  }
  if (problems.length) throw new FlinkTrailError('FT_ERR_CONFIG_INVALID', problems.join('; '));
  return deepFreeze(config);
}
