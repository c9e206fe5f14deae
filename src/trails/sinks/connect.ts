/**
 * Opens the TCP or TLS stream of a stream destination (syslog, RELP) with a connect timeout:
 * resolves once the connection (and the TLS handshake, verified by tls.ts's trust) is up.
 */
import { readFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { trustOptions } from '../../net/trust.js';

export interface StreamTarget {
  /** What error messages call the receiver, e.g. "syslog", "RELP". */
  what: string;
  host: string;
  port: number;
  tls: boolean;
  ca?: string;
  /** Client certificate and key files, for receivers that require one. */
  cert?: string;
  key?: string;
}

export function openStream(t: StreamTarget, timeoutMs: number): Promise<Socket> {
  return new Promise<Socket>((resolve, reject) => {
    const s = t.tls
      ? tlsConnect({
          host: t.host,
          port: t.port,
          ...trustOptions(t.host, t.ca),
          ...(t.cert && t.key ? { cert: readFileSync(t.cert), key: readFileSync(t.key) } : {}),
        })
      : netConnect({ host: t.host, port: t.port });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`Connecting to ${t.what} ${t.host}:${t.port} timed out after ${timeoutMs} ms.`));
    }, timeoutMs);
    s.once(t.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(timer);
      resolve(s);
    });
    s.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}
