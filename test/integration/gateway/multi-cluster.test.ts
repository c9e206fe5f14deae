/**
 * One FlinkTrail in front of several clusters from a YAML config: each reachable on its own
 * port and under /flink/<name>/, events tagged with the cluster and its region; an invalid
 * config is refused at start with every problem listed.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startFlink, type FlinkCluster } from '../../helpers/flink.js';
import { basic, makeKey, REPO, startChild, tempDir, waitForEvents, type ChildServer, type Credentials } from '../../helpers/flinktrail.js';

const exec = promisify(execFile);

describe('several clusters from a config file', { timeout: 120_000 }, () => {
  let flink: FlinkCluster;
  let child: ChildServer;
  let cred: Credentials;
  let prodUrl: string;

  before(async () => {
    flink = await startFlink();
    const dir = tempDir();
    cred = await makeKey(join(dir, 'data'));
    const file = join(dir, 'flinktrail.yaml');
    writeFileSync(
      file,
      [
        `dataDir: ${join(dir, 'data')}`,
        'region: us-east-2',
        'clusters:',
        '  - name: prod',
        `    url: ${flink.restUrl}`,
        '    region: eu-central-1',
        '    listen: { port: 0 }',
        '  - name: staging',
        `    url: ${flink.restUrl}`,
        '',
      ].join('\n'),
    );
    child = await startChild(null, join(dir, 'data'), ['--config', file]);
    prodUrl = child.clusters['prod']!.gatewayUrl;
    assert.notEqual(new URL(prodUrl).port, new URL(child.apiUrl).port, 'prod has a port of its own');
  });
  after(async () => {
    await child?.stop();
    await flink?.stop();
  });

  it('serves each cluster on its port and prefix, tagged with cluster and region', async () => {
    const viaPort = await fetch(`${prodUrl}overview`, { headers: { authorization: basic(cred) } });
    assert.equal(viaPort.status, 200);
    const viaPrefix = await fetch(`${child.apiUrl}/flink/staging/overview`, { headers: { authorization: basic(cred) } });
    assert.equal(viaPrefix.status, 200);
    const prodId = viaPort.headers.get('x-request-id')!;
    const stagingId = viaPrefix.headers.get('x-request-id')!;
    const prod = await waitForEvents(child.apiUrl, cred, { cluster: 'prod', region: 'eu-central-1' }, (es) => es.some((e) => e.requestId === prodId));
    assert.equal(prod.find((e) => e.requestId === prodId)!.eventName, 'GetClusterOverview');
    const staging = await waitForEvents(child.apiUrl, cred, { cluster: 'staging', region: 'us-east-2' }, (es) => es.some((e) => e.requestId === stagingId));
    assert.deepEqual(staging.find((e) => e.requestId === stagingId)!.referencedResources['ACS::RealtimeCompute::Cluster'], ['staging']);
    const unknown = await fetch(`${child.apiUrl}/flink/nope/overview`, { headers: { authorization: basic(cred) } });
    assert.equal(unknown.status, 404);
    assert.equal(((await unknown.json()) as { Code: string }).Code, 'FT_ERR_GATEWAY_UNKNOWN_CLUSTER');
  });

  it('refuses an invalid config at start, listing every problem', async () => {
    const dir = tempDir();
    const file = join(dir, 'bad.yaml');
    writeFileSync(file, 'api: { port: seventy }\nclusters:\n  - name: Bad Name\n    url: ftp://x\ngatewy: {}\n');
    const r = await exec(process.execPath, [join(REPO, 'bin/flinktrail.mjs'), 'serve', '--config', file, '--data-dir', dir]).catch((e: { code: number; stderr: string }) => e);
    assert.equal((r as { code: number }).code, 2);
    const err = (r as { stderr: string }).stderr;
    for (const part of ['FT_ERR_CONFIG_INVALID', 'api.port', 'clusters.0.name', 'clusters.0.url', "'gatewy'"]) assert.ok(err.includes(part), `${part} in: ${err}`);
  });
});
