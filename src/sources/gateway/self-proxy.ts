/**
 * A cluster URL that leads back to one of FlinkTrail's own listeners would make the gateway
 * proxy to itself: every request would loop (and be recorded at each turn) until sockets run
 * out. Ports may be 0 in the configuration, so this is checked once the listeners are bound,
 * against the ports they got: a cluster URL whose host resolves to a listener's address (or to
 * any local address, for a listener on 0.0.0.0 / ::) and whose port is that listener's port.
 */
import { lookup } from 'node:dns/promises';
import { networkInterfaces } from 'node:os';

export interface Listener {
  host: string;
  port: number;
}

export interface SelfProxy {
  cluster: string;
  url: string;
  listener: Listener;
}

const UNSPECIFIED = new Set(['0.0.0.0', '::', '']);

function isLocal(address: string): boolean {
  if (address === '::1' || address.startsWith('127.') || address.startsWith('::ffff:127.')) return true;
  return Object.values(networkInterfaces()).some((ifs) => (ifs ?? []).some((i) => i.address === address));
}

async function addressesOf(host: string): Promise<string[]> {
  const bare = host.replace(/^\[|\]$/g, '');
  try {
    return (await lookup(bare, { all: true })).map((a) => a.address);
  } catch {
    return []; // a name that does not resolve is not us (the gateway answers 502 for it)
  }
}

/** The clusters whose URL reaches one of `listeners`; empty when none does. */
export async function selfProxies(clusters: readonly { name: string; url: string }[], listeners: readonly Listener[]): Promise<SelfProxy[]> {
  const found: SelfProxy[] = [];
  for (const c of clusters) {
    const url = new URL(c.url);
    const port = Number(url.port || (url.protocol === 'https:' ? 443 : 80));
    const candidates = listeners.filter((l) => l.port === port);
    if (candidates.length === 0) continue;
    const addresses = await addressesOf(url.hostname);
    const hit = candidates.find((l) => addresses.some((a) => (UNSPECIFIED.has(l.host) ? isLocal(a) : a === l.host || a === `::ffff:${l.host}`)));
    if (hit) found.push({ cluster: c.name, url: c.url, listener: hit });
  }
  return found;
}
