/**
 * validate-logs against a real delivery (directory destination, digests every second, a key
 * rotation in the middle): passes untouched, and for each tampering case — one byte edited, a
 * file deleted, a file added, two consecutive digests deleted, a digest re-signed with a
 * foreign key, a forged signature — names exactly the file, online (keys from the API) and
 * offline (a copy plus the public keys file).
 */
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { cpSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { after, before, describe, it } from 'node:test';
import { readDigest, writeDigest } from '../../../src/trails/digest/format.js';
import { fingerprintOf, type PublicKeyInfo } from '../../../src/trails/digest/keys.js';
import { FileObjectStore } from '../../../src/trails/sinks/index.js';
import { validateLogs, type ValidationReport } from '../../../src/trails/validate-logs/index.js';
import { tempDir } from '../../helpers/flinktrail.js';
import { cli, sleep, startTrailApp, until, type TrailApp } from './common.js';

function filesUnder(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(join(root, rel), { withFileTypes: true })) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...filesUnder(root, p));
    else out.push(p);
  }
  return out.sort();
}

describe('validate-logs', () => {
  let t: TrailApp;
  let live: string;
  let baseline: string;
  let keysFile: string;
  let serverKeys: PublicKeyInfo[];
  let start: number;
  const env = () => ({ FLINKTRAIL_ENDPOINT: t.info.apiUrl, FLINKTRAIL_ACCESS_KEY_ID: t.cred.accessKeyId, FLINKTRAIL_ACCESS_KEY_SECRET: t.cred.accessKeySecret });

  before(async () => {
    t = await startTrailApp();
    live = tempDir('ft-live-');
    start = Date.now() - 60_000;
    const c = await t.call('POST', '/api/v1/trails', { Name: 'integrity-trail', EventRW: 'All', Destinations: [`file://${live}`], DigestInterval: 1 });
    assert.equal(c.status, 200, JSON.stringify(c.body));
    await t.call('POST', '/api/v1/trails/integrity-trail/start');
    const traffic = async (ms: number) => {
      const end = Date.now() + ms;
      while (Date.now() < end) {
        await t.call('GET', '/api/v1/whoami');
        await sleep(60);
      }
    };
    await traffic(2500);
    assert.equal((await t.call('POST', '/api/v1/trail-digest-keys/rotate')).status, 200);
    await traffic(2500);
    await t.call('POST', '/api/v1/trails/integrity-trail/stop');
    const stoppedAt = Date.now();
    // Wait until the last file (events of before the stop may still be cut a window later) is
    // listed in a digest; after that the chain rests while logging is off.
    await until('every file covered by a digest', async () => {
      if (Date.now() < stoppedAt + 2500) return undefined;
      const q = async (sql: string) => (await t.trailRows<{ v: number | null }>(sql))[0]?.v ?? 0;
      const lastCut = await q('SELECT MAX(cut_at) AS v FROM trail_files');
      const lastEnd = await q('SELECT MAX(last_end) AS v FROM trail_digest_chains');
      const planned = await q('SELECT COUNT(*) AS v FROM trail_cursors WHERE plan_from IS NOT NULL');
      return planned === 0 && lastCut < lastEnd ? true : undefined;
    });
    baseline = tempDir('ft-copy-');
    cpSync(live, baseline, { recursive: true });
    const k = await cli(['trails', 'public-keys', 'integrity-trail'], env());
    assert.equal(k.code, 0, k.stderr);
    keysFile = join(tempDir('ft-keys-'), 'keys.json');
    writeFileSync(keysFile, k.stdout);
    serverKeys = (JSON.parse(k.stdout) as { PublicKeyList: PublicKeyInfo[] }).PublicKeyList;
  });
  after(async () => {
    await t?.close();
  });

  const copy = () => {
    const dir = tempDir('ft-tamper-');
    cpSync(baseline, dir, { recursive: true });
    return dir;
  };
  const logFiles = (dir: string) => filesUnder(dir).filter((f) => f.includes('/Actiontrail/'));
  const digests = (dir: string) => filesUnder(dir).filter((f) => f.includes('/Actiontrail-Digest/'));
  const validate = (dir: string, keys: PublicKeyInfo[]) =>
    validateLogs({ reader: new FileObjectStore(dir), trail: 'integrity-trail', publicKeys: keys, start, end: Date.now() });
  /** Online (keys from the server) and offline (keys file) must agree. */
  const both = async (dir: string): Promise<ValidationReport> => {
    const online = await validate(dir, serverKeys);
    const offline = await validate(dir, (JSON.parse(readFileSync(keysFile, 'utf8')) as { PublicKeyList: PublicKeyInfo[] }).PublicKeyList);
    assert.deepEqual(offline.findings, online.findings);
    return online;
  };
  const errors = (r: ValidationReport): [string, string][] => r.findings.filter((f) => f.severity === 'error').map((f) => [f.kind, f.object]);

  it('passes untouched, across a key rotation, online and offline (CLI)', async () => {
    const fingerprints = new Set(digests(baseline).map((d) => readDigest(readFileSync(join(baseline, d))).body.publicKeyFingerprint));
    assert.equal(fingerprints.size, 2, 'digests before and after the rotation');
    assert.ok(digests(baseline).length >= 5, `digests: ${digests(baseline).length}`);
    const startIso = new Date(start).toISOString();
    const online = await cli(['validate-logs', '--trail', 'integrity-trail', '--start-time', startIso, '--destination', `file://${baseline}`], env());
    const offline = await cli(['validate-logs', '--trail', 'integrity-trail', '--start-time', startIso, '--local-dir', baseline, '--public-keys', keysFile, '--verbose']);
    for (const r of [online, offline]) {
      assert.equal(r.code, 0, r.stdout + r.stderr);
      const d = /(\d+)\/(\d+) digest files valid/.exec(r.stdout);
      const f = /(\d+)\/(\d+) log files valid/.exec(r.stdout);
      assert.ok(d && f, r.stdout);
      assert.equal(d[1], d[2]);
      assert.equal(f[1], f[2]);
      assert.equal(Number(d[2]), digests(baseline).length);
      assert.equal(Number(f[2]), logFiles(baseline).length);
    }
    assert.match(offline.stdout, /Log file AliyunLogs\/Actiontrail\/local\/.*\tvalid/);
    // The live directory, read through the trail's own destination (online, no --destination).
    const viaTrail = await cli(['validate-logs', '--trail', 'integrity-trail', '--start-time', startIso, '--output', 'json'], env());
    assert.equal(viaTrail.code, 0, viaTrail.stdout + viaTrail.stderr);
    assert.equal((JSON.parse(viaTrail.stdout) as ValidationReport).ok, true);
  });

  it('names a log file with one byte edited (CLI, online and offline)', async () => {
    const dir = copy();
    const victim = logFiles(dir)[1]!;
    const bytes = readFileSync(join(dir, victim));
    const at = Math.floor(bytes.length / 2);
    bytes[at] = bytes[at]! ^ 0x01;
    writeFileSync(join(dir, victim), bytes);
    const startIso = new Date(start).toISOString();
    const online = await cli(['validate-logs', '--trail', 'integrity-trail', '--start-time', startIso, '--destination', `file://${dir}`, '--output', 'json'], env());
    const offline = await cli(['validate-logs', '--trail', 'integrity-trail', '--start-time', startIso, '--local-dir', dir, '--public-keys', keysFile]);
    assert.equal(online.code, 4);
    assert.equal(offline.code, 4);
    assert.deepEqual(errors(JSON.parse(online.stdout) as ValidationReport), [['file-modified', victim]]);
    assert.match(offline.stdout, new RegExp(`INVALID file-modified: ${victim.replace(/[.]/g, '\\.')}`));
    assert.match(offline.stdout, /\d+\/\d+ log files valid/);
  });

  it('names a deleted log file', async () => {
    const dir = copy();
    const victim = logFiles(dir)[2]!;
    rmSync(join(dir, victim));
    assert.deepEqual(errors(await both(dir)), [['file-deleted', victim]]);
  });

  it('names an added log file', async () => {
    const dir = copy();
    const model = logFiles(dir)[1]!;
    const events = JSON.parse(gunzipSync(readFileSync(join(dir, model))).toString()) as unknown[];
    const forged = gzipSync(Buffer.from(JSON.stringify(events.slice(0, 1))));
    const added = model.replace(/_1002_\d+_\d+_[0-9a-f]{32}\.gz$/, `_1002_1_${forged.length}_${'ab'.repeat(16)}.gz`);
    writeFileSync(join(dir, added), forged);
    assert.deepEqual(errors(await both(dir)), [['file-added', added]]);
  });

  it('names both of two consecutive digests deleted', async () => {
    const dir = copy();
    const list = digests(dir);
    const [first, second] = [list[1]!, list[2]!];
    rmSync(join(dir, first));
    rmSync(join(dir, second));
    const found = errors(await both(dir));
    assert.deepEqual(
      found.filter(([k]) => k.startsWith('digest-')).sort(),
      [
        ['digest-deleted', second],
        ['digest-missing', first],
      ].sort(),
    );
    // The log files those digests listed can no longer be proven: reported as not covered.
    assert.ok(found.filter(([k]) => k.startsWith('file-')).every(([k]) => k === 'file-not-covered'), 'found.filter(([k]) => k.startsWith("file-")).every(([k]) => k === "file-not-covered")');
  });

  it('names a digest re-signed with a foreign key, and one with a forged signature', async () => {
    const dir = copy();
    const list = digests(dir);
    const victim = list[2]!;
    const d = readDigest(readFileSync(join(dir, victim)));
    const foreign = generateKeyPairSync('ed25519');
    const body = { ...d.body, logFiles: d.body.logFiles.slice(1), publicKeyFingerprint: fingerprintOf(foreign.publicKey) };
    writeFileSync(join(dir, victim), writeDigest(body, foreign.privateKey).bytes);
    const found = errors(await both(dir));
    assert.ok(found.length > 0, 'found.length > 0');
    assert.ok(found.every(([, object]) => object === victim || !object.includes('Actiontrail-Digest')), JSON.stringify(found));
    assert.deepEqual(
      found.filter(([, o]) => o === victim).map(([k]) => k).sort(),
      ['digest-chain-broken', 'digest-unknown-key'],
    );

    const dir2 = copy();
    const victim2 = digests(dir2)[3]!;
    const d2 = readDigest(readFileSync(join(dir2, victim2)));
    // Keeps the real fingerprint but signs with another key: the signature check names it.
    writeFileSync(join(dir2, victim2), writeDigest({ ...d2.body, logFiles: [] }, foreign.privateKey).bytes);
    const found2 = errors(await both(dir2));
    assert.deepEqual(found2.filter(([, o]) => o === victim2).map(([k]) => k).sort(), ['digest-chain-broken', 'digest-signature-invalid']);
  });
});
