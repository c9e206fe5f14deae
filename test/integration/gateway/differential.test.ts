/**
 * Differential test against a real Flink cluster, the bounded CI sample: the known attacks and
 * one variant of each kind (test/helpers/differential/variants.ts, `sample`), sent through
 * FlinkTrail by an allowed user and by denied users. Each must be refused by FlinkTrail itself or
 * recorded as what Flink did (read from Flink's own state), and a denied user must never change
 * Flink's state. The full set runs with `npm run bench -- differential`.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { startInProcess, tempDir, type InProcess } from '../../helpers/flinktrail.js';
import { createHarness, createHarnessUsers, summaryLines, type Counts, type Harness } from '../../helpers/differential/harness.js';
import { writeRows } from '../../helpers/differential/variants.js';

describe('differential: FlinkTrail reads write requests as Flink does', { timeout: 900_000 }, () => {
  let flink: FlinkCluster | undefined;
  let ft: InProcess | undefined;
  let harness: Harness | undefined;
  let counts: Counts;

  before(async () => {
    flink = await startFlink();
    const dataDir = tempDir();
    const creds = await createHarnessUsers(dataDir);
    ft = await startInProcess(flink.restUrl, {}, dataDir);
    harness = createHarness(
      { flinkUrl: flink.restUrl, gatewayUrl: ft.info.clusters['default']?.gatewayUrl as string, apiUrl: ft.info.apiUrl, dataDir, jobJar: flink.jobJar, sample: true },
      creds,
    );
    try {
      counts = await harness.run();
    } finally {
      process.stdout.write(summaryLines(harness.counts).map((l) => `# ${l}\n`).join(''));
    }
  });
  after(async () => {
    await harness?.cleanup();
    await ft?.close();
    await flink?.stop();
  });

  it('covers every write row of the catalog, each with a sampled variant', () => {
    const rows = writeRows();
    assert.ok(rows.length >= 20, 'the dispatcher catalog has its write rows');
    const variants = harness?.variants ?? [];
    for (const { row } of rows) {
      assert.ok(variants.some((v) => v.row === row && v.sample), `${row.method} ${row.template} has a sampled variant`);
    }
    assert.ok((harness?.allowedVariants.length ?? 0) > 0);
  });

  it('builds upload variants with the demo jar (set after the variants are generated)', async () => {
    const jar = await readFile(flink?.jobJar as string);
    const uploads = (harness?.allowedVariants ?? []).filter((v) => v.target === 'upload');
    assert.ok(uploads.length >= 5, 'the upload variants are in the sample');
    for (const v of uploads) {
      const body = v.build({ job: '0'.repeat(32), jar: '', taskmanager: '', runName: '' }).body ?? Buffer.alloc(0);
      assert.ok(body.includes(jar), `${v.name} carries the jar's bytes`);
    }
  });

  it('sent every sampled variant, and some were forwarded and some refused', () => {
    assert.equal(counts.tried, harness?.allowedVariants.length);
    assert.ok(counts.matched > 0, 'some variants reached Flink and were recorded');
    assert.ok(counts.denied.refused > 0, 'denied users were refused');
  });

  it('records what Flink did, or refuses: no mismatch', () => {
    assert.deepEqual(counts.mismatches, []);
  });

  it('never lets a denied user change Flink', () => {
    assert.deepEqual(counts.denied.stateChanges, []);
  });
});
