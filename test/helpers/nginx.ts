/**
 * Integration-test helper: nginx as a reverse proxy (scripts/it/nginx.sh) in front of one or
 * several upstreams — round-robin when several, every response then naming the upstream that
 * served it in `X-Upstream` (host:port) — registered with the lifecycle helper, so it is stopped
 * even when the suite's `before` fails. nginx comes from Debian (scripts/install-test-deps.sh);
 * without it the script says how to install it.
 */
import { join } from 'node:path';
import { register, starting } from './lifecycle.js';
import { itScript } from './servers.js';

/** The response header naming the upstream (host:port) that served a request through several. */
export const UPSTREAM_HEADER = 'x-upstream';

export interface NginxProxy {
  /** http://127.0.0.1:<port> */
  url: string;
  /** The upstreams as given, e.g. ["http://127.0.0.1:41234", …]. */
  upstreams: string[];
  stop(): Promise<void>;
}

export function startNginx(upstreams: string[]): Promise<NginxProxy> {
  return starting(start(upstreams));
}

async function start(upstreams: string[]): Promise<NginxProxy> {
  const info = await itScript<{ url: string; upstreams: string[]; pid: number; runDir: string }>(
    'nginx',
    ['start', ...upstreams.flatMap((u) => ['--upstream', u])],
    60_000,
  );
  const stop = register({
    name: 'nginx',
    stop: () => itScript('nginx', ['stop', '--run-dir', info.runDir]).then(() => undefined),
    groups: [info.pid],
    logs: [join(info.runDir, 'error.log')],
  });
  return { url: info.url, upstreams: info.upstreams, stop };
}
