/**
 * Trust for the TLS destinations (syslog+tls, kafka+ssl, kafka+sasl_ssl, relp+tls): a `ca` file
 * given in the destination URL is trusted *in addition to* Node's default trust store (its bundled
 * Mozilla CA list), never instead of it, so a private CA for one receiver does not stop a
 * public certificate on another from verifying. Server certificates are always verified.
 */
import { readFileSync } from 'node:fs';
import { rootCertificates, type ConnectionOptions } from 'node:tls';

/** Connection options that verify the server (`host`) against the default store plus `caFile`. */
export function trustOptions(host: string, caFile?: string): ConnectionOptions {
  // SNI carries host names only (RFC 6066 §3); an IP address is checked against the SAN list anyway.
  const servername = /^[\d.]+$|:/.test(host) ? '' : host;
  return {
    servername,
    rejectUnauthorized: true,
    ...(caFile ? { ca: [...rootCertificates, readFileSync(caFile, 'utf8')] } : {}),
  };
}
