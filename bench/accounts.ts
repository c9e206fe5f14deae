/**
 * Accounts: the query benchmark's cases (bench/query.ts) on a store whose events are spread over
 * 100 member accounts and the management account, asked in the same run by two principals of
 * the same FlinkTrail: the management account's admin (every account's events — the
 * single-account figures) and a member account's admin (every query scoped by the server to its
 * account). Issue 17: member-account queries must show no loss against the single-account ones.
 *
 * The machine is shared and noisy: each case is measured in rounds, the two principals
 * interleaved (the order alternating), so both see the same noise; the median over rounds is
 * reported, and the management principal's own round-to-round spread says how much noise there was.
 */
import { cpSync } from 'node:fs';
import type { Section } from './lib/report.js';
import { basic } from '../test/helpers/flinktrail.js';
import { buildConfig } from '../src/config/index.js';
import { sqliteDirectory } from '../src/identity/sqlite/directory.js';
import { openSecrets } from '../src/secrets/index.js';
import { PostgresEventStore } from '../src/store/postgres/events.js';
import { openDatabase } from '../src/store/sqlite/database.js';
import { claimEventStore, directoryOf, openFeatureStores } from '../src/stores.js';
import { cachedStore, MANAGEMENT_ACCOUNT } from './lib/generate.js';
import { benchPostgres, copyToPostgres, type PostgresCopy } from './lib/postgres.js';
import { benchDir, startFlinkTrail } from './lib/servers.js';
import { bytes, int, median, ms, ratio, seconds as secs, table } from './lib/stats.js';
import type { WrkResult } from './lib/wrk.js';
import { casesFor, measureCase, measureMix, STORE_ROOT, warmUp, type Asker, type CaseResult } from './query.js';
import { count, countLabel, type Bench, type BenchOptions } from './types.js';

/** The 100 member accounts: fixed 16-digit ids, events spread evenly (uniformly at random) over them and the management account. */
export const MEMBER_ACCOUNTS = Array.from({ length: 100 }, (_, k) => String(2000000000000000 + (k + 1) * 1_000_003));

/**
 * An admin user and AccessKey in `accountId`, made before FlinkTrail starts: in the data directory,
 * or with `storeUrl` in the PostgreSQL store's identity tables (which then get the member accounts
 * too: the data directory's `accounts` table stays behind, as `flinktrail migrate` would copy it).
 */
async function memberKey(dataDir: string, accountId: string, user: string, storeUrl?: string): Promise<string> {
  const db = openDatabase(dataDir);
  const secrets = openSecrets(buildConfig({ dataDir }));
  const events = storeUrl ? await PostgresEventStore.open({ url: storeUrl, poolMax: 2, managementAccountId: MANAGEMENT_ACCOUNT }) : undefined;
  try {
    let dir = sqliteDirectory(db, secrets);
    if (events) {
      claimEventStore(db, dataDir, events.id);
      const stores = await openFeatureStores(db, events, secrets);
      for (const [k, id] of MEMBER_ACCOUNTS.entries()) {
        if (!(await stores.identity.accountById(id))) await stores.identity.insertAccount({ id, name: `team-${k + 1}`, createdAt: Date.now() });
      }
      dir = directoryOf(stores, secrets);
    }
    await dir.createUser(user, 'admin', undefined, true, { accountId });
    return basic(await dir.createAccessKey(user));
  } finally {
    await events?.close();
    db.close();
  }
}

interface Side {
  label: string;
  ft: Asker;
  /** Per case, one result per round. */
  rounds: Map<string, CaseResult[]>;
  mixes: WrkResult[];
}

const med = (rs: readonly CaseResult[], f: (w: WrkResult) => number) => median(rs.map((r) => f(r.w)));
const geomean = (xs: readonly number[]) => Math.exp(xs.reduce((a, x) => a + Math.log(x), 0) / xs.length);

/** Tolerance on each case's p50 ratio (member / management), from the noise seen between rounds of one principal. */
const P50_TOLERANCE = 1.1;

/** One FlinkTrail measured as both principals, and what the comparison found. */
interface Comparison {
  rows: {
    name: string;
    rowsA: number;
    rowsB: number;
    p50A: number;
    p99A: number;
    p50B: number;
    p99B: number;
    selfP50: number;
    selfP99: number;
  }[];
  gP50: number;
  gP99: number;
  slower: Comparison['rows'];
  worst: Comparison['rows'][number];
  selfSpread: number[];
  selfSpread99: number[];
  mixA: number;
  mixB: number;
  mixP99A: number;
  mixP99B: number;
  met: boolean;
}

interface Rounds {
  rounds: number;
  caseSeconds: number;
  mixSeconds: number;
}

/** The query cases and the mix on `ft`, as the management admin (`ft`'s own key) and as `memberAuth`, interleaved. */
async function compare(label: string, ft: Asker, memberAuth: string, meta: Parameters<typeof casesFor>[1], r: Rounds): Promise<Comparison> {
  const { rounds, caseSeconds, mixSeconds } = r;
  const sides: Side[] = [
    { label: 'management', ft, rounds: new Map(), mixes: [] },
    { label: 'member', ft: { apiUrl: ft.apiUrl, authorization: memberAuth }, rounds: new Map(), mixes: [] },
  ];
  const cases = await Promise.all(sides.map((s) => casesFor(s.ft, meta)));
  for (const [k, s] of sides.entries()) await warmUp(s.ft, cases[k] as CaseResult['c'][]);
  const names = (cases[0] as CaseResult['c'][]).map((c) => c.name);
  for (const [i, name] of names.entries()) {
    process.stderr.write(`accounts (${label}): ${name}…\n`);
    for (let round = 0; round < rounds; round++) {
      const order = (i + round) % 2 === 0 ? [0, 1] : [1, 0];
      for (const k of order) {
        const s = sides[k] as Side;
        const c = (cases[k] as CaseResult['c'][]).find((x) => x.name === name) as CaseResult['c'];
        const got = s.rounds.get(name) ?? [];
        got.push(await measureCase(s.ft, c, caseSeconds));
        s.rounds.set(name, got);
      }
    }
  }
  for (let round = 0; round < rounds; round++) {
    for (const k of round % 2 === 0 ? [0, 1] : [1, 0]) {
      process.stderr.write(`accounts (${label}): all cases mixed, 8 connections, ${(sides[k] as Side).label}, round ${round + 1}/${rounds}…\n`);
      (sides[k] as Side).mixes.push(await measureMix((sides[k] as Side).ft, cases[k] as CaseResult['c'][], mixSeconds));
    }
  }
  const [mgmt, mem] = sides as [Side, Side];
  const rows = [...mgmt.rounds.keys()].map((name) => {
    const a = mgmt.rounds.get(name) as CaseResult[];
    const b = mem.rounds.get(name) as CaseResult[];
    return {
      name,
      rowsA: (a[0] as CaseResult).rows,
      rowsB: (b[0] as CaseResult).rows,
      p50A: med(a, (w) => w.p50),
      p99A: med(a, (w) => w.p99),
      p50B: med(b, (w) => w.p50),
      p99B: med(b, (w) => w.p99),
      // The management principal against itself, round 1 / round 2: the noise.
      selfP50: a.length > 1 ? (a[0] as CaseResult).w.p50 / (a[1] as CaseResult).w.p50 : 1,
      selfP99: a.length > 1 ? (a[0] as CaseResult).w.p99 / (a[1] as CaseResult).w.p99 : 1,
    };
  });
  const gP50 = geomean(rows.map((x) => x.p50B / x.p50A));
  const gP99 = geomean(rows.map((x) => x.p99B / x.p99A));
  const slower = rows.filter((x) => x.p50B / x.p50A > P50_TOLERANCE);
  return {
    rows,
    gP50,
    gP99,
    slower,
    worst: rows.reduce((x, y) => (y.p50B / y.p50A > x.p50B / x.p50A ? y : x)),
    selfSpread: rows.map((x) => Math.max(x.selfP50, 1 / x.selfP50)),
    selfSpread99: rows.map((x) => Math.max(x.selfP99, 1 / x.selfP99)),
    mixA: median(mgmt.mixes.map((m) => m.rps)),
    mixB: median(mem.mixes.map((m) => m.rps)),
    mixP99A: median(mgmt.mixes.map((m) => m.p99)),
    mixP99B: median(mem.mixes.map((m) => m.p99)),
    met: gP99 <= 1.0 && slower.length === 0,
  };
}

/** The table, the geometric means, the mix and the noise of one comparison. */
function comparisonText(c: Comparison, r: Rounds): string {
  const { rounds, mixSeconds } = r;
  return `${table(
    ['case', 'rows mgmt', 'rows member', 'mgmt p50', 'member p50', 'p50 × mgmt', 'mgmt p99', 'member p99', 'p99 × mgmt'],
    c.rows.map((x) => [x.name, x.rowsA.toFixed(0), x.rowsB.toFixed(0), ms(x.p50A), ms(x.p50B), ratio(x.p50B / x.p50A), ms(x.p99A), ms(x.p99B), ratio(x.p99B / x.p99A)]),
  )}

Over all ${c.rows.length} cases, member / management: p50 geometric mean **${ratio(c.gP50)}**, p99 geometric mean **${ratio(c.gP99)}**;
worst p50 ratio ${ratio(c.worst.p50B / c.worst.p50A)} (${c.worst.name}).

**Throughput**, all cases mixed over 8 connections, ${mixSeconds} s × ${rounds} interleaved round${rounds > 1 ? 's' : ''} (median):
management **${int(c.mixA)} queries/s** (p99 ${ms(c.mixP99A)}), member **${int(c.mixB)} queries/s**
(p99 ${ms(c.mixP99B)}): ${ratio(c.mixB / c.mixA)}.

${
  rounds > 1
    ? `Noise: the management principal against itself between its rounds 1 and 2 differs by a median ${ratio(median(c.selfSpread))}
(worst ${ratio(Math.max(...c.selfSpread))}) at p50 and ${ratio(median(c.selfSpread99))} (worst ${ratio(Math.max(...c.selfSpread99))}) at p99.`
    : 'Noise: one round only (`--quick`), so not measured.'
}`;
}

function verdict(c: Comparison): string {
  return c.slower.length
    ? `Over ${P50_TOLERANCE.toFixed(2)}× at p50: ${c.slower.map((x) => `${x.name} (${ratio(x.p50B / x.p50A)})`).join('; ')}.`
    : `No case's member p50 is over ${P50_TOLERANCE.toFixed(2)}× the management one.`;
}

async function accountsBench(o: BenchOptions): Promise<Section> {
  const startedAt = new Date();
  const t0 = Date.now();
  const n = count(o.opts.get('events') ?? '1M');
  const r: Rounds = { rounds: o.quick ? 1 : 2, caseSeconds: o.quick ? 1 : 2, mixSeconds: o.quick ? 4 : 10 };
  const { dir: cachedDir, meta, cached } = await cachedStore(STORE_ROOT, n, o.opts.get('fresh') === 'true', MEMBER_ACCOUNTS);
  // A scratch copy: every LookupEvents call is recorded as an event of its caller's account, which
  // in the cached store would grow the member account's share run after run.
  const dir = benchDir('accounts');
  cpSync(cachedDir, dir, { recursive: true });
  const member = MEMBER_ACCOUNTS[0] as string;
  const memberAuth = await memberKey(dir, member, 'bench-team-1-admin');
  const ft = await startFlinkTrail({ dataDir: dir, set: ['store.retentionDays=36500'], user: 'bench-auditor' });
  let sqlite: Comparison;
  try {
    sqlite = await compare('SQLite', { apiUrl: ft.apiUrl, authorization: ft.authorization }, memberAuth, meta, r);
  } finally {
    await ft.stop();
  }
  const pg = o.opts.has('postgres') ? await postgresComparison(cachedDir, n, member, meta, r) : undefined;
  const { rounds, caseSeconds } = r;
  const body = `
Store: ${int(n)} generated events over 90 days (bench/lib/generate.ts, the same events as the query benchmark's
store of that size but for their account), spread **evenly** over ${MEMBER_ACCOUNTS.length} member accounts (fixed 16-digit ids) and the
management account: each event's account drawn uniformly from the 101, so each holds about ${int(n / (MEMBER_ACCOUNTS.length + 1))} events
(${bytes(meta.bytes)} on disk). Generated through \`SqliteEventStore.append\` opened with \`managementAccountId\` = the
configuration's \`accountId\` (the management account's events stored with no \`account_id\`, as the app stores them)
in ${secs(meta.seconds)}${cached ? ` on ${meta.generatedAt.slice(0, 10)} (cached in .it/bench/stores/events-${n}-accounts-${MEMBER_ACCOUNTS.length}; \`--fresh true\` regenerates)` : ' in this run'}; the 100 accounts are in the \`accounts\` table.
Each run works on a scratch copy of it: the LookupEvents calls it records (each an event of its caller's account) do not accumulate.

One FlinkTrail on that store, two admins' AccessKeys: **management** (the management account: every account's
events — the single-account figures) and **member** (member account ${member}: the server scopes every
query to its account's events). The query benchmark's cases (section 2), \`region=*\`, deep pages walked by
each principal itself. Each case: ${rounds} round${rounds > 1 ? 's' : ''} × ${caseSeconds} s per principal on one connection, the two
principals interleaved (order alternating by case and round) so both see the same load; p50/p99 are the
median over rounds. "rows" is the average page size each principal gets (a member's rare values are often absent from its account).

${comparisonText(sqlite, r)}
A single case's p99 ratio is therefore not a verdict; the goal is judged on the p99 geometric mean over all
cases (≤ 1.0×) and on every case's p50 (≤ ${P50_TOLERANCE.toFixed(2)}×: the p50 is what a query costs, and 10 % is about its spread between rounds here).
${verdict(sqlite)}
${pg ? postgresText(pg, n, r) : ''}`;
  const goal = (store: string, c: Comparison) => ({
    area: `Query, 100 accounts (${countLabel(n)} events${store})`,
    goal: `member-account queries no slower than single-account (p99 geometric mean ratio ≤ 1.0×, every case's p50 ratio ≤ ${P50_TOLERANCE.toFixed(2)}×; same run, interleaved)`,
    measured: `p99 ${ratio(c.gP99)}, p50 ${ratio(c.gP50)} (worst case p50 ${ratio(c.worst.p50B / c.worst.p50A)}); mixed ${int(c.mixB)} vs ${int(c.mixA)} q/s`,
    met: c.met,
  });
  return {
    name: 'accounts',
    title: '2a. Query with 100 accounts',
    command: `npm run bench -- accounts --events ${countLabel(n)}${pg ? ' --postgres' : ''}`,
    startedAt,
    seconds: (Date.now() - t0) / 1000,
    body,
    goals: [goal('', sqlite), ...(pg ? [goal(', PostgreSQL', pg.c)] : [])],
  };
}

/**
 * \`--postgres\`: the same comparison on the PostgreSQL event store (\`store.url\`) holding a copy of
 * the same events, each with its account (the management account's stored with none, as the app
 * stores them), and the member accounts and the member admin in its identity tables.
 */
async function postgresComparison(cachedDir: string, n: number, member: string, meta: Parameters<typeof casesFor>[1], r: Rounds): Promise<{ c: Comparison; copy: PostgresCopy }> {
  const server = await benchPostgres();
  // The copy reads a scratch copy of the generated store; the server gets a data directory of its
  // own (the generated one holds SQLite events and would refuse another event store).
  const source = benchDir('accounts-source');
  cpSync(cachedDir, source, { recursive: true });
  process.stderr.write(`accounts: copying ${int(n)} events into PostgreSQL…\n`);
  const copy = await copyToPostgres(server, source, `bench_accounts_${n}`, { events: n, managementAccountId: MANAGEMENT_ACCOUNT });
  const dir = benchDir('accounts-postgres');
  const memberAuth = await memberKey(dir, member, 'bench-team-1-admin', copy.url);
  const ft = await startFlinkTrail({ dataDir: dir, storeUrl: copy.url, set: ['store.retentionDays=36500'], user: 'bench-auditor' });
  try {
    return { c: await compare('PostgreSQL', { apiUrl: ft.apiUrl, authorization: ft.authorization }, memberAuth, meta, r), copy };
  } finally {
    await ft.stop();
  }
}

function postgresText(pg: { c: Comparison; copy: PostgresCopy }, n: number, r: Rounds): string {
  const { copy } = pg;
  return `
### PostgreSQL event store (\`--postgres\`), same events, same run

PostgreSQL 15 (scripts/it/postgres.sh: a local throwaway cluster on a unix socket, fsync off, 128 MB
shared_buffers) holding a copy of the same ${int(n)} events, each with its account (${bytes(copy.bytes)} database), the 100
member accounts and the member admin in its identity tables. ${
    Number.isNaN(copy.seconds)
      ? 'The copy was one kept from an earlier run (FLINKTRAIL_BENCH_KEEP_PG).'
      : `The copy (bench/lib/postgres.ts, as in section 2) took ${secs(copy.seconds)}, of which ${secs(copy.indexSeconds)} building indexes.`
  }
FlinkTrail with \`store.url\`, the same two principals, cases and rounds as above.

${comparisonText(pg.c, r)}
${verdict(pg.c)}
`;
}

export const accounts: Bench = {
  name: 'accounts',
  title: '2a. Query with 100 accounts',
  summary: 'the query cases as a member account vs the management account, 100 accounts, same run (--events 1M; --postgres: also on the PostgreSQL store)',
  run: accountsBench,
};
