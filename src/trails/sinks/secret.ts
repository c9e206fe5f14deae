/**
 * Secrets in destination URLs may be given inline or as a reference, resolved each time a sink
 * connects (so a rotated file or a restarted process's environment takes effect on reconnect):
 *
 *     env:NAME      the environment variable NAME of the FlinkTrail process
 *     file:/path    the file's contents, without a trailing newline
 *
 * References are not secrets themselves, so the redacted form of a URL shows them; inline values
 * show as `******`. Resolution errors name the reference, never a value.
 */
import { readFileSync } from 'node:fs';

export function resolveSecret(value: string): string {
  if (value.startsWith('env:')) {
    const name = value.slice(4);
    const v = process.env[name];
    if (v === undefined || v === '') throw new Error(`The secret reference ${value} is not set in FlinkTrail's environment.`);
    return v;
  }
  if (value.startsWith('file:')) {
    const path = value.slice(5);
    try {
      return readFileSync(path, 'utf8').replace(/\r?\n$/, '');
    } catch (err) {
      throw new Error(`The secret reference ${value} cannot be read: ${(err as NodeJS.ErrnoException).code ?? 'error'}.`);
    }
  }
  return value;
}
