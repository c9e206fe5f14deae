/**
 * Integration-test helper: a real rsyslog (Debian) with a TCP and a TLS input, started by
 * scripts/it/rsyslog.sh. `messages(kind)` reads what it received (one raw RFC 5424 message per
 * line).
 */
import { readFileSync } from 'node:fs';
import { register, starting } from './lifecycle.js';
import { itScript } from './servers.js';

export interface RsyslogServer {
  tcp: string;
  tls: string;
  ca: string;
  messages(kind: 'tcp' | 'tls'): string[];
  stop(): Promise<void>;
}

export function startRsyslog(): Promise<RsyslogServer> {
  return starting(start());
}

async function start(): Promise<RsyslogServer> {
  await itScript('rsyslog', ['install'], 300_000);
  const info = await itScript<{ tcp: string; tls: string; ca: string; tcpLog: string; tlsLog: string; runDir: string; pids: number[] }>('rsyslog', ['start'], 120_000);
  const stop = register({
    name: 'rsyslog',
    stop: () => itScript('rsyslog', ['stop', '--run-dir', info.runDir]).then(() => undefined),
    groups: info.pids,
    logs: [`${info.runDir}/tcp.out`, `${info.runDir}/tls.out`],
  });
  return {
    tcp: info.tcp,
    tls: info.tls,
    ca: info.ca,
    messages: (kind) =>
      readFileSync(kind === 'tcp' ? info.tcpLog : info.tlsLog, 'utf8')
        .split('\n')
        .filter((l) => l.length > 0),
    stop,
  };
}
