/**
 * The Flink REST endpoint catalog: one row per endpoint that the JobManager (dispatcher),
 * the SQL Gateway and the History Server serve, with the audit meaning FlinkTrail gives it —
 * event name, Read/Write, the resource type it is about, which path parameters name resources,
 * and whether it is on the curated sensitive list.
 *
 * Transcribed from shared/reference/flink/endpoints.tsv and checked against Flink's OpenAPI
 * specs (shared/reference/flink/spec/), webui-and-flags.md and Flink's router source. Where this
 * table departs from the TSV, the row says why in a comment; flink-rest.test.ts lists every
 * departure and fails on an unlisted one. `docs/reference/flink-events.md` is generated from this
 * table (`node --import tsx src/catalog/print-docs.ts`).
 *
 * Classification uses method + path + query only: the body may not have arrived yet. Where a body
 * field changes what Flink does, a body variant (BODY_VARIANTS below) names the operation Flink
 * will actually run, and the gateway applies it once it has parsed the body, before authorizing:
 * `POST /jobs/:jobid/savepoints` with `"cancel-job": true` cancels the job, so it is recorded and
 * authorized as `CancelJobWithSavepoint`. Other body fields (the SQL text of `ExecuteStatement`,
 * `drain` of `StopJobWithSavepoint`) are recorded in `requestParameters`.
 */
import type { EventRW } from '../event/types.js';
import type { FlinkApi } from './types.js';

/** HTTP methods Flink registers handlers for (its router knows no HEAD or OPTIONS routes). */
export const CATALOG_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export type CatalogMethod = (typeof CATALOG_METHODS)[number];

/**
 * Resource types, used as `ACS::RealtimeCompute::<Type>` in `referencedResources`.
 * - `Cluster`: the Flink cluster as a whole (overview, dashboard config, shutdown, Web UI).
 * - `JobManager` / `TaskManager`: one process of the cluster (config, logs, metrics, profiler).
 * - `Job`: a Flink job, by its 32-hex JobID.
 * - `Vertex`: a job vertex (task) and its subtasks, by its 32-hex JobVertexID.
 * - `Checkpoint` / `Savepoint`: a job's checkpoints and savepoints.
 * - `Jar`: a jar uploaded through the Web UI / `/jars/upload`, by its id (`<uuid>_<name>.jar`).
 * - `ClusterDataSet`: a cached intermediate result, by its 32-hex IntermediateDataSetID.
 * - `SqlGateway`: the SQL Gateway itself (version and product info).
 * - `Session` / `Operation`: a SQL Gateway session and an operation within it, by handle (UUID).
 * - `Statement`: a SQL statement submitted to a session (no id of its own; the operation handle
 *   in the response names it).
 * - `Script`: a SQL script deployed in application mode (SQL Gateway v4).
 * - `MaterializedTable`: a materialized table, by its identifier (SQL Gateway v3).
 * - `Workflow`: a materialized table's refresh workflow in the embedded scheduler.
 */
export const RESOURCE_TYPES = [
  'Cluster',
  'JobManager',
  'TaskManager',
  'Job',
  'Vertex',
  'Checkpoint',
  'Savepoint',
  'Jar',
  'ClusterDataSet',
  'SqlGateway',
  'Session',
  'Operation',
  'Statement',
  'Script',
  'MaterializedTable',
  'Workflow',
] as const;
export type ResourceType = (typeof RESOURCE_TYPES)[number];

/**
 * Path parameters that name a resource, and the type they name. A parameter name means the same
 * thing in every template, so this one map decides `referencedResources` for the whole table.
 * Deliberately absent: `triggerid` and `rescaleuuid` (ids of an asynchronous operation, not of a
 * resource), `subtaskindex` / `attempt` / `token` (positions, meaningless alone), `filename` (a
 * log or profiler file), `operatorid` (an operator coordinator, internal to `collect()`).
 * They all still appear in `params`.
 */
export const RESOURCE_PARAMS: Readonly<Record<string, ResourceType>> = Object.freeze({
  jobid: 'Job',
  vertexid: 'Vertex',
  checkpointid: 'Checkpoint',
  jarid: 'Jar',
  taskmanagerid: 'TaskManager',
  datasetid: 'ClusterDataSet',
  session_handle: 'Session',
  operation_handle: 'Operation',
  identifier: 'MaterializedTable',
});

/** The catch-all template of Flink's static file handler (Web UI assets, History Server files). */
export const WEB_UI_ASSET_TEMPLATE = '/:*';

/** One catalog row: what one (api, method, path template[, query]) means for the audit record. */
export interface CatalogEntry {
  readonly api: FlinkApi;
  readonly method: CatalogMethod;
  /** Flink's own notation: `/jobs/:jobid/savepoints`; `/:*` is the static-file catch-all. */
  readonly template: string;
  /**
   * Query parameters that select this row over the plain one with the same method and template,
   * e.g. `{ mode: 'stop' }`. Matched as Flink reads them: the first value's first comma-separated
   * item, case-insensitively.
   */
  readonly query?: Readonly<Record<string, string>>;
  /** PascalCase, verb first, as ActionTrail names operations. */
  readonly eventName: string;
  readonly eventRW: EventRW;
  /** The kind of resource the operation is about (the docs' "resource type" column). */
  readonly resourceType: ResourceType;
  /** All path parameters of the template, in order. */
  readonly params: readonly string[];
  /** The path parameters that name resources (a subset of `params`; types from RESOURCE_PARAMS). */
  readonly resourceParams: readonly string[];
  /** On the curated list of sensitive operations (shown in ActionTrail's "Sensitive" filter). */
  readonly sensitive: boolean;
  /**
   * Whether Flink's generated OpenAPI spec documents the endpoint. History Server rows: whether
   * the JobManager's spec documents the same route (the archived file is that route's response).
   */
  readonly documented: boolean;
  /** Why the row is as it is, when that is not obvious. */
  readonly note?: string;
}

/** A row as written below; `define` fills in the derived fields and defaults. */
interface Row {
  readonly method: CatalogMethod;
  readonly template: string;
  readonly query?: Readonly<Record<string, string>>;
  readonly eventName: string;
  readonly eventRW: EventRW;
  readonly resourceType: ResourceType;
  /** Default false. */
  readonly sensitive?: boolean;
  /** Default true. */
  readonly documented?: boolean;
  readonly note?: string;
}

function define(api: FlinkApi, rows: readonly Row[]): CatalogEntry[] {
  return rows.map((row) => {
    const params = row.template
      .split('/')
      .filter((segment) => segment.startsWith(':'))
      .map((segment) => segment.slice(1));
    const entry: CatalogEntry = {
      api,
      method: row.method,
      template: row.template,
      ...(row.query ? { query: Object.freeze({ ...row.query }) } : {}),
      eventName: row.eventName,
      eventRW: row.eventRW,
      resourceType: row.resourceType,
      params: Object.freeze(params),
      resourceParams: Object.freeze(params.filter((name) => name in RESOURCE_PARAMS)),
      sensitive: row.sensitive ?? false,
      documented: row.documented ?? true,
      ...(row.note ? { note: row.note } : {}),
    };
    return Object.freeze(entry);
  });
}

const R: EventRW = 'Read';
const W: EventRW = 'Write';

/**
 * JobManager REST API (the dispatcher's WebMonitorEndpoint), served unversioned and under `/v1`.
 * The Web UI uses the same routes without the prefix.
 */
const DISPATCHER = define('dispatcher', [
  { method: 'DELETE', template: '/cluster', eventName: 'ShutdownCluster', eventRW: W, resourceType: 'Cluster', sensitive: true },
  // TSV: GetDashboardConfiguration. Renamed: "Config" throughout, as the brief's GetJobManagerConfig.
  { method: 'GET', template: '/config', eventName: 'GetDashboardConfig', eventRW: R, resourceType: 'Cluster' },
  { method: 'GET', template: '/datasets', eventName: 'ListClusterDataSets', eventRW: R, resourceType: 'ClusterDataSet' },
  { method: 'GET', template: '/datasets/delete/:triggerid', eventName: 'GetClusterDataSetDeleteStatus', eventRW: R, resourceType: 'ClusterDataSet' },
  { method: 'DELETE', template: '/datasets/:datasetid', eventName: 'DeleteClusterDataSet', eventRW: W, resourceType: 'ClusterDataSet', sensitive: true },
  { method: 'GET', template: '/jars', eventName: 'ListJars', eventRW: R, resourceType: 'Jar' },
  { method: 'POST', template: '/jars/upload', eventName: 'UploadJar', eventRW: W, resourceType: 'Jar', sensitive: true, note: 'The jar id is in the response (filename); the gateway adds it.' },
  { method: 'DELETE', template: '/jars/:jarid', eventName: 'DeleteJar', eventRW: W, resourceType: 'Jar', sensitive: true },
  // TSV: not sensitive. Building the plan runs the jar's main() on the JobManager: code execution
  // that a Write-only trail would never show, so it is flagged although it stays a Read.
  { method: 'GET', template: '/jars/:jarid/plan', eventName: 'GetJarPlan', eventRW: R, resourceType: 'Jar', sensitive: true, documented: false, note: "Web UI 'Show Plan'; runs the jar's main() on the JobManager." },
  { method: 'POST', template: '/jars/:jarid/plan', eventName: 'GetJarPlan', eventRW: R, resourceType: 'Jar', sensitive: true, note: "Runs the jar's main() on the JobManager." },
  { method: 'POST', template: '/jars/:jarid/run', eventName: 'RunJar', eventRW: W, resourceType: 'Job', sensitive: true, note: 'Submits a job; the job id is in the response.' },
  // TSV: GetClusterConfiguration. Renamed to the brief's name; the path is the JobManager's.
  { method: 'GET', template: '/jobmanager/config', eventName: 'GetJobManagerConfig', eventRW: R, resourceType: 'JobManager' },
  { method: 'GET', template: '/jobmanager/environment', eventName: 'GetJobManagerEnvironment', eventRW: R, resourceType: 'JobManager' },
  { method: 'GET', template: '/jobmanager/log', eventName: 'GetJobManagerLog', eventRW: R, resourceType: 'JobManager', documented: false },
  { method: 'GET', template: '/jobmanager/logs', eventName: 'ListJobManagerLogs', eventRW: R, resourceType: 'JobManager' },
  { method: 'GET', template: '/jobmanager/logs/:filename', eventName: 'GetJobManagerLogFile', eventRW: R, resourceType: 'JobManager', documented: false },
  { method: 'GET', template: '/jobmanager/metrics', eventName: 'GetJobManagerMetrics', eventRW: R, resourceType: 'JobManager' },
  { method: 'GET', template: '/jobmanager/profiler', eventName: 'ListJobManagerProfilingResults', eventRW: R, resourceType: 'JobManager', documented: false, note: 'Only with rest.profiling.enabled.' },
  { method: 'POST', template: '/jobmanager/profiler', eventName: 'CreateJobManagerProfiling', eventRW: W, resourceType: 'JobManager', sensitive: true, documented: false, note: 'Runs async-profiler in the JobManager; only with rest.profiling.enabled.' },
  { method: 'GET', template: '/jobmanager/profiler/:filename', eventName: 'GetJobManagerProfilingFile', eventRW: R, resourceType: 'JobManager', documented: false },
  { method: 'GET', template: '/jobmanager/stdout', eventName: 'GetJobManagerStdout', eventRW: R, resourceType: 'JobManager', documented: false },
  { method: 'GET', template: '/jobmanager/thread-dump', eventName: 'GetJobManagerThreadDump', eventRW: R, resourceType: 'JobManager' },
  { method: 'GET', template: '/jobs', eventName: 'ListJobs', eventRW: R, resourceType: 'Job' },
  { method: 'POST', template: '/jobs', eventName: 'SubmitJob', eventRW: W, resourceType: 'Job', sensitive: true, documented: false, note: 'flink CLI / RestClusterClient (multipart JobGraph); not in the 2.x spec but always registered.' },
  { method: 'GET', template: '/jobs/metrics', eventName: 'GetAggregatedJobMetrics', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/overview', eventName: 'GetJobsOverview', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid', eventName: 'GetJobDetails', eventRW: R, resourceType: 'Job' },
  { method: 'PATCH', template: '/jobs/:jobid', eventName: 'CancelJob', eventRW: W, resourceType: 'Job', sensitive: true, note: 'mode=cancel or no mode.' },
  // Added: the TSV folds this into the row above as a note. JobCancellationHandler takes the first
  // `mode` value; STOP is refused by Flink 1.9+, but the record names what was asked for.
  { method: 'PATCH', template: '/jobs/:jobid', query: { mode: 'stop' }, eventName: 'StopJob', eventRW: W, resourceType: 'Job', sensitive: true, note: 'Legacy stop; Flink 1.9+ refuses it.' },
  { method: 'GET', template: '/jobs/:jobid/accumulators', eventName: 'GetJobAccumulators', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints', eventName: 'GetCheckpointingStatistics', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'POST', template: '/jobs/:jobid/checkpoints', eventName: 'TriggerCheckpoint', eventRW: W, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/config', eventName: 'GetCheckpointConfig', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/details/:checkpointid', eventName: 'GetCheckpointDetails', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid', eventName: 'GetTaskCheckpointStatistics', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/:triggerid', eventName: 'GetCheckpointStatus', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'PATCH', template: '/jobs/:jobid/clientHeartbeat', eventName: 'ReportClientHeartbeat', eventRW: W, resourceType: 'Job', note: 'Attached-mode client liveness; high volume.' },
  { method: 'GET', template: '/jobs/:jobid/config', eventName: 'GetJobConfig', eventRW: R, resourceType: 'Job' },
  { method: 'POST', template: '/jobs/:jobid/coordinators/:operatorid', eventName: 'SendCoordinationRequest', eventRW: W, resourceType: 'Job', documented: false, note: 'Client to operator coordinator (collect()); internal.' },
  { method: 'GET', template: '/jobs/:jobid/exceptions', eventName: 'GetJobExceptions', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/execution-result', eventName: 'GetJobExecutionResult', eventRW: R, resourceType: 'Job' },
  // TSV: GetJobManagerJobConfiguration ("Config" as elsewhere).
  { method: 'GET', template: '/jobs/:jobid/jobmanager/config', eventName: 'GetJobManagerJobConfig', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/jobmanager/environment', eventName: 'GetJobManagerJobEnvironment', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/jobmanager/log-url', eventName: 'GetJobManagerLogUrl', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/metrics', eventName: 'GetJobMetrics', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/plan', eventName: 'GetJobPlan', eventRW: R, resourceType: 'Job' },
  // Added (not in the TSV or the 2.1 spec): Flink 2.2 adaptive-scheduler rescale history,
  // JobRescales*Headers in flink-runtime. Read-only.
  { method: 'GET', template: '/jobs/:jobid/rescales/config', eventName: 'GetJobRescaleConfig', eventRW: R, resourceType: 'Job', documented: false, note: 'Flink 2.2+.' },
  { method: 'GET', template: '/jobs/:jobid/rescales/details/:rescaleuuid', eventName: 'GetJobRescaleDetails', eventRW: R, resourceType: 'Job', documented: false, note: 'Flink 2.2+.' },
  { method: 'GET', template: '/jobs/:jobid/rescales/history', eventName: 'GetJobRescalesHistory', eventRW: R, resourceType: 'Job', documented: false, note: 'Flink 2.2+.' },
  { method: 'GET', template: '/jobs/:jobid/rescales/overview', eventName: 'GetJobRescalesOverview', eventRW: R, resourceType: 'Job', documented: false, note: 'Flink 2.2+.' },
  { method: 'GET', template: '/jobs/:jobid/rescales/summary', eventName: 'GetJobRescalesSummary', eventRW: R, resourceType: 'Job', documented: false, note: 'Flink 2.2+.' },
  { method: 'PATCH', template: '/jobs/:jobid/rescaling', eventName: 'RescaleJob', eventRW: W, resourceType: 'Job', sensitive: true, note: 'Disabled in Flink (FLINK-12312): answers 503.' },
  { method: 'GET', template: '/jobs/:jobid/rescaling/:triggerid', eventName: 'GetRescalingStatus', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/resource-requirements', eventName: 'GetJobResourceRequirements', eventRW: R, resourceType: 'Job' },
  { method: 'PUT', template: '/jobs/:jobid/resource-requirements', eventName: 'UpdateJobResourceRequirements', eventRW: W, resourceType: 'Job', sensitive: true, note: 'Adaptive-scheduler rescale (Web UI "Scale").' },
  { method: 'POST', template: '/jobs/:jobid/savepoints', eventName: 'TriggerSavepoint', eventRW: W, resourceType: 'Savepoint', note: 'Body "cancel-job": true makes it CancelJobWithSavepoint (see the body variants).' },
  { method: 'GET', template: '/jobs/:jobid/savepoints/:triggerid', eventName: 'GetSavepointStatus', eventRW: R, resourceType: 'Savepoint' },
  { method: 'GET', template: '/jobs/:jobid/status', eventName: 'GetJobStatus', eventRW: R, resourceType: 'Job' },
  { method: 'POST', template: '/jobs/:jobid/stop', eventName: 'StopJobWithSavepoint', eventRW: W, resourceType: 'Job', sensitive: true, note: '`flink stop`; body "drain": true ends the job with MAX_WATERMARK.' },
  { method: 'GET', template: '/jobs/:jobid/taskmanagers/:taskmanagerid/log-url', eventName: 'GetTaskManagerLogUrl', eventRW: R, resourceType: 'Job' },
  // TSV resource type JobVertex / Subtask: both are `Vertex` (a subtask index names nothing alone).
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid', eventName: 'GetJobVertexDetails', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/accumulators', eventName: 'GetJobVertexAccumulators', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/backpressure', eventName: 'GetJobVertexBackPressure', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/flamegraph', eventName: 'GetJobVertexFlameGraph', eventRW: R, resourceType: 'Vertex', note: 'Only with rest.flamegraph.enabled.' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/jm-operator-metrics', eventName: 'GetJobManagerOperatorMetrics', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/metrics', eventName: 'GetJobVertexMetrics', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/accumulators', eventName: 'GetSubtasksAccumulators', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/metrics', eventName: 'GetAggregatedSubtaskMetrics', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex', eventName: 'GetSubtaskDetails', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt', eventName: 'GetSubtaskAttemptDetails', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt/accumulators', eventName: 'GetSubtaskAttemptAccumulators', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/metrics', eventName: 'GetSubtaskMetrics', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasktimes', eventName: 'GetSubtasksTimes', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/taskmanagers', eventName: 'GetJobVertexTaskManagers', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/watermarks', eventName: 'GetJobVertexWatermarks', eventRW: R, resourceType: 'Vertex' },
  // A GET that cancels: what the Web UI's Cancel button calls. Write and sensitive despite GET.
  { method: 'GET', template: '/jobs/:jobid/yarn-cancel', eventName: 'CancelJob', eventRW: W, resourceType: 'Job', sensitive: true, documented: false, note: 'Web UI "Cancel Job"; a GET that cancels.' },
  // Added: the yarn-* routes use the same JobCancellationHandler, which honours `mode` over its
  // default — so yarn-cancel?mode=stop stops and yarn-stop?mode=cancel cancels.
  { method: 'GET', template: '/jobs/:jobid/yarn-cancel', query: { mode: 'stop' }, eventName: 'StopJob', eventRW: W, resourceType: 'Job', sensitive: true, documented: false, note: 'The mode query parameter overrides the route.' },
  { method: 'GET', template: '/jobs/:jobid/yarn-stop', eventName: 'StopJob', eventRW: W, resourceType: 'Job', sensitive: true, documented: false, note: 'A GET that stops (legacy mode; refused by Flink 1.9+).' },
  { method: 'GET', template: '/jobs/:jobid/yarn-stop', query: { mode: 'cancel' }, eventName: 'CancelJob', eventRW: W, resourceType: 'Job', sensitive: true, documented: false, note: 'The mode query parameter overrides the route.' },
  { method: 'GET', template: '/overview', eventName: 'GetClusterOverview', eventRW: R, resourceType: 'Cluster' },
  { method: 'POST', template: '/savepoint-disposal', eventName: 'DisposeSavepoint', eventRW: W, resourceType: 'Savepoint', sensitive: true, note: 'Deletes savepoint data (path in the body).' },
  { method: 'GET', template: '/savepoint-disposal/:triggerid', eventName: 'GetSavepointDisposalStatus', eventRW: R, resourceType: 'Savepoint' },
  { method: 'GET', template: '/taskmanagers', eventName: 'ListTaskManagers', eventRW: R, resourceType: 'TaskManager' },
  { method: 'GET', template: '/taskmanagers/metrics', eventName: 'GetAggregatedTaskManagerMetrics', eventRW: R, resourceType: 'TaskManager' },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid', eventName: 'GetTaskManagerDetails', eventRW: R, resourceType: 'TaskManager' },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/log', eventName: 'GetTaskManagerLog', eventRW: R, resourceType: 'TaskManager', documented: false },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/logs', eventName: 'ListTaskManagerLogs', eventRW: R, resourceType: 'TaskManager' },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/logs/:filename', eventName: 'GetTaskManagerLogFile', eventRW: R, resourceType: 'TaskManager', documented: false },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/metrics', eventName: 'GetTaskManagerMetrics', eventRW: R, resourceType: 'TaskManager' },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/profiler', eventName: 'ListTaskManagerProfilingResults', eventRW: R, resourceType: 'TaskManager', documented: false, note: 'Only with rest.profiling.enabled.' },
  { method: 'POST', template: '/taskmanagers/:taskmanagerid/profiler', eventName: 'CreateTaskManagerProfiling', eventRW: W, resourceType: 'TaskManager', sensitive: true, documented: false, note: 'Runs async-profiler in the TaskManager; only with rest.profiling.enabled.' },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/profiler/:filename', eventName: 'GetTaskManagerProfilingFile', eventRW: R, resourceType: 'TaskManager', documented: false },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/stdout', eventName: 'GetTaskManagerStdout', eventRW: R, resourceType: 'TaskManager', documented: false },
  { method: 'GET', template: '/taskmanagers/:taskmanagerid/thread-dump', eventName: 'GetTaskManagerThreadDump', eventRW: R, resourceType: 'TaskManager' },
  // TSV: GetWebUiAsset, type WebUi, path /*. Named as the brief asks; matched only for paths that
  // look like static files (see classify), other unmatched GETs stay unknown.
  { method: 'GET', template: WEB_UI_ASSET_TEMPLATE, eventName: 'GetWebUIAsset', eventRW: R, resourceType: 'Cluster', documented: false, note: 'Static Web UI files; the gateway may leave them unrecorded.' },
]);

/** Flink SQL Gateway REST API, served under `/v1`…`/v4` and unversioned (the default version). */
const SQL_GATEWAY = define('sql_gateway', [
  // TSV resource type Gateway: `SqlGateway`, so it is not mistaken for FlinkTrail's own gateway.
  { method: 'GET', template: '/api_versions', eventName: 'GetApiVersions', eventRW: R, resourceType: 'SqlGateway' },
  { method: 'GET', template: '/info', eventName: 'GetGatewayInfo', eventRW: R, resourceType: 'SqlGateway' },
  { method: 'POST', template: '/sessions', eventName: 'OpenSession', eventRW: W, resourceType: 'Session', note: 'Session properties may carry credentials (redact).' },
  { method: 'GET', template: '/sessions/:session_handle', eventName: 'GetSessionConfig', eventRW: R, resourceType: 'Session' },
  { method: 'DELETE', template: '/sessions/:session_handle', eventName: 'CloseSession', eventRW: W, resourceType: 'Session' },
  { method: 'GET', template: '/sessions/:session_handle/complete-statement', eventName: 'CompleteStatement', eventRW: R, resourceType: 'Session', note: 'v2+; a GET with a JSON body.' },
  { method: 'POST', template: '/sessions/:session_handle/configure-session', eventName: 'ConfigureSession', eventRW: W, resourceType: 'Session', sensitive: true, note: 'v2+; SET / ADD JAR / CREATE CATALOG and the like.' },
  // TSV: SessionHeartbeat. Renamed verb-first, like ReportClientHeartbeat.
  { method: 'POST', template: '/sessions/:session_handle/heartbeat', eventName: 'ReportSessionHeartbeat', eventRW: W, resourceType: 'Session', note: 'Keep-alive; high volume.' },
  { method: 'POST', template: '/sessions/:session_handle/materialized-tables/:identifier/refresh', eventName: 'RefreshMaterializedTable', eventRW: W, resourceType: 'MaterializedTable', sensitive: true, note: 'v3 only; submits a job.' },
  { method: 'POST', template: '/sessions/:session_handle/operations/:operation_handle/cancel', eventName: 'CancelOperation', eventRW: W, resourceType: 'Operation', sensitive: true },
  { method: 'DELETE', template: '/sessions/:session_handle/operations/:operation_handle/close', eventName: 'CloseOperation', eventRW: W, resourceType: 'Operation' },
  { method: 'GET', template: '/sessions/:session_handle/operations/:operation_handle/result/:token', eventName: 'FetchResults', eventRW: R, resourceType: 'Operation', note: 'Result paging; high volume.' },
  { method: 'GET', template: '/sessions/:session_handle/operations/:operation_handle/status', eventName: 'GetOperationStatus', eventRW: R, resourceType: 'Operation' },
  { method: 'POST', template: '/sessions/:session_handle/scripts', eventName: 'DeployScript', eventRW: W, resourceType: 'Script', sensitive: true, note: 'v4; deploys an application-mode cluster.' },
  { method: 'POST', template: '/sessions/:session_handle/statements', eventName: 'ExecuteStatement', eventRW: W, resourceType: 'Statement', sensitive: true, note: 'Any SQL; the statement text (body) tells the intent.' },
  { method: 'POST', template: '/workflow/embedded-scheduler/create', eventName: 'CreateSchedulerWorkflow', eventRW: W, resourceType: 'Workflow', sensitive: true, documented: false, note: 'v3.' },
  { method: 'DELETE', template: '/workflow/embedded-scheduler/delete', eventName: 'DeleteSchedulerWorkflow', eventRW: W, resourceType: 'Workflow', sensitive: true, documented: false, note: 'v3.' },
  { method: 'POST', template: '/workflow/embedded-scheduler/resume', eventName: 'ResumeSchedulerWorkflow', eventRW: W, resourceType: 'Workflow', sensitive: true, documented: false, note: 'v3.' },
  { method: 'POST', template: '/workflow/embedded-scheduler/suspend', eventName: 'SuspendSchedulerWorkflow', eventRW: W, resourceType: 'Workflow', sensitive: true, documented: false, note: 'v3.' },
]);

/**
 * History Server: GET-only, archived job JSON served as files (`/jobs/overview` is
 * `jobs/overview.json` on disk, and may be asked for either way), plus the optional log-url
 * handlers. Names match the dispatcher's for the same route (a test keeps them so).
 */
const HISTORY_SERVER = define('history_server', [
  { method: 'GET', template: '/config', eventName: 'GetDashboardConfig', eventRW: R, resourceType: 'Cluster' },
  { method: 'GET', template: '/jobs/overview', eventName: 'GetJobsOverview', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid', eventName: 'GetJobDetails', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/accumulators', eventName: 'GetJobAccumulators', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints', eventName: 'GetCheckpointingStatistics', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/config', eventName: 'GetCheckpointConfig', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/details/:checkpointid', eventName: 'GetCheckpointDetails', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/checkpoints/details/:checkpointid/subtasks/:vertexid', eventName: 'GetTaskCheckpointStatistics', eventRW: R, resourceType: 'Checkpoint' },
  { method: 'GET', template: '/jobs/:jobid/config', eventName: 'GetJobConfig', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/exceptions', eventName: 'GetJobExceptions', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/jobmanager/config', eventName: 'GetJobManagerJobConfig', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/jobmanager/environment', eventName: 'GetJobManagerJobEnvironment', eventRW: R, resourceType: 'Job' },
  { method: 'GET', template: '/jobs/:jobid/jobmanager/log-url', eventName: 'GetJobManagerLogUrl', eventRW: R, resourceType: 'Job', note: 'Only with historyserver.log.jobmanager.url-pattern.' },
  { method: 'GET', template: '/jobs/:jobid/plan', eventName: 'GetJobPlan', eventRW: R, resourceType: 'Job' },
  // Added: JobRescalesOverviewHandler is a JsonArchivist, so Flink 2.2+ archives include it.
  { method: 'GET', template: '/jobs/:jobid/rescales/overview', eventName: 'GetJobRescalesOverview', eventRW: R, resourceType: 'Job', documented: false, note: 'Flink 2.2+.' },
  { method: 'GET', template: '/jobs/:jobid/taskmanagers/:taskmanagerid/log-url', eventName: 'GetTaskManagerLogUrl', eventRW: R, resourceType: 'Job', note: 'Only with historyserver.log.taskmanager.url-pattern.' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid', eventName: 'GetJobVertexDetails', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt', eventName: 'GetSubtaskAttemptDetails', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasks/:subtaskindex/attempts/:attempt/accumulators', eventName: 'GetSubtaskAttemptAccumulators', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/subtasktimes', eventName: 'GetSubtasksTimes', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: '/jobs/:jobid/vertices/:vertexid/taskmanagers', eventName: 'GetJobVertexTaskManagers', eventRW: R, resourceType: 'Vertex' },
  { method: 'GET', template: WEB_UI_ASSET_TEMPLATE, eventName: 'GetWebUIAsset', eventRW: R, resourceType: 'Cluster', documented: false, note: 'Static Web UI files.' },
]);

/**
 * A catalog row that a body field selects over the plain row for the same route: when the field
 * is set to anything but false (as Jackson reads it: `true`, `"true"`, `1` all count, and an odd
 * value counts too, so that the stricter reading wins), the call is this row's operation.
 */
export interface BodyVariant {
  readonly api: FlinkApi;
  readonly method: CatalogMethod;
  readonly template: string;
  /** The JSON field of the request body that selects this row. */
  readonly field: string;
  readonly eventName: string;
  readonly eventRW: EventRW;
  readonly resourceType: ResourceType;
  readonly sensitive: boolean;
  readonly note: string;
}

export const BODY_VARIANTS: readonly BodyVariant[] = Object.freeze([
  Object.freeze({
    api: 'dispatcher',
    method: 'POST',
    template: '/jobs/:jobid/savepoints',
    field: 'cancel-job',
    eventName: 'CancelJobWithSavepoint',
    eventRW: W,
    resourceType: 'Job',
    sensitive: true,
    note: 'TriggerSavepoint with body "cancel-job": true: Flink cancels the job after the savepoint. Authorized as a cancel.',
  } satisfies BodyVariant),
]);

/** The whole catalog, in documentation order: dispatcher, SQL Gateway, History Server. */
export const FLINK_REST_CATALOG: readonly CatalogEntry[] = Object.freeze([
  ...DISPATCHER,
  ...SQL_GATEWAY,
  ...HISTORY_SERVER,
]);
