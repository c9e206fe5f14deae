/**
 * Access levels of Flink operations — the ladder FLINK-6387 asked for: view only, + logs,
 * + cancel, + submit, + administer. Every catalog event name falls on one rung; the built-in
 * roles are cumulative over the ladder (`viewer` ⊂ `operator` ⊂ `developer` ⊂ `admin`).
 */
import type { EventRW } from '../event/types.js';

export const LEVELS = ['read', 'logs', 'operate', 'develop', 'admin'] as const;
export type Level = (typeof LEVELS)[number];

/** Reads that can reveal secrets or internals: logs, stdout, thread dumps, configuration, profiles. */
const LOG_LIKE = /(Log|Stdout|ThreadDump|Profiling|FlameGraph|Environment)/;
const CONFIG_READS = new Set(['GetJobManagerConfig', 'GetJobManagerJobConfig', 'GetJobConfig', 'GetSessionConfig']);

/** Operations on running jobs: stop, cancel, savepoint, checkpoint, rescale, profile. */
const OPERATE = new Set([
  'CancelJob',
  'CancelJobWithSavepoint',
  'StopJob',
  'StopJobWithSavepoint',
  'TriggerSavepoint',
  'TriggerCheckpoint',
  'RescaleJob',
  'UpdateJobResourceRequirements',
  'DisposeSavepoint',
  'CreateJobManagerProfiling',
  'CreateTaskManagerProfiling',
]);

/** Running code on the cluster: jars, job submission, SQL. */
const DEVELOP = new Set(['UploadJar', 'DeleteJar', 'RunJar', 'GetJarPlan', 'SubmitJob', 'SendCoordinationRequest', 'ReportClientHeartbeat']);

/** Operations that affect the whole cluster. */
const ADMIN = new Set(['ShutdownCluster', 'DeleteClusterDataSet']);

/** SQL Gateway calls that need no session (version, info). */
const SQL_PUBLIC = new Set(['GetApiVersions', 'GetGatewayInfo']);

export interface FlinkAction {
  eventName: string;
  eventRW: EventRW;
  /** Which Flink server: SQL Gateway calls are development work. */
  api: 'dispatcher' | 'sql_gateway' | 'history_server';
  known: boolean;
}

/** The rung an operation is on. Unknown writes need admin; unknown reads, operator. */
export function levelOf(a: FlinkAction): Level {
  if (ADMIN.has(a.eventName)) return 'admin';
  if (DEVELOP.has(a.eventName)) return 'develop';
  if (OPERATE.has(a.eventName)) return 'operate';
  if (a.api === 'sql_gateway') return SQL_PUBLIC.has(a.eventName) ? 'read' : 'develop';
  if (!a.known) return a.eventRW === 'Write' ? 'admin' : 'logs';
  if (a.eventRW === 'Write') return 'admin';
  if (CONFIG_READS.has(a.eventName) || LOG_LIKE.test(a.eventName)) return 'logs';
  return 'read';
}
