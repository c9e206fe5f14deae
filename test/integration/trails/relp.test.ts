/**
 * Acknowledged syslog: trails to a real rsyslog's imrelp (plain RELP and RELP over TLS with a
 * client certificate) under steady traffic; the receiver is killed (SIGKILL) mid-stream and
 * started again. Every event arrives — duplicates allowed and counted, RELP is at-least-once
 * across a restart — in order per trail (by first arrival), and the status shows the failure
 * meanwhile.
 */
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { newEvents } from '../../helpers/events.js';
import { startRsyslog, type RsyslogInput, type RsyslogServer } from '../../helpers/rsyslog.js';
import { sleep, startTrailApp, until, type TrailApp } from './common.js';

interface Status {
  LatestDeliveryError: string;
  Destinations: { Status: string; Position: number; PendingBatch: unknown }[];
}

/** The eventIds of the received messages, in arrival order (RFC 5424 structured data). */
function receivedIds(lines: string[]): string[] {
  return lines.map((l) => /eventId="([^"]+)"/.exec(l)?.[1] ?? `unparsed:${l.slice(0, 60)}`);
}

describe('trails to RELP survive a receiver crash', { timeout: 300_000 }, () => {
  let rs: RsyslogServer | undefined;
  let t: TrailApp | undefined;

  before(async () => {
    rs = await startRsyslog();
    t = await startTrailApp({ trails: { retry: { initialBackoffMs: 100, maxBackoffMs: 1000 } } });
  });
  after(async () => {
    await Promise.allSettled([t?.close()]);
    await rs?.stop();
  });

  it('delivers every event, in order, when rsyslog is killed mid-stream and restarted', async () => {
    const trails: [string, RsyslogInput, string][] = [
      ['relp-plain', 'relp', `relp://${rs!.relp}`],
      ['relp-tls', 'relpTls', `relp+tls://${rs!.relpTls}?ca=${rs!.ca}&cert=${rs!.ca}&key=${rs!.key}`],
    ];
    for (const [name, , url] of trails) {
      const r = await t!.call('POST', '/api/v1/trails', { Name: name, EventRW: 'All', Destinations: [url] });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal((await t!.call('POST', `/api/v1/trails/${name}/start`)).status, 200);
    }
    const status = (name: string) => t!.call<Status>('GET', `/api/v1/trails/${name}/status`).then((r) => r.body);

    let traffic = true;
    let down = false;
    let sentWhileDown = 0;
    const appended: string[] = [];
    const pump = (async () => {
      while (traffic) {
        // Small bursts, so that batches of several messages are in flight when the receiver dies.
        for (const e of newEvents(5, { start: Date.now(), stepMs: 0 })) {
          await t!.app.store.append(e);
          appended.push(e.eventId);
          if (down) sentWhileDown++;
        }
        await sleep(20);
      }
    })();
    const failing = new Set<string>();
    try {
      await sleep(2000);
      await rs!.killRelp();
      down = true;
      const killedAt = Date.now();
      while (Date.now() - killedAt < 5000) {
        for (const [name] of trails) {
          const s = await status(name);
          if (s.Destinations[0]?.Status === 'Failing' && /^relp/.test(s.LatestDeliveryError)) failing.add(name);
        }
        await sleep(250);
      }
      await rs!.resumeRelp();
      down = false;
      await sleep(2000);
    } finally {
      traffic = false;
      await pump;
    }
    assert.deepEqual([...failing].sort(), trails.map(([n]) => n).sort(), 'GetTrailStatus showed each RELP destination failing while rsyslog was down');
    assert.ok(sentWhileDown > 0, 'traffic went on while rsyslog was down');

    const lastSeq = await t!.app.store.lastSeq();
    for (const [name, input] of trails) {
      await until(`${name} caught up`, async () => {
        const s = await status(name);
        return s.Destinations[0]!.Position >= lastSeq && s.Destinations[0]!.PendingBatch === null && s.LatestDeliveryError === '' ? s : undefined;
      }, 60_000, 200);
      const ids = receivedIds(rs!.messages(input));
      const firsts: string[] = [];
      const seen = new Set<string>();
      for (const id of ids) {
        if (seen.has(id)) continue;
        seen.add(id);
        firsts.push(id);
      }
      const missing = appended.filter((id) => !seen.has(id));
      console.log(`${name}: ${appended.length} events sent (${sentWhileDown} while rsyslog was down), ${seen.size} distinct received, ${ids.length - seen.size} duplicates`);
      assert.deepEqual(missing, [], `${name}: no event missing`);
      assert.deepEqual(firsts.filter((id) => appended.includes(id)), appended, `${name}: in order (by first arrival)`);
    }
  });
});
