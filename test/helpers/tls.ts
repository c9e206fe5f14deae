/**
 * Test helper for TLS listeners: which certificate a fresh connection is served, replacing
 * certificate files as deployment tools do, and waiting for a reload to show.
 */
import { copyFileSync, readFileSync, renameSync } from 'node:fs';
import { connect, type PeerCertificate } from 'node:tls';

/** The certificate a fresh TLS connection to 127.0.0.1:port is served (as `client`, trusting `ca`). */
export function servedCertificate(port: number, ca: string, client?: { cert: string; key: string }): Promise<PeerCertificate> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: '127.0.0.1', port, ca: readFileSync(ca), ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}) }, () => {
      const cert = sock.getPeerCertificate();
      sock.destroy();
      resolve(cert);
    });
    sock.once('error', reject);
  });
}

/** Replaces `to` by `from` the way deployment tools do: write beside, rename over. */
export function replaceFile(from: string, to: string): void {
  copyFileSync(from, `${to}.new`);
  renameSync(`${to}.new`, to);
}

/** Polls `check` every 100 ms until it holds; a hang guard, not a latency assertion. */
export async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
