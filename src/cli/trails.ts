/**
 * CLI: `flinktrail trails create|update|delete|describe|status|dead-letters|start|stop|backfill|
 * public-keys|rotate-key` (through a running server's API) and `flinktrail validate-logs` (online through
 * the API and the destination, or offline on a downloaded copy with a public keys file).
 * Human tables by default, `--output json` for scripts. validate-logs exits 4 when it finds a
 * problem (in any account, for a multi-account trail, each of which it reports on its own).
 */
import { readFileSync } from 'node:fs';
import { Option, type Command } from 'commander';
import { client, withClient, type ClientFlags } from './client.js';
import { durationOption } from './options.js';
import { table } from './table.js';
import { FlinkTrailError } from '../errors/index.js';
import type { PublicKeyInfo } from '../trails/digest/keys.js';
import { isObjectDestination, parseDestination, REDACTED, resolveCredentials } from '../trails/destination.js';
import { FileObjectStore, openObjectStore } from '../trails/sinks/index.js';
import { findResourceDirectories, formatReport, prefixed, validateLogs, type Reader, type ValidateOptions } from '../trails/validate-logs/index.js';

const collect = (v: string, prev: string[]) => [...prev, v];
const output = () => new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table');

function print(o: { output: string }, json: unknown, human: () => string): void {
  process.stdout.write(o.output === 'json' ? `${JSON.stringify(json)}\n` : `${human()}\n`);
}

type TrailOut = {
  Name: string;
  Status: string;
  EventRW: string;
  TrailRegion: string;
  Destinations: string[];
  DigestInterval: number;
  AccountId: string;
  IsOrganizationTrail: boolean;
  OrganizationId: string;
};
const path = (name: string, rest = '') => `/api/v1/trails/${encodeURIComponent(name)}${rest}`;

function trailTable(list: TrailOut[]): string {
  return table(
    ['Name', 'Account', 'Status', 'EventRW', 'TrailRegion', 'Digest(s)', 'Destinations'],
    list.map((t) => [t.Name, `${t.AccountId}${t.IsOrganizationTrail ? ' (multi-account)' : ''}`, t.Status, t.EventRW, t.TrailRegion, String(t.DigestInterval), t.Destinations.join(' ')]),
  );
}

function specBody(o: { destination: string[]; eventRw?: string; trailRegion?: string; digestInterval?: number }): Record<string, unknown> {
  const b: Record<string, unknown> = {};
  if (o.destination.length) b['Destinations'] = o.destination;
  if (o.eventRw) b['EventRW'] = o.eventRw;
  if (o.trailRegion) b['TrailRegion'] = o.trailRegion;
  if (o.digestInterval !== undefined) b['DigestInterval'] = o.digestInterval;
  return b;
}

function time(name: string, v: string | undefined, fallback: number): number {
  if (v === undefined) return fallback;
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `${name} '${v}' is not an ISO 8601 time`);
  return ms;
}

function readKeys(file: string): PublicKeyInfo[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `cannot read public keys file ${file}: ${(err as Error).message}`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { PublicKeyList?: unknown }).PublicKeyList;
  if (!Array.isArray(list)) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `${file} holds no PublicKeyList`);
  return list as PublicKeyInfo[];
}

async function sleep(ms: number): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
}

/** Adds `trails …` and `validate-logs` to the `flinktrail` program. */
export function addTrailCommands(cli: Command): void {
  const trails = cli.command('trails').description('Trails: deliver events to buckets, directories, Kafka and syslog (through the API)');

  withClient(
    trails
      .command('create')
      .description('Create a trail (ActionTrail CreateTrail); it delivers nothing until started (--start)')
      .requiredOption('--name <name>', 'trail name: 6-36 characters, lowercase letters, digits, - and _, starting with a letter')
      .option('--destination <url>', 's3://bucket/prefix?endpoint=…, kafka://host:port/topic, syslog+tcp://host:port, syslog+tls://host:port?ca=…, file:///dir or local (repeatable)', collect, [])
      .addOption(new Option('--event-rw <rw>', 'which events').choices(['Write', 'Read', 'All']))
      .option('--trail-region <regions>', 'All (default) or a comma-separated list of regions')
      .addOption(durationOption('--digest-interval <duration>', 'time between signed digest files; default from the server config, 1h', 's'))
      .option('--multi-account', "deliver every account's events, each under <rd_id>/<accountId>/ (ActionTrail IsOrganizationTrail; management account only)")
      .option('--start', 'start logging right away (StartLogging)')
      .addOption(output()),
  ).action(
    async (o: ClientFlags & { name: string; destination: string[]; eventRw?: string; trailRegion?: string; digestInterval?: number; multiAccount?: boolean; start?: boolean; output: string }) => {
      const c = client(o);
      const t = (await c.post('/api/v1/trails', { Name: o.name, ...specBody(o), ...(o.multiAccount ? { IsOrganizationTrail: true } : {}) })) as TrailOut;
      if (o.start) {
        await c.post(path(o.name, '/start'));
        t.Status = 'Enable';
      }
      print(o, t, () => trailTable([t]));
    },
  );

  withClient(
    trails
      .command('update <name>')
      .description('Change a trail (ActionTrail UpdateTrail); --destination replaces the list')
      .option('--destination <url>', 'destination URL (repeatable; replaces all destinations)', collect, [])
      .addOption(new Option('--event-rw <rw>', 'which events').choices(['Write', 'Read', 'All']))
      .option('--trail-region <regions>', 'All or a comma-separated list of regions')
      .addOption(durationOption('--digest-interval <duration>', 'time between signed digest files', 's'))
      .addOption(output()),
  ).action(async (name: string, o: ClientFlags & { destination: string[]; eventRw?: string; trailRegion?: string; digestInterval?: number; output: string }) => {
    const t = (await client(o).patch(path(name), specBody(o))) as TrailOut;
    print(o, t, () => trailTable([t]));
  });

  withClient(trails.command('delete <name>').description('Delete a trail (delivered files stay where they are)').addOption(output())).action(
    async (name: string, o: ClientFlags & { output: string }) => {
      const r = await client(o).delete(path(name));
      print(o, r, () => `Trail ${name} deleted.`);
    },
  );

  withClient(trails.command('describe [names...]').description('Describe trails (ActionTrail DescribeTrails)').addOption(output())).action(
    async (names: string[], o: ClientFlags & { output: string }) => {
      const q = new URLSearchParams();
      if (names.length) q.set('NameList', names.join(','));
      const r = (await client(o).get('/api/v1/trails', q)) as { TrailList: TrailOut[] };
      print(o, r, () => trailTable(r.TrailList));
    },
  );

  withClient(trails.command('status <name>').description('Delivery status (ActionTrail GetTrailStatus)').addOption(output())).action(
    async (name: string, o: ClientFlags & { output: string }) => {
      const r = (await client(o).get(path(name, '/status'))) as {
        IsLogging: boolean;
        LatestDeliveryTime: string | null;
        LatestDeliveryError: string;
        LatestDigestDeliveryTime: string | null;
        DeadLetterCount: number;
        LatestDeadLetterTime: string | null;
        Destinations: { Destination: string; Kind: string; Status: string; DeliveredEvents: number; DeadLetters: number; LatestDeliveryTime: string | null; LatestDeliveryError: string }[];
      };
      print(o, r, () =>
        [
          `IsLogging: ${String(r.IsLogging)}`,
          `LatestDeliveryTime: ${r.LatestDeliveryTime ?? '-'}`,
          `LatestDeliveryError: ${r.LatestDeliveryError || '-'}`,
          `LatestDigestDeliveryTime: ${r.LatestDigestDeliveryTime ?? '-'}`,
          `DeadLetters: ${r.DeadLetterCount}${r.LatestDeadLetterTime ? ` (latest ${r.LatestDeadLetterTime}; flinktrail trails dead-letters <name>)` : ''}`,
          '',
          table(
            ['Destination', 'Kind', 'Status', 'Delivered', 'DeadLetters', 'LatestDelivery', 'Error'],
            r.Destinations.map((d) => [d.Destination, d.Kind, d.Status, String(d.DeliveredEvents), String(d.DeadLetters), d.LatestDeliveryTime ?? '-', d.LatestDeliveryError || '-']),
          ),
        ].join('\n'),
      );
    },
  );

  withClient(
    trails
      .command('dead-letters <name>')
      .description('Events set aside because a destination can never take them (ListTrailDeadLetters)')
      .option('--max-results <n>', 'at most this many, newest first', '50')
      .option('--next-token <token>', 'continue after a previous answer')
      .addOption(output()),
  ).action(async (name: string, o: ClientFlags & { output: string; maxResults: string; nextToken?: string }) => {
    const q = new URLSearchParams({ MaxResults: o.maxResults, ...(o.nextToken ? { NextToken: o.nextToken } : {}) });
    const r = (await client(o).get(path(name, '/dead-letters'), q)) as {
      DeadLetters: { Destination: string; EventId: string; Code: string; Reason: string; SetAsideTime: string }[];
      NextToken?: string;
    };
    print(o, r, () =>
      [
        table(
          ['SetAside', 'EventId', 'Destination', 'Code', 'Reason'],
          r.DeadLetters.map((l) => [l.SetAsideTime, l.EventId, l.Destination, l.Code, l.Reason]),
        ),
        ...(r.NextToken ? [`More: --next-token ${r.NextToken}`] : []),
      ].join('\n'),
    );
  });

  for (const [cmd, what] of [
    ['start', 'Start logging (ActionTrail StartLogging): events from now on are delivered'],
    ['stop', 'Stop logging (ActionTrail StopLogging): events after this are never delivered by this trail'],
  ] as const) {
    withClient(trails.command(`${cmd} <name>`).description(what).addOption(output())).action(async (name: string, o: ClientFlags & { output: string }) => {
      const r = await client(o).post(path(name, `/${cmd}`));
      print(o, r, () => `Trail ${name}: ${cmd === 'start' ? 'logging started' : 'logging stopped'}.`);
    });
  }

  withClient(
    trails
      .command('backfill <name>')
      .description('Deliver retained history into the trail (ActionTrail CreateDeliveryHistoryJob); one job at a time')
      .option('--wait', 'wait for the job to finish, printing progress')
      .option('--list', 'list the trail\'s jobs instead (ListDeliveryHistoryJobs)')
      .option('--timeout <seconds>', 'with --wait: give up after this long', '3600')
      .addOption(output()),
  ).action(async (name: string, o: ClientFlags & { wait?: boolean; list?: boolean; timeout: string; output: string }) => {
    const c = client(o);
    type Job = { JobId: string; JobStatus: number; Progress: number; CreatedTime: string; UpdatedTime: string; ErrorMessage?: string };
    const listJobs = async () => (await c.get(path(name, '/history-jobs'))) as { DeliveryHistoryJobs: Job[] };
    const statusName = ['initializing', 'delivering', 'complete', 'failed'];
    if (o.list) {
      const r = await listJobs();
      print(o, r, () => table(['JobId', 'Status', 'Progress', 'Created', 'Updated'], r.DeliveryHistoryJobs.map((j) => [j.JobId, `${j.JobStatus} ${statusName[j.JobStatus] ?? ''}`, `${j.Progress}%`, j.CreatedTime, j.UpdatedTime])));
      return;
    }
    const { JobId } = (await c.post(path(name, '/history-jobs'))) as { JobId: string };
    if (!o.wait) {
      print(o, { JobId }, () => `Delivery history job ${JobId} created.`);
      return;
    }
    const deadline = Date.now() + Number(o.timeout) * 1000;
    for (;;) {
      const job = (await listJobs()).DeliveryHistoryJobs.find((j) => j.JobId === JobId);
      if (job && o.output !== 'json') process.stderr.write(`\rJob ${JobId}: ${statusName[job.JobStatus] ?? job.JobStatus} ${job.Progress}%   `);
      if (job && job.JobStatus >= 2) {
        if (o.output !== 'json') process.stderr.write('\n');
        print(o, job, () => `Delivery history job ${JobId} ${statusName[job.JobStatus] ?? ''}${job.ErrorMessage ? `: ${job.ErrorMessage}` : ''}.`);
        if (job.JobStatus === 3) process.exitCode = 2;
        return;
      }
      if (Date.now() > deadline) throw new Error(`Job ${JobId} did not finish within ${o.timeout} s.`);
      await sleep(500);
    }
  });

  withClient(trails.command('public-keys <name>').description('The digest public keys (JSON, for offline validate-logs --public-keys)')).action(
    async (name: string, o: ClientFlags) => {
      const r = await client(o).get(path(name, '/digest-public-keys'));
      process.stdout.write(`${JSON.stringify(r)}\n`);
    },
  );

  withClient(trails.command('rotate-key').description('Make a new digest signing key; the old one stays published').addOption(output())).action(
    async (o: ClientFlags & { output: string }) => {
      const r = (await client(o).post('/api/v1/trail-digest-keys/rotate')) as { PublicKeyList: PublicKeyInfo[] };
      print(o, r, () => table(['Fingerprint', 'ValidFrom', 'ValidTo'], r.PublicKeyList.map((k) => [k.Fingerprint, k.ValidityStartTime, k.ValidityEndTime ?? '-'])));
    },
  );

  withClient(
    cli
      .command('validate-logs')
      .description("Check a trail's delivered files against its signed digest chain (online, or offline with --local-dir and --public-keys)")
      .requiredOption('--trail <name>', 'trail name')
      .requiredOption('--start-time <time>', 'ISO 8601')
      .option('--end-time <time>', 'ISO 8601, default now')
      .option('--verbose', 'list every valid file too')
      .option('--local-dir <dir>', 'offline: a downloaded copy (the directory that holds AliyunLogs/)')
      .option('--public-keys <file>', 'offline: the JSON of `flinktrail trails public-keys`')
      .option('--destination <url>', "online: the trail's bucket or directory URL (with credentials), instead of the trail's first one")
      .option('--s3-access-key-id <id>', 'online: credentials for the bucket (or AWS_ACCESS_KEY_ID)')
      .option('--s3-secret-access-key <secret>', 'online: credentials for the bucket (or AWS_SECRET_ACCESS_KEY)')
      .option('--region <region>', 'only this region (default: every region found)')
      .option('--account <id>', 'multi-account trails: only this account (repeatable; default: every account found)', collect, [])
      .option('--multi-account', 'offline: the copy is of a multi-account trail (online, the trail says so)')
      .addOption(output()),
  ).action(
    async (
      o: ClientFlags & {
        trail: string;
        startTime: string;
        endTime?: string;
        verbose?: boolean;
        localDir?: string;
        publicKeys?: string;
        destination?: string;
        s3AccessKeyId?: string;
        s3SecretAccessKey?: string;
        region?: string;
        account: string[];
        multiAccount?: boolean;
        output: string;
      },
    ) => {
      const start = time('--start-time', o.startTime, 0);
      const end = time('--end-time', o.endTime, Date.now());
      let reader: Reader;
      let keys: PublicKeyInfo[];
      let where: string;
      let close = () => Promise.resolve();
      // A multi-account trail: its resource directory, and the accounts asked for.
      let accounts: ValidateOptions['accounts'];
      const only = o.account.length ? { only: o.account } : {};
      if (o.localDir) {
        if (!o.publicKeys) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', 'offline validation (--local-dir) needs --public-keys');
        reader = new FileObjectStore(o.localDir);
        keys = readKeys(o.publicKeys);
        where = `offline copy ${o.localDir}`;
        if (o.multiAccount || o.account.length) {
          const rds = await findResourceDirectories(reader);
          if (rds.length !== 1) {
            throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `a multi-account copy has one resource directory under AliyunLogs/Actiontrail-Digest/; found ${rds.length ? rds.join(', ') : 'none'}`);
          }
          accounts = { rdId: rds[0] as string, ...only };
        }
      } else {
        const c = client(o);
        keys = o.publicKeys ? readKeys(o.publicKeys) : ((await c.get(path(o.trail, '/digest-public-keys'))) as { PublicKeyList: PublicKeyInfo[] }).PublicKeyList;
        const t = ((await c.get(path(o.trail))) as { TrailList: TrailOut[] }).TrailList[0];
        if (t?.IsOrganizationTrail) accounts = { rdId: t.OrganizationId, ...only };
        else if (o.account.length) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `trail ${o.trail} is not a multi-account trail: --account does not apply`);
        let url = o.destination;
        if (!url) {
          url = t?.Destinations.find((d) => d.startsWith('s3://') || d.startsWith('file://'));
          if (!url) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `trail ${o.trail} has no bucket or directory destination`);
          const id = o.s3AccessKeyId ?? process.env['AWS_ACCESS_KEY_ID'];
          const secret = o.s3SecretAccessKey ?? process.env['AWS_SECRET_ACCESS_KEY'];
          url = url.replace(/([?&])(accessKeyId|secretAccessKey|sessionToken)=[^&]*&?/g, '$1').replace(/[?&]$/, '');
          if (id && secret && url.startsWith('s3://')) url += `${url.includes('?') ? '&' : '?'}accessKeyId=${encodeURIComponent(id)}&secretAccessKey=${encodeURIComponent(secret)}`;
        }
        if (url.includes(REDACTED)) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', 'the destination URL has redacted credentials; pass --s3-access-key-id and --s3-secret-access-key');
        const dest = parseDestination(url, { localDir: '/' });
        if (!isObjectDestination(dest)) throw new FlinkTrailError('FT_ERR_TRAIL_VALIDATION_INPUT', `${dest.display} is not a bucket or directory`);
        const store = openObjectStore(resolveCredentials(dest), { multipartThresholdBytes: 8 * 1024 * 1024 });
        close = () => store.close();
        reader = prefixed(store, dest.s3?.prefix ?? '');
        where = dest.display;
      }
      try {
        const report = await validateLogs({ reader, trail: o.trail, publicKeys: keys, start, end, ...(o.region ? { regions: [o.region] } : {}), ...(accounts ? { accounts } : {}) });
        print(o, report, () => formatReport(report, { trail: o.trail, start, end, verbose: o.verbose ?? false, where }));
        if (!report.ok) process.exitCode = 4;
      } finally {
        await close();
      }
    },
  );
}
