/**
 * Mutual TLS with the real `flink` CLI: FlinkTrail's cluster listener serves HTTPS and requires
 * client certificates; the CLI (CliFrontend from the Flink jars, `security.ssl.rest.*` options,
 * PKCS12 keystore and truststore from scripts/it/pki.sh) lists and cancels a real job through it.
 * The events name the certificate's user, subject and SHA-256 fingerprint; a certificate from
 * another CA and a CLI without a certificate are refused, and nothing of theirs reaches Flink.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { flinkCli, flinkLib, type FlinkCli } from '../../helpers/flink-cli.js';
import { startFlink, uploadAndRunJob, waitForJobState, getJson, type FlinkCluster } from '../../helpers/flink.js';
import { makeKey, startInProcess, tempDir, waitForEvents, lookup, type Credentials, type InProcess } from '../../helpers/flinktrail.js';
import { makePki, type Pki } from '../../helpers/pki.js';
import type { ActionTrailEvent } from '../../../src/event/types.js';

describe('mutual TLS with the real flink CLI', { timeout: 240_000 }, () => {
  let flink: FlinkCluster;
  let ft: InProcess;
  let pki: Pki;
  let admin: Credentials;
  let flinkCliOf: FlinkCli | undefined;
  let port: number;
  let jobId = '';
  const started = new Date(Date.now() - 1000).toISOString();

  before(async () => {
    [flink, pki] = await Promise.all([startFlink(), makePki({ clients: ['alice'], foreignClients: ['mallory'] })]);
    const lib = await flinkLib(flink.version || '2.2.0');
    const dataDir = tempDir();
    admin = await makeKey(dataDir, 'auditor', 'admin');
    ft = await startInProcess(
      flink.restUrl,
      {
        clusters: [{ name: 'default', url: flink.restUrl, listen: { port: 0, tls: { certFile: pki.serverCert, keyFile: pki.serverKey, caFile: pki.ca, clientCertificates: 'required' } } }],
        auth: { clientCertificates: { enabled: true, userFrom: 'CN', role: 'operator' } },
      },
      dataDir,
    );
    const gw = new URL(ft.info.clusters['default']!.gatewayUrl);
    assert.equal(gw.protocol, 'https:');
    port = Number(gw.port);
    flinkCliOf = flinkCli(lib, pki, () => port);
    // The job to cancel, started directly on Flink (not through FlinkTrail).
    ({ jobId } = await uploadAndRunJob(flink.restUrl, flink.jobJar, { programArgs: ['--job-name', `mtls-cli-${Date.now()}`], parallelism: 1 }));
    await waitForJobState(flink.restUrl, jobId, 'RUNNING');
  });
  after(async () => {
    await ft?.close();
    await flink?.stop();
    pki?.remove();
    flinkCliOf?.remove();
  });

  const cli = (args: string[], client: string | undefined) => flinkCliOf!.run(args, client);

  const byAlice = (events: ActionTrailEvent[]) => events.filter((e) => e.userIdentity.userName === 'alice');

  it('flink list and flink cancel work through the TLS listener with a client certificate, as the certificate user', async (t) => {
    const list = await cli(['list', '-r'], 'alice');
    t.diagnostic(`flink list: exit ${String(list.code)} in ${list.ms} ms`);
    assert.equal(list.code, 0, list.out);
    assert.match(list.out, new RegExp(`${jobId} : mtls-cli-\\d+ \\(RUNNING\\)`), list.out);

    const cancel = await cli(['cancel', jobId], 'alice');
    t.diagnostic(`flink cancel: exit ${String(cancel.code)} in ${cancel.ms} ms`);
    assert.equal(cancel.code, 0, cancel.out);
    assert.match(cancel.out, new RegExp(`Cancelled job ${jobId}`), cancel.out);
    await waitForJobState(flink.restUrl, jobId, 'CANCELED', 30_000);

    const user = await ft.app.directory.userByName('alice');
    assert.equal(user?.source, 'certificate', 'created on first sight');
    assert.equal(user?.role, 'operator', 'with the configured role');

    const events = byAlice(
      await waitForEvents(ft.info.apiUrl, admin, { user: 'alice', startTime: started }, (es) => byAlice(es).some((e) => e.eventName === 'CancelJob' && e.additionalEventData.outcome === 'success')),
    );
    t.diagnostic(`events of the CLI: ${JSON.stringify(events.map((e) => `${e.eventName} ${String(e.additionalEventData.httpMethod)} ${String(e.additionalEventData.path)} ${String(e.additionalEventData.outcome)}`).reverse())}`);
    const names = new Set(events.map((e) => e.eventName));
    assert.ok(names.has('GetJobsOverview'), `flink list reads /jobs/overview: ${[...names].join(', ')}`);
    assert.ok(names.has('CancelJob'));
    const fp = pki.clients['alice']!.fingerprint256;
    for (const e of events) {
      assert.equal(e.userIdentity.type, 'ram-user');
      assert.equal(e.userIdentity.principalId, user?.id);
      assert.equal(e.userIdentity.accessKeyId, undefined);
      assert.equal(e.sourceIpAddress, '127.0.0.1');
      const attrs = e.userIdentity.sessionContext?.attributes;
      assert.ok(attrs, 'certificate sign-ins carry sessionContext');
      assert.equal(attrs['authMethod'], 'client-certificate');
      assert.equal(attrs['certificateSubject'], pki.clients['alice']!.subject);
      assert.equal(attrs['certificateFingerprintSha256'], fp);
      assert.equal(attrs['certificateIssuer'], 'CN=FlinkTrail Test CA,O=FlinkTrail Test');
      assert.equal(e.additionalEventData.outcome, 'success', JSON.stringify(e));
    }
    const cancelEvent = events.find((e) => e.eventName === 'CancelJob')!;
    t.diagnostic(`CancelJob userIdentity: ${JSON.stringify(cancelEvent.userIdentity)}`);
    assert.equal(cancelEvent.eventRW, 'Write');
    assert.ok(cancelEvent.referencedResources['ACS::RealtimeCompute::Job']?.includes(jobId));
  });

  it('a certificate from another CA and a CLI without a certificate are refused before Flink, and recorded as failed sign-ins', async (t) => {
    // LookupEvents calls are recorded too (the auditor is audited): count Flink events only.
    const flinkEvents = async () => (await lookup(ft.info.apiUrl, admin, { maxResults: '200', startTime: started, serviceName: 'RealtimeCompute' })).Events;
    const before = (await flinkEvents()).length;
    const [foreign, none] = await Promise.all([cli(['list'], 'mallory'), cli(['list'], undefined)]);
    t.diagnostic(`foreign CA: exit ${String(foreign.code)} in ${foreign.ms} ms; no certificate: exit ${String(none.code)} in ${none.ms} ms`);
    for (const r of [foreign, none]) {
      assert.notEqual(r.code, 0, r.out);
      assert.doesNotMatch(r.out, /No running jobs|RUNNING|CANCELED/);
      // FlinkTrail's coded refusal is what the CLI prints as the cause.
      assert.match(r.out, /RestClientException: \[FT_ERR_AUTH_CERTIFICATE: The client certificate is not accepted: /, r.out);
    }
    // Java offers only certificates of the CAs the server names, so the foreign one is not even sent.
    assert.match(none.out, /requires a client certificate/);
    assert.match(foreign.out, /requires a client certificate|not signed by a CA this listener trusts/);
    await new Promise((r) => setTimeout(r, 200)); // longer than a store flush
    // Each refused call is recorded as a failed sign-in with the reason; none succeeded.
    const fresh = (await flinkEvents()).slice(0, -before || undefined);
    assert.ok(fresh.length >= 2, `the refusals are recorded: ${JSON.stringify(fresh.map((e) => e.eventName))}`);
    for (const e of fresh) {
      assert.equal(e.errorCode, 'FT_ERR_AUTH_CERTIFICATE');
      assert.equal(e.additionalEventData.outcome, 'failure');
      assert.equal(e.additionalEventData['authFailure'], true);
      assert.match(String(e.additionalEventData['authFailureReason']), /requires a client certificate|not signed by a CA/);
      assert.equal(e.userIdentity.type, 'anonymous');
    }
    assert.equal((await ft.app.directory.userByName('mallory')), undefined);
    // Flink itself still answers its own clients: the refusals were FlinkTrail's.
    const overview = await getJson<{ jobs: { jid: string; state: string }[] }>(`${flink.restUrl}/jobs/overview`);
    assert.ok(overview.jobs.some((j) => j.jid === jobId && j.state === 'CANCELED'));
  });
});
