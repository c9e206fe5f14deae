/**
 * The gateway benchmark's floor for a proxy written in Node: an `http` server forwarding every
 * request to Flink through an undici keep-alive pool with the gateway's settings, and streaming
 * the answer back — no authentication, no audit, no parsing. What it costs is what any Node
 * proxy pays (Node's HTTP server, undici, the socket writes, GC); FlinkTrail's own work is the
 * difference between its row and this one.
 *
 *   node --import tsx bench/lib/node-proxy.ts <flink origin> [processes]   → prints `{"url": …}` once listening
 *
 * With `processes` > 1 it runs that many processes sharing the listener (`node:cluster`): what
 * spreading a Node proxy over several processes buys on this machine.
 */
import cluster from 'node:cluster';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import { pipeline } from 'node:stream';
import { Pool } from 'undici';

const upstreamArg = process.argv[2];
if (!upstreamArg) throw new Error('usage: node-proxy.ts <flink origin> [processes]');
const upstream: string = upstreamArg;
const processes = Math.max(1, Number(process.argv[3] ?? 1));
if (processes > 1 && cluster.isPrimary) {
  for (let i = 0; i < processes; i++) cluster.fork();
  let printed = false;
  cluster.on('listening', (_worker, addr) => {
    if (printed) return;
    printed = true;
    process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${addr.port}` })}\n`);
  });
  process.on('SIGTERM', () => {
    for (const w of Object.values(cluster.workers ?? {})) w?.kill('SIGTERM');
    process.exit(0);
  });
} else {
  serve();
}

function serve(): void {
  // The same pool as the gateway's (src/sources/gateway/gateway.ts, UPSTREAM_POOL).
  const pool = new Pool(new URL(upstream).origin, { connections: 64, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
  const HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'te', 'trailer', 'host']);

  function forwardable(headers: IncomingHttpHeaders): Record<string, string | string[]> {
    const out: Record<string, string | string[]> = {};
    for (const k in headers) {
      const v = headers[k];
      if (v !== undefined && !HOP.has(k)) out[k] = v;
    }
    return out;
  }

  const server = createServer((req, res) => {
    const hasBody = req.headers['content-length'] !== undefined || req.headers['transfer-encoding'] !== undefined;
    pool.request({ path: req.url ?? '/', method: (req.method ?? 'GET'), headers: forwardable(req.headers), body: hasBody ? req : null }).then(
      (answer) => {
        const headers: Record<string, string | string[]> = {};
        for (const k in answer.headers) {
          const v = answer.headers[k];
          if (v !== undefined && !HOP.has(k)) headers[k] = v;
        }
        res.writeHead(answer.statusCode, headers);
        pipeline(answer.body, res, () => undefined);
      },
      () => {
        res.writeHead(502).end();
      },
    );
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1', () => {
    const addr = server.address();
    if (addr && typeof addr === 'object' && cluster.isPrimary) process.stdout.write(`${JSON.stringify({ url: `http://127.0.0.1:${addr.port}` })}\n`);
  });
  process.on('SIGTERM', () => {
    server.close();
    server.closeAllConnections();
    void pool.close().finally(() => process.exit(0));
  });
}
