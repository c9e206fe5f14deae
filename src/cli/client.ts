/**
 * How CLI commands reach a running server: endpoint and AccessKey from flags, else the
 * environment (`FLINKTRAIL_ENDPOINT`, `FLINKTRAIL_ACCESS_KEY_ID`, `FLINKTRAIL_ACCESS_KEY_SECRET`),
 * else a profile in `~/.flinktrail/profiles.yaml` (or `$FLINKTRAIL_PROFILES`):
 *
 *     default:
 *       endpoint: http://127.0.0.1:8470
 *       accessKeyId: FTAK...
 *       accessKeySecret: ...
 */
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { parse as parseYaml } from 'yaml';
import { FlinkTrailError } from '../errors/index.js';

export interface ClientOptions {
  endpoint?: string;
  accessKeyId?: string;
  accessKeySecret?: string;
  profile?: string;
}

export interface Client {
  endpoint: string;
  get(path: string, query?: URLSearchParams): Promise<unknown>;
  post(path: string, body?: unknown): Promise<unknown>;
  patch(path: string, body?: unknown): Promise<unknown>;
  put(path: string, body?: unknown): Promise<unknown>;
  delete(path: string): Promise<unknown>;
}

export function resolveClient(opts: ClientOptions, env: NodeJS.ProcessEnv = process.env): Client {
  let profile: Partial<Record<'endpoint' | 'accessKeyId' | 'accessKeySecret', string>> = {};
  const file = env['FLINKTRAIL_PROFILES'] ?? join(homedir(), '.flinktrail', 'profiles.yaml');
  const name = opts.profile ?? env['FLINKTRAIL_PROFILE'] ?? 'default';
  if (existsSync(file)) {
    const all = (parseYaml(readFileSync(file, 'utf8')) ?? {}) as Record<string, typeof profile>;
    profile = all[name] ?? {};
  } else if (opts.profile) {
    throw new FlinkTrailError('FT_ERR_CLI_NO_ENDPOINT');
  }
  const endpoint = opts.endpoint ?? env['FLINKTRAIL_ENDPOINT'] ?? profile.endpoint;
  const id = opts.accessKeyId ?? env['FLINKTRAIL_ACCESS_KEY_ID'] ?? profile.accessKeyId;
  const secret = opts.accessKeySecret ?? env['FLINKTRAIL_ACCESS_KEY_SECRET'] ?? profile.accessKeySecret;
  if (!endpoint) throw new FlinkTrailError('FT_ERR_CLI_NO_ENDPOINT');
  const auth = id && secret ? `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}` : undefined;
  const base = endpoint.replace(/\/+$/, '');
  const send = async (method: string, path: string, query?: URLSearchParams, payload?: unknown): Promise<unknown> => {
    const res = await fetch(`${base}${path}${query && [...query.keys()].length ? `?${query.toString()}` : ''}`, {
      method,
      headers: {
        accept: 'application/json',
        'user-agent': 'flinktrail-cli',
        ...(auth ? { authorization: auth } : {}),
        ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(payload !== undefined ? { body: JSON.stringify(payload) } : {}),
    });
    const body = (await res.json().catch(() => ({}))) as Record<string, unknown>;
    if (!res.ok) {
      const code = typeof body['Code'] === 'string' ? body['Code'] : String(res.status);
      const message = typeof body['Message'] === 'string' ? body['Message'] : res.statusText;
      const err = new Error(`${code}: ${message}`);
      (err as Error & { exitCode?: number }).exitCode = res.status === 401 ? 3 : 2;
      throw err;
    }
    return body;
  };
  return {
    endpoint: base,
    get: (path, query) => send('GET', path, query),
    post: (path, body) => send('POST', path, undefined, body),
    patch: (path, body) => send('PATCH', path, undefined, body),
    put: (path, body) => send('PUT', path, undefined, body),
    delete: (path) => send('DELETE', path),
  };
}

/** The flags of every command that talks to a running server. */
export interface ClientFlags {
  endpoint?: string;
  keyId?: string;
  keySecret?: string;
  profile?: string;
}

/** Adds the endpoint and credential flags to a command. */
export function withClient(cmd: Command): Command {
  return cmd
    .option('--endpoint <url>', 'FlinkTrail API (or FLINKTRAIL_ENDPOINT)')
    .option('--key-id <id>', 'your AccessKey ID (or FLINKTRAIL_ACCESS_KEY_ID)')
    .option('--key-secret <secret>', 'your AccessKey secret (or FLINKTRAIL_ACCESS_KEY_SECRET)')
    .option('--profile <name>', 'profile in ~/.flinktrail/profiles.yaml');
}

/** The client for a command's flags (then the environment, then the profile). */
export function client(o: ClientFlags): Client {
  return resolveClient({
    ...(o.endpoint ? { endpoint: o.endpoint } : {}),
    ...(o.keyId ? { accessKeyId: o.keyId } : {}),
    ...(o.keySecret ? { accessKeySecret: o.keySecret } : {}),
    ...(o.profile ? { profile: o.profile } : {}),
  });
}
