/**
 * The differential harness: sends the variants of variants.ts through FlinkTrail's gateway to a
 * real Flink cluster and checks, for each, that FlinkTrail EITHER refused it itself (a 4xx with
 * `X-FlinkTrail-Error-Code`, recorded as that refusal, and Flink unchanged) OR recorded exactly
 * what Flink did — and that denied users never change Flink's state.
 *
 * "What Flink did" is read from Flink's own state, directly (never through FlinkTrail, never from
 * the record): the job's state, its checkpoint statistics, the status of the asynchronous
 * operation the answer names, the jar list, the job list, the cluster being up. Used by the CI
 * sample (test/integration/gateway/differential.test.ts) and the full run
 * (`npm run bench -- differential`).
 */
import { randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { RESOURCE_TYPE_PREFIX, type ActionTrailEvent } from '../../../src/event/types.js';
import type { PolicyDocument } from '../../../src/policy/index.js';
import type { Role } from '../../../src/identity/directory.js';
import { getJson, sendJson, uploadJar } from '../flink.js';
import { basic, lookup, makeKey, type Credentials } from '../flinktrail.js';
import { generateVariants, isDeniedOnly, jobIdForVariants, setDemoJar, type Ids, type RawRequest, type Variant } from './variants.js';

const JOB = `${RESOURCE_TYPE_PREFIX}Job`;
const JAR = `${RESOURCE_TYPE_PREFIX}Jar`;

/**
 * How FlinkTrail names a savepoint that cancels its job (the record must say cancel, not
 * TriggerSavepoint). Kept in one place so the harness follows the gateway's vocabulary.
 */
export const CANCEL_WITH_SAVEPOINT_EVENTS: readonly string[] = ['CancelJobWithSavepoint'];

/** Event names that claim Flink did something observable. */
const EFFECT_EVENTS = new Set(['CancelJob', 'StopJobWithSavepoint', 'TriggerSavepoint', 'TriggerCheckpoint', 'UploadJar', 'DeleteJar', 'RunJar', 'SubmitJob', 'ShutdownCluster', ...CANCEL_WITH_SAVEPOINT_EVENTS]);

const TRANSITIONAL = new Set(['CREATED', 'INITIALIZING', 'CANCELLING', 'FAILING', 'RESTARTING', 'RECONCILING']);

// ---------------------------------------------------------------------------------------------
// Talking to FlinkTrail and to Flink

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  text: string;
  requestId: string;
  /** `X-FlinkTrail-Error-Code`: FlinkTrail refused the request itself. */
  refusedWith?: string;
}

/** Sends exactly these bytes (request target unnormalised) to `origin`. */
export function sendRaw(origin: string, req: RawRequest, authorization: string): Promise<RawResponse> {
  const url = new URL(origin);
  return new Promise((resolve, reject) => {
    const r = httpRequest(
      {
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.target,
        agent: false,
        headers: { ...req.headers, authorization, 'user-agent': 'flinktrail-differential', connection: 'close' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', reject);
        res.on('end', () => {
          const code = res.headers['x-flinktrail-error-code'];
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            text: Buffer.concat(chunks).toString('utf8'),
            requestId: String(res.headers['x-request-id'] ?? ''),
            ...(typeof code === 'string' ? { refusedWith: code } : {}),
          });
        });
      },
    );
    r.setTimeout(120_000, () => r.destroy(new Error(`no answer to ${req.method} ${req.target.slice(0, 200)}`)));
    r.on('error', reject);
    if (req.chunked && req.body) {
      // Two chunks, so the body really arrives chunked.
      const mid = Math.floor(req.body.length / 2);
      r.write(req.body.subarray(0, mid));
      r.end(req.body.subarray(mid));
    } else r.end(req.body);
  });
}

/** Flink's state, as far as a write could change it. */
export interface FlinkState {
  clusterUp: boolean;
  jars: string[];
  jobs: Map<string, string>;
  /** The target job's savepoints and latest checkpoint (its jobs check-point only on request). */
  checkpoints?: { savepoints: number; latest: number };
}

export interface Effects {
  /** The target job's terminal state, if it left RUNNING. */
  ended?: string;
  savepoint: boolean;
  checkpoint: boolean;
  jarsAdded: string[];
  jarsRemoved: string[];
  jobsAdded: string[];
  clusterDown: boolean;
}

export function describeEffects(e: Effects): string {
  const parts: string[] = [];
  if (e.ended) parts.push(`job ${e.ended}`);
  if (e.savepoint) parts.push('savepoint taken');
  if (e.checkpoint) parts.push('checkpoint taken');
  if (e.jarsAdded.length) parts.push(`jar added ${e.jarsAdded.join(',')}`);
  if (e.jarsRemoved.length) parts.push(`jar deleted ${e.jarsRemoved.join(',')}`);
  if (e.jobsAdded.length) parts.push(`job started ${e.jobsAdded.join(',')}`);
  if (e.clusterDown) parts.push('cluster down');
  return parts.join(' + ') || 'nothing';
}

function changed(e: Effects): boolean {
  return describeEffects(e) !== 'nothing';
}

// ---------------------------------------------------------------------------------------------
// Counts and findings

export interface Finding {
  variant: string;
  user: string;
  request: string;
  status: number;
  flinkDid: string;
  recorded: string;
  problem: string;
}

export interface Counts {
  tried: number;
  refused: number;
  matched: number;
  mismatches: Finding[];
  denied: { tried: number; refused: number; forwarded: number; stateChanges: Finding[] };
  jobsStarted: number;
  /** Variants per dimension, for the docs. */
  byDimension: Record<string, number>;
}

export function summaryLines(c: Counts): string[] {
  return [
    `variants tried (allowed user): ${c.tried}`,
    `  refused by FlinkTrail: ${c.refused}`,
    `  recorded and matching Flink: ${c.matched}`,
    `  mismatches: ${c.mismatches.length}`,
    `denied-user requests: ${c.denied.tried} (refused ${c.denied.refused}, forwarded as allowed ${c.denied.forwarded})`,
    `  denied-user state changes: ${c.denied.stateChanges.length}`,
    `jobs started: ${c.jobsStarted}`,
  ];
}

/** The request as it went on the wire, for a finding (bodies abbreviated). */
export function describeRequest(req: RawRequest): string {
  const target = req.target.length > 300 ? `${req.target.slice(0, 200)}…(${req.target.length} chars)…${req.target.slice(-60)}` : req.target;
  const headers = Object.entries(req.headers).map(([k, v]) => `${k}: ${v}`).join('; ');
  let body = '';
  if (req.body) {
    const text = req.body.toString('latin1');
    const squeezed = text.replace(/ {20,}/g, (s) => `<${s.length} spaces>`).replace(/[^\x20-\x7e]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
    body = ` body(${req.body.length} B${req.chunked ? ', chunked' : ''}): ${squeezed.length > 400 ? `${squeezed.slice(0, 400)}…` : squeezed}`;
  }
  return `${req.method} ${target}${headers ? ` [${headers}]` : ''}${body}`;
}

function describeRecord(e: ActionTrailEvent | undefined): string {
  if (!e) return 'no record';
  const p = e.requestParameters;
  const decisive = ['mode', 'cancel-job', 'drain'].filter((k) => k in p).map((k) => `${k}=${JSON.stringify(p[k])}`);
  return `${e.eventName} ${e.additionalEventData.outcome}${e.errorCode ? ` ${e.errorCode}` : ''} jobs=${JSON.stringify(e.referencedResources[JOB] ?? [])}${decisive.length ? ` ${decisive.join(' ')}` : ''}`;
}

// ---------------------------------------------------------------------------------------------
// Users

interface DeniedUser {
  name: string;
  role: Role;
  policy?: (victim: Victim) => PolicyDocument;
  /** Which variants this user sends (never one its policy would allow to end the cluster). */
  sends: (v: Variant) => boolean;
  /** What this user must never cause; a description when it did. */
  violation: (e: Effects) => string | undefined;
}

interface Victim {
  jobId: string;
  jobName: string;
  jar: string;
}

const anyChange = (e: Effects) => (changed(e) ? describeEffects(e) : undefined);
const onJob = (v: Variant) => v.target === 'job';

const DENIED_USERS: readonly DeniedUser[] = [
  // First, while the gateway has never seen the victim's name: a name Deny must hold cold.
  { name: 'deny-by-name', role: 'admin', policy: (v) => ({ Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:*'], Resource: [`cluster/default/job/${v.jobName}`] }] }), sends: onJob, violation: anyChange },
  { name: 'deny-by-id', role: 'admin', policy: (v) => ({ Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:*'], Resource: [`cluster/default/job/${v.jobId}`] }] }), sends: onJob, violation: anyChange },
  {
    name: 'deny-cancel',
    role: 'operator',
    policy: () => ({ Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:CancelJob', 'RealtimeCompute:StopJob', 'RealtimeCompute:StopJobWithSavepoint', ...CANCEL_WITH_SAVEPOINT_EVENTS.map((n) => `RealtimeCompute:${n}`)] }] }),
    sends: onJob,
    violation: (e) => (e.ended ? `job ${e.ended}` : undefined),
  },
  { name: 'viewer', role: 'viewer', sends: (v) => !isDeniedOnly(v), violation: anyChange },
  {
    name: 'deny-jars',
    role: 'developer',
    policy: () => ({ Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:UploadJar', 'RealtimeCompute:DeleteJar', 'RealtimeCompute:RunJar'] }] }),
    sends: (v) => v.target === 'jar' || v.target === 'upload',
    violation: (e) => (e.jarsAdded.length || e.jarsRemoved.length || e.jobsAdded.length ? describeEffects(e) : undefined),
  },
  // Last: if a shutdown got through, nothing after it could run.
  { name: 'viewer-shutdown', role: 'viewer', sends: isDeniedOnly, violation: anyChange },
  { name: 'deny-shutdown', role: 'admin', policy: () => ({ Statement: [{ Effect: 'Deny', Action: ['RealtimeCompute:ShutdownCluster'] }] }), sends: isDeniedOnly, violation: anyChange },
];

// ---------------------------------------------------------------------------------------------
// The harness

export interface HarnessOptions {
  flinkUrl: string;
  /** The gateway listener's origin (paths as on Flink). */
  gatewayUrl: string;
  apiUrl: string;
  dataDir: string;
  jobJar: string;
  /** Only the CI sample (variant.sample), and at most this many allowed variants that end a job. */
  sample: boolean;
  log?: (line: string) => void;
}

export interface Harness {
  counts: Counts;
  /** Every variant the generator makes (for coverage checks). */
  variants: readonly Variant[];
  /** The variants actually sent by the allowed user in this run. */
  allowedVariants: readonly Variant[];
  run(): Promise<Counts>;
  cleanup(): Promise<void>;
}

/** Creates the users in the data directory; call before FlinkTrail opens it. */
export async function createHarnessUsers(dataDir: string): Promise<Map<string, Credentials>> {
  const creds = new Map<string, Credentials>();
  creds.set('allowed', await makeKey(dataDir, 'diff-admin', 'admin'));
  for (const u of DENIED_USERS) creds.set(u.name, await makeKey(dataDir, `diff-${u.name}`, u.role));
  return creds;
}

export function createHarness(opts: HarnessOptions, creds: Map<string, Credentials>): Harness {
  const log = opts.log ?? (() => undefined);
  const flink = opts.flinkUrl.replace(/\/+$/, '');
  const gateway = new URL(opts.gatewayUrl).origin;
  const admin = creds.get('allowed') as Credentials;
  const variants = generateVariants();
  const allowedVariants = variants.filter((v) => !isDeniedOnly(v) && (!opts.sample || v.sample));
  const counts: Counts = { tried: 0, refused: 0, matched: 0, mismatches: [], denied: { tried: 0, refused: 0, forwarded: 0, stateChanges: [] }, jobsStarted: 0, byDimension: {} };
  for (const v of variants) counts.byDimension[v.dimension] = (counts.byDimension[v.dimension] ?? 0) + 1;

  let baseJar = '';
  // Names of everything this run creates start so: the cluster may be shared with other suites.
  const prefix = `ftdiff-${randomBytes(3).toString('hex')}-`;
  const jarName = `${prefix}demo.jar`;
  const upload = () => uploadJar(flink, opts.jobJar, jarName);
  const startedJobs = new Set<string>();
  const knownNames = new Set<string>();
  const tmJson = { id: '' };

  /** RunJar with a chosen job id (RunJar's `jobId`), so that every spelling kind applies. */
  async function startJobWithId(name: string): Promise<string> {
    knownNames.add(name);
    const jobId = jobIdForVariants();
    const res = await sendJson<{ jobid?: string }>('POST', `${flink}/jars/${encodeURIComponent(baseJar)}/run`, {
      programArgsList: ['--job-name', name, '--checkpoint-interval', '0', '--rate', '5'],
      parallelism: 1,
      jobId,
    });
    if (res.jobid !== jobId) throw new Error(`RunJar answered ${JSON.stringify(res)} for jobId ${jobId}`);
    startedJobs.add(jobId);
    counts.jobsStarted++;
    await waitRunning(jobId);
    return jobId;
  }

  async function waitRunning(jobId: string): Promise<void> {
    const deadline = Date.now() + 120_000;
    for (;;) {
      const j = await getJson<{ state?: string; vertices?: { status?: string }[] }>(`${flink}/jobs/${jobId}`).catch(() => undefined);
      if (j?.state === 'RUNNING' && (j.vertices ?? []).every((v) => v.status === 'RUNNING')) return;
      if (j?.state && !TRANSITIONAL.has(j.state) && j.state !== 'RUNNING') throw new Error(`job ${jobId} is ${j.state}, not RUNNING`);
      if (Date.now() > deadline) throw new Error(`job ${jobId} not RUNNING after 120 s (${j?.state ?? 'unknown'})`);
      await sleep(200);
    }
  }

  /**
   * Savepoints and checkpoints are read from the JobManager's directories, not from the REST
   * statistics: Flink caches those (web.refresh-interval), and a stale answer would credit one
   * variant with what the one before it did.
   */
  let dirs: { savepoints: string; checkpoints: string } | undefined;
  async function stateDirs(): Promise<{ savepoints: string; checkpoints: string }> {
    if (dirs) return dirs;
    const conf = new Map((await getJson<{ key: string; value: string }[]>(`${flink}/jobmanager/config`)).map((e) => [e.key, e.value]));
    const local = (...keys: string[]) => {
      const v = keys.map((k) => conf.get(k)).find(Boolean);
      if (!v?.startsWith('file:')) throw new Error(`differential: ${keys[0]} must be a local directory of this machine (is ${v ?? 'unset'})`);
      return fileURLToPath(v);
    };
    dirs = { savepoints: local('execution.checkpointing.savepoint-dir', 'state.savepoints.dir'), checkpoints: local('execution.checkpointing.dir', 'state.checkpoints.dir') };
    return dirs;
  }

  async function state(jobId?: string): Promise<FlinkState> {
    const up = await getJson<{ taskmanagers?: number }>(`${flink}/overview`).then(
      () => true,
      () => false,
    );
    if (!up) return { clusterUp: false, jars: [], jobs: new Map() };
    const jars = (await getJson<{ files: { id: string }[] }>(`${flink}/jars`)).files.map((f) => f.id).filter((id) => id.endsWith(`_${jarName}`)).sort();
    const out: FlinkState = { clusterUp: true, jars, jobs: await jobStates() };
    if (jobId) {
      const d = await stateDirs();
      const savepoints = (await readdir(d.savepoints).catch(() => [] as string[])).filter((n) => n.startsWith(`savepoint-${jobId.slice(0, 6)}-`)).length;
      const chk = (await readdir(join(d.checkpoints, jobId)).catch(() => [] as string[])).map((n) => /^chk-(\d+)$/.exec(n)?.[1]).filter((n): n is string => n !== undefined);
      out.checkpoints = { savepoints, latest: chk.length ? Math.max(...chk.map(Number)) : -1 };
    }
    return out;
  }

  /**
   * States of this run's jobs (by name prefix: other suites may share the cluster), from
   * /jobs/overview, which asks the dispatcher (never a cached execution graph).
   */
  async function jobStates(): Promise<Map<string, string>> {
    const { jobs } = await getJson<{ jobs: { jid: string; name: string; state: string }[] }>(`${flink}/jobs/overview`);
    return new Map(jobs.filter((j) => j.name.startsWith(prefix)).map((j) => [j.jid, j.state]));
  }

  /** Waits until what the answer started is over: its asynchronous operation, the job's transition. */
  async function settle(jobId: string | undefined, res: RawResponse): Promise<'savepoint' | 'checkpoint' | undefined> {
    let op: 'savepoint' | 'checkpoint' | undefined;
    let trigger: string | undefined;
    try {
      const body = JSON.parse(res.text) as Record<string, unknown>;
      if (typeof body['request-id'] === 'string') trigger = body['request-id'];
    } catch {
      /* not JSON */
    }
    if (jobId && trigger && !res.refusedWith) {
      const deadline = Date.now() + 90_000;
      for (;;) {
        let pending = false;
        for (const kind of ['savepoints', 'checkpoints'] as const) {
          const r = await fetch(`${flink}/jobs/${jobId}/${kind}/${trigger}`);
          if (r.status !== 200) {
            await r.text();
            continue;
          }
          const s = (await r.json()) as { status?: { id?: string } };
          op = kind === 'savepoints' ? 'savepoint' : 'checkpoint';
          pending = s.status?.id !== 'COMPLETED';
        }
        if (!pending || Date.now() > deadline) break;
        await sleep(200);
      }
    }
    if (jobId) {
      const deadline = Date.now() + 60_000;
      let rechecked = res.status >= 300;
      for (;;) {
        const s = (await jobStates().catch(() => undefined))?.get(jobId) ?? 'unknown';
        if (!TRANSITIONAL.has(s)) {
          if (s !== 'RUNNING' || rechecked) break;
          // A 2xx that leaves the job RUNNING: look once more after Flink had time to act.
          rechecked = true;
          await sleep(500);
          continue;
        }
        if (Date.now() > deadline) break;
        await sleep(200);
      }
    }
    return op;
  }

  function effectsOf(before: FlinkState, after: FlinkState, jobId: string | undefined, op: 'savepoint' | 'checkpoint' | undefined): Effects {
    const e: Effects = {
      savepoint: op === 'savepoint',
      checkpoint: op === 'checkpoint',
      jarsAdded: after.jars.filter((j) => !before.jars.includes(j)),
      jarsRemoved: before.jars.filter((j) => !after.jars.includes(j)),
      jobsAdded: [...after.jobs.keys()].filter((j) => !before.jobs.has(j)),
      clusterDown: before.clusterUp && !after.clusterUp,
    };
    if (jobId) {
      const s = after.jobs.get(jobId);
      if (before.jobs.get(jobId) === 'RUNNING' && s && s !== 'RUNNING') e.ended = s;
      const b = before.checkpoints;
      const a = after.checkpoints;
      if (b && a) {
        if (a.savepoints > b.savepoints) e.savepoint = true;
        // A job's checkpoint directory goes when the job is cancelled: only a higher number counts.
        if (a.latest > b.latest) e.checkpoint = true;
      }
    }
    return e;
  }

  async function recordOf(cred: Credentials, requestId: string, since: string): Promise<ActionTrailEvent | undefined> {
    const deadline = Date.now() + 15_000;
    for (;;) {
      let token: string | undefined;
      let found: ActionTrailEvent | undefined;
      do {
        const page = await lookup(opts.apiUrl, admin, { accessKeyId: cred.accessKeyId, startTime: since, maxResults: '200', ...(token ? { nextToken: token } : {}) });
        found = page.Events.find((e) => e.requestId === requestId) ?? found;
        token = page.NextToken;
      } while (token && !found);
      if (found && found.additionalEventData.outcome !== 'pending') return found;
      if (Date.now() > deadline) return found;
      await sleep(100);
    }
  }

  /** A refusal must be recorded as that refusal. */
  function refusalProblem(record: ActionTrailEvent | undefined, res: RawResponse): string | undefined {
    if (!record) return 'no record of the refusal';
    if (record.additionalEventData.outcome !== 'failure' || record.errorCode !== res.refusedWith || record.additionalEventData.httpStatus !== res.status) {
      return `refused with HTTP ${res.status} ${res.refusedWith ?? ''}, recorded as ${describeRecord(record)}`;
    }
    return undefined;
  }

  /** What the record must say for what Flink did; undefined when it does. */
  function problemWith(record: ActionTrailEvent | undefined, res: RawResponse, e: Effects, jobId: string | undefined): string | undefined {
    if (!record) return 'no record of the request';
    // A refusal may name the job as it was spelled: that is what was asked, and nothing happened.
    if (res.refusedWith) return changed(e) ? `refused with ${res.refusedWith}, but Flink changed: ${describeEffects(e)}` : refusalProblem(record, res);
    const jobs = record.referencedResources[JOB] ?? [];
    const odd = jobs.filter((j) => !/^[0-9a-f]{32}$/.test(j) && !knownNames.has(j));
    if (odd.length) return `job resources not canonical: ${JSON.stringify(odd)}`;
    const outcome = record.additionalEventData.outcome;
    const expectJob = () => (jobId && !jobs.includes(jobId) ? `the record does not name job ${jobId}` : undefined);
    const expectName = (names: readonly string[]) => (names.includes(record.eventName) ? undefined : `Flink did "${describeEffects(e)}", recorded ${record.eventName} (expected ${names.join(' or ')})`);
    if (e.clusterDown) return 'the cluster went down';
    if (e.ended === 'CANCELED' && e.savepoint) return expectName(CANCEL_WITH_SAVEPOINT_EVENTS) ?? expectJob();
    if (e.ended === 'CANCELED') return expectName(['CancelJob']) ?? expectJob();
    if (e.ended === 'FINISHED') return expectName(['StopJobWithSavepoint']) ?? expectJob();
    if (e.ended) return `job ${e.ended} after ${record.eventName}`;
    if (e.savepoint) {
      if (record.requestParameters['cancel-job'] === true) return `Flink kept the job running, the record says cancel-job=true (${record.eventName})`;
      return expectName(['TriggerSavepoint']) ?? expectJob();
    }
    if (e.checkpoint) return expectName(['TriggerCheckpoint']) ?? expectJob();
    if (e.jarsRemoved.length) return expectName(['DeleteJar']) ?? (e.jarsRemoved.every((j) => record.referencedResources[JAR]?.includes(j)) ? undefined : `the record does not name jar ${e.jarsRemoved.join(',')}`);
    if (e.jarsAdded.length) return expectName(['UploadJar']) ?? (e.jarsAdded.every((j) => record.referencedResources[JAR]?.includes(j)) ? undefined : `the record does not name jar ${e.jarsAdded.join(',')}`);
    if (e.jobsAdded.length) return expectName(['RunJar', 'SubmitJob']) ?? (e.jobsAdded.every((j) => jobs.includes(j)) ? undefined : `the record does not name job ${e.jobsAdded.join(',')}`);
    // Flink changed nothing.
    if (res.status >= 400) return outcome === 'failure' ? undefined : `Flink answered ${res.status} and changed nothing, recorded ${describeRecord(record)}`;
    if (outcome !== 'success') return `Flink answered ${res.status}, recorded ${describeRecord(record)}`;
    if (EFFECT_EVENTS.has(record.eventName)) return `Flink answered ${res.status} and changed nothing, but the record says ${record.eventName}`;
    return undefined;
  }

  // --- targets

  let current: string | undefined;
  async function currentJob(): Promise<string> {
    const s = current ? (await jobStates()).get(current) : undefined;
    if (!current || s !== 'RUNNING') current = await startJobWithId(`${prefix}job-${counts.jobsStarted + 1}`);
    return current;
  }

  async function idsFor(v: Variant, runName: string): Promise<{ ids: Ids; jobId?: string }> {
    const ids: Ids = { job: '0'.repeat(32), jar: baseJar, taskmanager: tmJson.id, runName };
    if (v.target === 'job') {
      ids.job = await currentJob();
      return { ids, jobId: ids.job };
    }
    if (v.target === 'jar' && v.row.eventName === 'DeleteJar') ids.jar = await upload();
    return { ids };
  }

  /** Leaves the cluster as it was: jobs a variant started are cancelled, jars it uploaded deleted. */
  async function tidy(e: Effects): Promise<void> {
    for (const j of e.jobsAdded) {
      startedJobs.add(j);
      await fetch(`${flink}/jobs/${j}?mode=cancel`, { method: 'PATCH' }).then((r) => r.text()).catch(() => undefined);
    }
    for (const j of e.jarsAdded) await fetch(`${flink}/jars/${encodeURIComponent(j)}`, { method: 'DELETE' }).then((r) => r.text()).catch(() => undefined);
  }

  async function runAllowed(v: Variant): Promise<void> {
    const cred = admin;
    const runName = `${prefix}run-${counts.tried + 1}`;
    knownNames.add(runName);
    const { ids, jobId } = await idsFor(v, runName);
    const req = v.build(ids);
    const before = await state(jobId);
    const since = new Date(Date.now() - 1000).toISOString();
    const res = await sendRaw(gateway, req, basic(cred));
    const op = await settle(jobId, res);
    const after = await state(jobId);
    const e = effectsOf(before, after, jobId, op);
    const record = res.requestId ? await recordOf(cred, res.requestId, since) : undefined;
    counts.tried++;
    const problem = res.requestId ? problemWith(record, res, e, jobId) : `no X-Request-Id (HTTP ${res.status}: ${res.text.slice(0, 200)})`;
    if (problem) {
      counts.mismatches.push({ variant: v.name, user: 'allowed', request: describeRequest(req), status: res.status, flinkDid: describeEffects(e), recorded: describeRecord(record), problem });
      log(`MISMATCH ${v.name}: ${problem}`);
    } else if (res.refusedWith) counts.refused++;
    else counts.matched++;
    log(`${counts.tried}/${allowedVariants.length} ${res.status}${res.refusedWith ? ` ${res.refusedWith}` : ''} ${describeEffects(e)} ← ${v.name}`);
    await tidy(e);
  }

  let victim: Victim | undefined;
  async function newVictim(): Promise<Victim> {
    const jobName = `${prefix}victim`;
    const jobId = await startJobWithId(jobName);
    const jar = victim?.jar && (await state()).jars.includes(victim.jar) ? victim.jar : await upload();
    victim = { jobId, jobName, jar };
    // Policies name the victim (by id for deny-by-id): written again for every new victim.
    for (const u of DENIED_USERS) {
      if (!u.policy) continue;
      await apiCall('PUT', `/api/v1/policies/ftdiff-${u.name}`, { document: u.policy(victim) });
    }
    return victim;
  }

  async function apiCall(method: string, path: string, body: unknown): Promise<void> {
    const r = await fetch(`${opts.apiUrl}${path}`, { method, headers: { authorization: basic(admin), 'content-type': 'application/json' }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`${method} ${path}: ${r.status} ${await r.text()}`);
  }

  async function runDenied(u: DeniedUser, v: Variant): Promise<void> {
    const cred = creds.get(u.name) as Credentials;
    const vic = victim ?? (await newVictim());
    const runName = `${prefix}denied-run-${counts.denied.tried + 1}`;
    const ids: Ids = { job: vic.jobId, jar: vic.jar, taskmanager: tmJson.id, runName };
    const jobId = v.target === 'job' ? vic.jobId : undefined;
    const req = v.build(ids);
    const before = await state(vic.jobId);
    const since = new Date(Date.now() - 1000).toISOString();
    const res = await sendRaw(gateway, req, basic(cred));
    const op = await settle(jobId ?? (res.refusedWith ? undefined : vic.jobId), res);
    const after = await state(vic.jobId);
    const e = effectsOf(before, after, vic.jobId, op);
    counts.denied.tried++;
    const violation = u.violation(e);
    const record = res.requestId ? await recordOf(cred, res.requestId, since) : undefined;
    if (violation) {
      counts.denied.stateChanges.push({ variant: v.name, user: u.name, request: describeRequest(req), status: res.status, flinkDid: describeEffects(e), recorded: describeRecord(record), problem: `denied user ${u.name} caused: ${violation}` });
      log(`DENIED-USER STATE CHANGE ${u.name} ${v.name}: ${violation} (recorded ${describeRecord(record)})`);
    }
    if (res.refusedWith) {
      counts.denied.refused++;
      const problem = refusalProblem(record, res);
      if (problem) counts.mismatches.push({ variant: v.name, user: u.name, request: describeRequest(req), status: res.status, flinkDid: describeEffects(e), recorded: describeRecord(record), problem });
    } else counts.denied.forwarded++;
    log(`denied ${u.name} ${res.status}${res.refusedWith ? ` ${res.refusedWith}` : ''} ${describeEffects(e)} ← ${v.name}`);
    await tidy(e);
    if (e.ended || e.clusterDown) victim = undefined;
    else if (e.jarsRemoved.includes(vic.jar)) victim = { ...vic, jar: await upload() };
  }

  return {
    counts,
    variants,
    allowedVariants,
    async run() {
      setDemoJar(await readFile(opts.jobJar), jarName);
      baseJar = await upload();
      tmJson.id = (await getJson<{ taskmanagers: { id: string }[] }>(`${flink}/taskmanagers`)).taskmanagers[0]?.id ?? 'none';
      for (const u of DENIED_USERS) {
        if (!u.policy) continue;
        await apiCall('PUT', `/api/v1/policies/ftdiff-${u.name}`, { document: u.policy({ jobId: '0'.repeat(32), jobName: `${prefix}victim`, jar: '' }) });
        await apiCall('POST', `/api/v1/users/diff-${u.name}/policies`, { policyName: `ftdiff-${u.name}` });
      }
      await newVictim();
      // Denied users first (the cold name cache is part of what is tested), shutdown last of all.
      for (const u of DENIED_USERS) {
        if (u.sends === isDeniedOnly) continue;
        for (const v of variants.filter((x) => u.sends(x) && (!opts.sample || x.deniedSample))) await runDenied(u, v);
      }
      for (const v of allowedVariants) await runAllowed(v);
      for (const u of DENIED_USERS.filter((x) => x.sends === isDeniedOnly)) {
        for (const v of variants.filter((x) => u.sends(x) && (!opts.sample || x.deniedSample))) await runDenied(u, v);
      }
      return counts;
    },
    async cleanup() {
      for (const j of startedJobs) await fetch(`${flink}/jobs/${j}?mode=cancel`, { method: 'PATCH' }).then((r) => r.text()).catch(() => undefined);
      const left = await state().catch(() => undefined);
      for (const jar of left?.jars ?? []) await fetch(`${flink}/jars/${encodeURIComponent(jar)}`, { method: 'DELETE' }).then((r) => r.text()).catch(() => undefined);
    },
  };
}
