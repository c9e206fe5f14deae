/**
 * The local directory destination: the same layout as a bucket, rooted at a directory.
 *
 * `put` writes a temporary file beside the target, fsyncs it, renames it into place and fsyncs
 * the directory, so a crash leaves either the old object or the new one, never half a file;
 * a retried put of the same key replaces it atomically.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { FlinkTrailError } from '../../../errors/index.js';
import type { ObjectStore } from '../types.js';

function safeJoin(root: string, key: string): string {
  // Permanent (undeliverable.ts): no retry makes such a key acceptable.
  if (key.split('/').some((s) => s === '..')) throw new FlinkTrailError('FT_ERR_TRAIL_UNDELIVERABLE', `refusing an object key with '..': ${key.slice(0, 300)}`);
  return join(root, ...key.split('/'));
}

async function fsyncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export class FileObjectStore implements ObjectStore {
  readonly kind = 'file' as const;
  constructor(readonly root: string) {}

  async put(key: string, body: Buffer): Promise<void> {
    const target = safeJoin(this.root, key);
    await mkdir(dirname(target), { recursive: true });
    const tmp = `${target}.${randomBytes(6).toString('hex')}.tmp`;
    const fh = await open(tmp, 'w', 0o640);
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    await fsyncPath(dirname(target));
  }

  async get(key: string): Promise<Buffer | undefined> {
    try {
      return await readFile(safeJoin(this.root, key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return undefined;
      throw err;
    }
  }

  async list(prefix: string): Promise<string[]> {
    // Prefixes used here always end at a directory boundary ("…/2026/11/25/").
    const base = safeJoin(this.root, prefix.replace(/\/+$/, ''));
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      let entries;
      try {
        entries = await readdir(dir, { withFileTypes: true });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
        throw err;
      }
      for (const e of entries) {
        const p = join(dir, e.name);
        if (e.isDirectory()) await walk(p);
        else if (e.isFile() && !e.name.endsWith('.tmp')) out.push(relative(this.root, p).split(sep).join('/'));
      }
    };
    await walk(base);
    return out.sort();
  }

  async listDirs(prefix: string): Promise<string[]> {
    try {
      const entries = await readdir(safeJoin(this.root, prefix.replace(/\/+$/, '')), { withFileTypes: true });
      return entries.filter((e) => e.isDirectory()).map((e) => `${prefix.replace(/\/+$/, '')}/${e.name}/`.replace(/^\//, '')).sort();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
