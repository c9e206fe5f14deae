import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { getPriority } from 'node:os';
import { describe, it } from 'node:test';
import { WorkerThread } from './worker-thread.js';

const FILE = new URL('../../test/fixtures/threads/priority-worker.ts', import.meta.url);
const linux = process.platform === 'linux';

/** This process's threads by nice value (Linux: field 19 of /proc/self/task/<tid>/stat). */
function threadsByNice(): Map<number, number> {
  const out = new Map<number, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    let stat: string;
    try {
      stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
    } catch {
      continue; // the thread ended between the listing and the read
    }
    const nice = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[16]);
    out.set(nice, (out.get(nice) ?? 0) + 1);
  }
  return out;
}

describe('WorkerThread', () => {
  it('passes its data to the thread', async () => {
    const t = new WorkerThread<'priority'>({ file: FILE, name: 'probe', data: { a: [1, 2] }, closedMessage: 'closed' });
    try {
      assert.deepEqual(await t.call('priority'), { priority: getPriority(), data: { a: [1, 2] } });
    } finally {
      await t.stop();
    }
  });

  const skipNice = !linux ? 'per-thread nice values are Linux only' : getPriority() > 12 ? 'this process already runs at a nice value above 12' : false;
  it('runs a thread its nice value below the calling thread without lowering the calling thread or the rest of the process', { skip: skipNice }, async () => {
    const before = getPriority();
    const niceBefore = threadsByNice().get(before + 7) ?? 0;
    const threads = [1, 2].map((i) => new WorkerThread<'priority'>({ file: FILE, name: `probe-${i}`, data: null, nice: 7, closedMessage: 'closed' }));
    try {
      const answers = await Promise.all(threads.map((t) => t.call<{ priority: number }>('priority')));
      assert.deepEqual(
        answers.map((a) => a.priority),
        [before + 7, before + 7],
      );
      assert.equal(getPriority(), before, 'the calling thread keeps its priority');
      // Exactly the two threads run lower: none of the process's shared threads (libuv's pool,
      // V8's platform threads) was started from them and inherited it.
      assert.equal((threadsByNice().get(before + 7) ?? 0) - niceBefore, 2);
    } finally {
      await Promise.all(threads.map((t) => t.stop()));
    }
  });
});
