/**
 * A port that refuses connections for as long as the test holds it — "Flink is down" without a
 * race. Finding a free port and closing it is not enough: the port goes back to the OS, and
 * anything started next (FlinkTrail's own listener on port 0, another suite's server) may get
 * it. Here the port is the local end of an open TCP connection: bound but not listening, so the
 * kernel answers a connection attempt with a reset (ECONNREFUSED), and no server can bind it
 * until `release()`.
 */
import { createServer, connect, type Socket } from 'node:net';
import { register } from './lifecycle.js';

export interface ClosedPort {
  port: number;
  /** e.g. "http://127.0.0.1:40123" */
  url: string;
  release(): Promise<void>;
}

export async function closedPort(): Promise<ClosedPort> {
  const peers: Socket[] = [];
  const server = createServer((s) => peers.push(s.on('error', () => undefined)));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port: serverPort } = server.address() as { port: number };
  const holder = connect(serverPort, '127.0.0.1').on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    holder.once('connect', () => resolve());
    holder.once('error', reject);
  });
  // Nothing more is accepted: the one connection is all this server is for.
  server.close();
  server.unref();
  holder.unref();
  const port = holder.localPort as number;
  const release = register({
    name: `closed port ${port}`,
    stop: async () => {
      holder.destroy();
      for (const p of peers) p.destroy();
    },
  });
  return { port, url: `http://127.0.0.1:${port}`, release };
}
