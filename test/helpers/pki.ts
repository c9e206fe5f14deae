/**
 * Test helper: a throwaway PKI made by scripts/it/pki.sh (openssl + keytool) in a temp directory —
 * CA, server certificate for 127.0.0.1, client certificates and their PKCS12 stores for Java
 * clients like the flink CLI. `remove()` deletes it.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// No imports of the app or the Flink helper: unit tests use this too.
const execFileAsync = promisify(execFile);
const SCRIPT = fileURLToPath(new URL('../../scripts/it/pki.sh', import.meta.url));

export interface ClientFiles {
  cert: string;
  key: string;
  /** PKCS12 keystore (alias = client name); null when made with `java: false`. */
  keystore: string | null;
  /** "AB:CD:…" as `openssl x509 -fingerprint -sha256` prints it (and Node's fingerprint256). */
  fingerprint256: string;
  /** RFC 4514, e.g. "emailAddress=alice@example.test,CN=alice,O=FlinkTrail Test". */
  subject: string;
}

export interface Pki {
  dir: string;
  ca: string;
  /** The CA's revocation list (PEM), listing the `revokedClients` (and those revoked later). */
  crl: string;
  /** Further server certificates (`servers`), same CA and SAN as serverCert. */
  servers: Record<string, { cert: string; key: string; fingerprint256: string }>;
  serverCert: string;
  serverKey: string;
  /** PKCS12 truststore holding the CA; null when made with `java: false`. */
  truststore: string | null;
  password: string;
  clients: Record<string, ClientFiles>;
  /** Adds a client's certificate to `crl` (the file is replaced by rename). */
  revoke(client: string): Promise<void>;
  remove(): void;
}

export interface PkiOptions {
  /** Clients signed by the CA (CN=<name>, emailAddress=<name>@example.test). */
  clients?: string[];
  /** Clients signed by an unrelated CA. */
  foreignClients?: string[];
  /** Clients signed by the CA, valid only on 2020-01-01. */
  expiredClients?: string[];
  /** Clients signed by the CA and listed in its CRL. */
  revokedClients?: string[];
  /** Further server certificates to make (for rotation tests). */
  servers?: string[];
  /** Make the Java stores (needs keytool). Default true. */
  java?: boolean;
  password?: string;
  /** `ec` (P-256) is much faster to make; `rsa` (default) fits Flink's default cipher suite. */
  key?: 'rsa' | 'ec';
}

async function run(args: string[]): Promise<string> {
  try {
    const { stdout } = await execFileAsync('bash', [SCRIPT, ...args], { timeout: 120_000, maxBuffer: 4 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`pki.sh ${args[0] ?? ''} failed: ${e.message}\n${e.stderr ?? ''}`);
  }
}

export async function makePki(opts: PkiOptions = {}): Promise<Pki> {
  await run(['install']);
  const dir = mkdtempSync(join(tmpdir(), 'ft-pki-'));
  const args = ['make', '--out', dir];
  for (const n of opts.clients ?? []) args.push('--client', n);
  for (const n of opts.foreignClients ?? []) args.push('--foreign-client', n);
  for (const n of opts.expiredClients ?? []) args.push('--expired-client', n);
  for (const n of opts.revokedClients ?? []) args.push('--revoked-client', n);
  for (const n of opts.servers ?? []) args.push('--server', n);
  if (opts.java === false) args.push('--no-java');
  if (opts.password) args.push('--password', opts.password);
  if (opts.key) args.push('--key', opts.key);
  const line = (await run(args)).trim().split('\n').pop() ?? '';
  const out = JSON.parse(line) as Omit<Pki, 'remove' | 'revoke'>;
  return {
    ...out,
    revoke: async (client) => {
      await run(['revoke', '--out', dir, '--client', client]);
    },
    remove: () => rmSync(dir, { recursive: true, force: true }),
  };
}
