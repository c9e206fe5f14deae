/**
 * Integration-test helper: a real rsyslog (Debian) with a TCP, a TLS and a RELP (plain and TLS)
 * input, started by scripts/it/rsyslog.sh. `messages(kind)` reads what it received (one raw
 * RFC 5424 message per line); `killRelp`/`resumeRelp` crash (SIGKILL) and restart the RELP
 * receiver on the same ports.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { register, starting } from './lifecycle.js';
import { itScript } from './servers.js';

export type RsyslogInput = 'tcp' | 'tls' | 'relp' | 'relpTls';

export interface RsyslogServer {
  tcp: string;
  tls: string;
  relp: string;
  relpTls: string;
  /** The server certificate (self-signed, so also the CA); with `key`, the RELP TLS client certificate. */
  ca: string;
  key: string;
  messages(kind: RsyslogInput): string[];
  killRelp(): Promise<void>;
  resumeRelp(): Promise<void>;
  stop(): Promise<void>;
}

type StartInfo = Record<RsyslogInput | 'ca' | 'runDir', string> & Record<`${RsyslogInput}Log`, string> & { pids: number[] };

export function startRsyslog(): Promise<RsyslogServer> {
  return starting(start());
}

async function start(): Promise<RsyslogServer> {
  await itScript('rsyslog', ['install'], 300_000);
  const info = await itScript<StartInfo>('rsyslog', ['start'], 120_000);
  // tcp, tls, relp receivers' process groups; resumeRelp replaces the last one.
  const groups = [...info.pids];
  const stop = register({
    name: 'rsyslog',
    stop: () => itScript('rsyslog', ['stop', '--run-dir', info.runDir]).then(() => undefined),
    groups,
    logs: ['tcp', 'tls', 'relp'].map((k) => `${info.runDir}/${k}.out`),
  });
  return {
    tcp: info.tcp,
    tls: info.tls,
    relp: info.relp,
    relpTls: info.relpTls,
    ca: info.ca,
    key: join(info.runDir, 'key.pem'),
    messages: (kind) =>
      readFileSync(info[`${kind}Log`], 'utf8')
        .split('\n')
        .filter((l) => l.length > 0),
    killRelp: () => itScript('rsyslog', ['kill-relp', '--run-dir', info.runDir]).then(() => undefined),
    async resumeRelp() {
      const r = await itScript<{ pid: number }>('rsyslog', ['resume-relp', '--run-dir', info.runDir], 60_000);
      groups[2] = r.pid;
    },
    stop,
  };
}
