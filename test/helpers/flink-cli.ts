/**
 * Integration-test helper: the real `flink` CLI (CliFrontend from the Flink jars that
 * scripts/flink/flink.sh fetched) talking to a FlinkTrail TLS listener, with the
 * `security.ssl.rest.*` options and the PKCS12 stores of a test PKI (test/helpers/pki.ts).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPO_ROOT } from './flink.js';
import { tempDir } from './flinktrail.js';
import type { Pki } from './pki.js';

export interface CliResult {
  code: number | null;
  out: string;
  ms: number;
}

/** The Flink jars the cluster runs from (scripts/flink/flink.sh fetch puts them there). */
export async function flinkLib(version: string): Promise<string> {
  const lib = join(process.env['FLINKTRAIL_IT_DIR'] ?? join(REPO_ROOT, '.it'), `flink-${version}`, 'lib');
  if (!existsSync(join(lib, `flink-clients-${version}.jar`))) {
    // An external cluster (FLINKTRAIL_TEST_FLINK_URL) may not have fetched them in this checkout.
    await new Promise<void>((resolve, reject) => {
      const p = spawn('bash', [join(REPO_ROOT, 'scripts/flink/flink.sh'), 'fetch', '--version', version], { stdio: ['ignore', 'ignore', 'inherit'] });
      p.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`flink.sh fetch exited ${String(code)}`))));
    });
  }
  return lib;
}

export interface FlinkCli {
  /** `flink <args> -m 127.0.0.1:<port>` with the SSL options of `client` (no keystore when undefined). */
  run(args: string[], client: string | undefined): Promise<CliResult>;
  /** Removes the CLI's configuration directory. */
  remove(): void;
}

/**
 * A CLI for the TLS listener on `port`. Bounded retries keep a refused call from retrying for
 * minutes; a modern cipher suite keeps this working on Java versions that disable Flink's
 * default TLS_RSA_WITH_AES_128_CBC_SHA.
 */
export function flinkCli(lib: string, pki: Pki, port: () => number): FlinkCli {
  const java = process.env['FLINKTRAIL_JAVA_HOME'] ? join(process.env['FLINKTRAIL_JAVA_HOME'], 'bin', 'java') : 'java';
  const confDir = join(tempDir('ft-flink-conf-'), 'conf');
  mkdirSync(confDir);
  writeFileSync(
    join(confDir, 'config.yaml'),
    ['rest.retry.max-attempts: 0', 'client.timeout: 30 s', 'security.ssl.algorithms: TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384', ''].join('\n'),
  );
  return {
    run(args, client) {
      const ssl: Record<string, string> = {
        'security.ssl.rest.enabled': 'true',
        'security.ssl.rest.truststore': pki.truststore!,
        'security.ssl.rest.truststore-password': pki.password,
      };
      if (client) {
        Object.assign(ssl, {
          'security.ssl.rest.authentication-enabled': 'true',
          'security.ssl.rest.keystore': pki.clients[client]!.keystore!,
          'security.ssl.rest.keystore-password': pki.password,
          'security.ssl.rest.key-password': pki.password,
        });
      }
      const dynamic = Object.entries(ssl).flatMap(([k, v]) => ['-D', `${k}=${v}`]);
      const [command, ...rest] = args;
      const argv = ['-cp', `${lib}/*`, 'org.apache.flink.client.cli.CliFrontend', command!, '-m', `127.0.0.1:${port()}`, ...dynamic, ...rest];
      const t0 = Date.now();
      return new Promise((resolve, reject) => {
        const p = spawn(java, argv, { env: { ...process.env, FLINK_CONF_DIR: confDir }, stdio: ['ignore', 'pipe', 'pipe'] });
        let out = '';
        p.stdout.on('data', (d: Buffer) => (out += d.toString()));
        p.stderr.on('data', (d: Buffer) => (out += d.toString()));
        const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
        p.once('error', reject);
        p.once('exit', (code) => {
          clearTimeout(timer);
          resolve({ code, out, ms: Date.now() - t0 });
        });
      });
    },
    remove: () => rmSync(dirname(confDir), { recursive: true, force: true }),
  };
}
