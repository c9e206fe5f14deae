/**
 * AccessKey secrets kept in a form the server can sign with: the one place that stores them.
 *
 * HMAC request signatures (the ActionTrail-compatible RPC endpoint, src/api/actiontrail/) are
 * checked by recomputing them, which needs the secret itself — a salted hash (what Basic auth
 * verifies against) cannot produce an HMAC. Alibaba Cloud keeps AccessKey secrets encrypted
 * server-side for the same reason; so does FlinkTrail: each new key's secret is sealed with
 * AES-256-GCM (the key id as associated data, so a sealed value cannot be moved to another key)
 * in `access_key_signing`, under a 32-byte sealing key in `<dataDir>/access-key-signing.key`
 * (0600, made on first use). A copied database alone does not reveal secrets; the database and
 * that file together do. Keys made before this store existed have only their hash and cannot sign
 * requests (rotate them).
 *
 * `Sealer` is the seam for wrapping: at-rest encryption with a master key outside the data
 * directory replaces `fileSealer` here and nowhere else.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Db } from '../store/sqlite/database.js';

/** Seals and opens small secrets; `context` is bound to the value (associated data). */
export interface Sealer {
  seal(plain: string, context: string): string;
  /** Throws when the value was altered, sealed for another context or with another key. */
  open(sealed: string, context: string): string;
}

const FORMAT = 'v1';

/** AES-256-GCM under a key read from (or first written to) `file`. */
export function fileSealer(file: string): Sealer {
  let key: Buffer | undefined;
  const load = (): Buffer => {
    if (key) return key;
    try {
      writeFileSync(file, randomBytes(32).toString('base64'), { mode: 0o600, flag: 'wx' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    chmodSync(file, 0o600);
    const k = Buffer.from(readFileSync(file, 'utf8').trim(), 'base64');
    if (k.length !== 32) throw new Error(`${file} does not hold a 32-byte base64 key`);
    key = k;
    return k;
  };
  return {
    seal(plain, context) {
      const iv = randomBytes(12);
      const c = createCipheriv('aes-256-gcm', load(), iv).setAAD(Buffer.from(context));
      const ct = Buffer.concat([c.update(plain, 'utf8'), c.final()]);
      return [FORMAT, iv.toString('base64url'), c.getAuthTag().toString('base64url'), ct.toString('base64url')].join('.');
    },
    open(sealed, context) {
      const [format, iv, tag, ct] = sealed.split('.');
      if (format !== FORMAT || !iv || !tag || ct === undefined) throw new Error('not a sealed value of this version');
      const d = createDecipheriv('aes-256-gcm', load(), Buffer.from(iv, 'base64url')).setAAD(Buffer.from(context));
      d.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()]).toString('utf8');
    },
  };
}

export class SigningSecrets {
  private readonly sealer: Sealer;
  private readonly stmts;

  /** `db` must be a file database: the sealing key lives next to it. */
  constructor(db: Db, sealer?: Sealer) {
    this.sealer = sealer ?? fileSealer(join(dirname(db.name), 'access-key-signing.key'));
    this.stmts = {
      put: db.prepare('INSERT OR REPLACE INTO access_key_signing (key_id, sealed) VALUES (?, ?)'),
      get: db.prepare('SELECT sealed FROM access_key_signing WHERE key_id = ?'),
    };
  }

  put(accessKeyId: string, secret: string): void {
    this.stmts.put.run(accessKeyId, this.sealer.seal(secret, accessKeyId));
  }

  /** The plain secret, or undefined for a key without signing material. Throws if it was tampered with. */
  get(accessKeyId: string): string | undefined {
    const row = this.stmts.get.get(accessKeyId) as { sealed: string } | undefined;
    return row && this.sealer.open(row.sealed, accessKeyId);
  }
}
