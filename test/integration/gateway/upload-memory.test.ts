/**
 * A 200 MB jar upload streams through the gateway: FlinkTrail's peak RSS grows by far less than
 * the upload (measured from /proc of the real child process), and Flink stores every byte.
 */
import assert from 'node:assert/strict';
import { closeSync, createReadStream, ftruncateSync, openSync, readFileSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
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
    cred = await makeKey(join(dir, 'data'));
    child = await startChild(flink.restUrl, join(dir, 'data'));
  });
  after(async () => {
    await child?.stop();
    await flink?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** Streams a sparse file of `size` bytes as a multipart jar upload through the gateway. */
  async function upload(size: number): Promise<{ status: number; body: string; seconds: number }> {
    const file = join(dir, `upload-${size}.jar`);
    const fd = openSync(file, 'w');
    ftruncateSync(fd, size);
    closeSync(fd);
    const boundary = '----flinktrail-test-boundary';
    const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="jarfile"; filename="big.jar"\r\nContent-Type: application/java-archive\r\n\r\n`);
    const tail = Buffer.from(`\r\n--${boundary}--\r\n`);
    const url = new URL(`${child.gatewayUrl}jars/upload`);
    const t0 = Date.now();
    const answer = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(
        url,
        {
          method: 'POST',
          headers: {
            authorization: basic(cred),
            'content-type': `multipart/form-data; boundary=${boundary}`,
            'content-length': head.length + size + tail.length,
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
    rmSync(file);
    const jarId = String((JSON.parse(answer.body) as { filename?: string }).filename ?? '').split('/').pop();
    if (jarId) await fetch(`${flink.restUrl}/jars/${jarId}`, { method: 'DELETE' });
    return { ...answer, seconds: (Date.now() - t0) / 1000 };
  }

  it('uploads 200 MB with flat memory: the peak does not grow with the upload', async () => {
    const pid = child.proc.pid!;
    await fetch(`${child.gatewayUrl}config`, { headers: { authorization: basic(cred) } });
    const before = memKb(pid, 'VmRSS');
    // A small upload first: whatever the upload path costs at all (buffers, GC slack) shows here.
    const small = await upload(SIZE / 10);
    assert.equal(small.status, 200, small.body);
    const peakSmall = memKb(pid, 'VmHWM');
    const big = await upload(SIZE);
    assert.equal(big.status, 200, big.body);
    const peakBig = memKb(pid, 'VmHWM');
    const mb = (kb: number) => (kb / 1024).toFixed(0);
    process.stdout.write(
      `# uploads through FlinkTrail: 20 MB in ${small.seconds.toFixed(1)} s, 200 MB in ${big.seconds.toFixed(1)} s; RSS before ${mb(before)} MB, peak after 20 MB ${mb(peakSmall)} MB, after 200 MB ${mb(peakBig)} MB\n`,
    );
    // Ten times the data may not cost more than a few buffers more at the peak: memory is flat.
    assert.ok(peakBig - peakSmall < 32 * 1024, `the peak grew by ${mb(peakBig - peakSmall)} MB from a 20 MB to a 200 MB upload`);
    assert.ok(peakBig - before < 100 * 1024, `the peak is ${mb(peakBig - before)} MB above the idle RSS`);
    const jars = (await (await fetch(`${flink.restUrl}/jars`)).json()) as { files: { id: string }[] };
    assert.ok(Array.isArray(jars.files), 'Flink answers after both uploads');
  });
});
