/**
 * The source IP of a request: the TCP peer, unless the peer is a configured trusted proxy, in
 * which case the right-most X-Forwarded-For address that is not itself a trusted proxy. A client
 * can put anything in X-Forwarded-For; only proxies we trust get to speak for it.
 */
import { BlockList, isIP } from 'node:net';

export type SourceIpResolver = (peer: string | undefined, forwardedFor: string | string[] | undefined) => string;

function normalise(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

function family(ip: string): 'ipv4' | 'ipv6' {
  return isIP(ip) === 6 ? 'ipv6' : 'ipv4';
}

/** Compiles the trusted-proxy CIDRs into a membership test; throws on an invalid one (fails config load). */
export function trustedPeerCheck(trustedCidrs: readonly string[]): (ip: string) => boolean {
  const trusted = new BlockList();
  for (const cidr of trustedCidrs) {
    const [addr, bits] = cidr.split('/');
    if (!addr || isIP(addr) === 0) throw new Error(`gateway.trustedProxies: '${cidr}' is not an address or CIDR`);
    const fam = family(addr);
    if (bits === undefined) trusted.addAddress(addr, fam);
    else {
      const prefix = Number(bits);
      if (!Number.isInteger(prefix) || prefix < 0 || prefix > (fam === 'ipv4' ? 32 : 128)) {
        throw new Error(`gateway.trustedProxies: '${cidr}' has an invalid prefix length`);
      }
      trusted.addSubnet(addr, prefix, fam);
    }
  }
  return (ipRaw: string) => {
    const ip = normalise(ipRaw);
    return isIP(ip) !== 0 && trusted.check(ip, family(ip));
  };
}

export function sourceIpResolver(trustedCidrs: readonly string[]): SourceIpResolver {
  const isTrusted = trustedPeerCheck(trustedCidrs);
  return (peerRaw, forwardedFor) => {
    const peer = normalise(peerRaw ?? '');
    if (trustedCidrs.length === 0 || !forwardedFor || !isTrusted(peer)) return peer;
    const hops = (Array.isArray(forwardedFor) ? forwardedFor.join(',') : forwardedFor)
      .split(',')
      .map((s) => normalise(s.trim()))
      .filter((s) => s.length > 0);
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i] as string;
      if (isIP(hop) === 0) return peer; // garbage in the header: believe only the peer
      if (!isTrusted(hop)) return hop;
    }
    return hops[0] ?? peer;
  };
}
