/**
 * A 200 MB jar upload streams through the gateway: FlinkTrail's peak RSS grows by far less than
 * the upload (measured from /proc of the real child process), and Flink stores every byte.
 */
import assert from 'node:assert/strict';
import { closeSync, openSync, ftruncateSync, createReadStream, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { after, before, describe, it } from 'node:test';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, startChild, tempDir, type ChildServer, type Credentials } from '../../helpers/flinktrail.js';

const SIZE = 200 * 1024 * 1024;

function memKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  const m = new RegExp(`${field}:\\s+(\\d+) kB`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m?.[1]);
}

describe('large uploads stream', { timeout: 240_000 }, () => {
  let flink: FlinkCluster;
  let child: ChildServer;
  let cred: Credentials;
  let dir: string;
  before(async () => {
    flink = await startFlink();
    dir = tempDir();
    cred = makeKey(join(dir, 'data'));
    child = await startChild(flink.restUrl, join(dir, 'data'));
  });
  after(async () => {
    await child?.stop();
    await flink?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('uploads 200 MB with flat memory', async () => {
    const file = join(dir, 'big.jar');
    const fd = openSync(file, 'w');
    ftruncateSync(fd, SIZE);
    closeSync(fd);
    const pid = child.proc.pid!;
    // Warm up the path once so lazy initialisation is not counted as upload cost.
    await fetch(`${child.gatewayUrl}config`, { headers: { authorization: basic(cred) } });
    const before = memKb(pid, 'VmRSS');
    const boundary = '----flinktrail-test-boundary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="jarfile"; filename="big.jar"\r\nContent-Type: application/java-archive\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const url = new URL(`${child.gatewayUrl}jars/upload`);
    const t0 = Date.now();
    const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            authorization: basic(cred),
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': head.length + SIZE + tail.length,
          },
        },
        (res) => {
          let text = '';
          res.on('data', (d: Buffer) => (text += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
        },
      );
      req.on('error', reject);
      req.write(head);
      const src = createReadStream(file, { highWaterMark: 1024 * 1024 });
      src.on('end', () => req.end(tail));
      src.pipe(req, { end: false });
    });
    const seconds = (Date.now() - t0) / 1000;
    assert.equal(status, 200, body);
    const peak = memKb(pid, 'VmHWM');
    const grewMb = (peak - before) / 1024;
    process.stdout.write(`# 200 MB upload through FlinkTrail: ${seconds.toFixed(1)} s, RSS before ${(before / 1024).toFixed(0)} MB, peak ${(peak / 1024).toFixed(0)} MB (+${grewMb.toFixed(0)} MB)\n`);
    assert.ok(grewMb < 64, `peak RSS grew by ${grewMb.toFixed(0)} MB during a 200 MB upload`);
    const jarId = String((JSON.parse(body) as { filename: string }).filename).split('/').pop()!;
    const jars = (await (await fetch(`${flink.restUrl}/jars`)).json()) as { files: { id: string }[] };
    assert.ok(jars.files.some((f) => f.id === jarId), 'Flink stored the upload');
    await fetch(`${flink.restUrl}/jars/${jarId}`, { method: 'DELETE' });
  });
});
