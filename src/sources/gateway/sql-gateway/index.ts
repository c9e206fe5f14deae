/**
 * What a SQL Gateway call means beyond its endpoint: the statement's kind and intent.
 *
 * The gateway calls these for clusters of kind `sql-gateway`. `requestDetails` sees the
 * classified call and its (not yet redacted) request parameters and may refine the event:
 * the sensitive flag, statement text with secrets redacted, its kind. `responseDetails` sees
 * Flink's parsed JSON answer (the session and operation handles it created, the job id an INSERT
 * or SELECT started).
 *
 * Event names stay the catalog's (`ExecuteStatement`, `ConfigureSession`, ...), so one query
 * finds every SQL call; what the statement does is `additionalEventData.statementKind` (see
 * statement.ts), and the sensitive flag follows the kind: a SELECT is not sensitive, an INSERT,
 * DDL, SET, ADD JAR or CREATE CATALOG is. The objects a statement names become resources
 * (`ACS::RealtimeCompute::Table` / `Catalog` / ...), so "who touched table X" is a resource query.
 */
import type { Classification } from '../../../catalog/types.js';
import { RESOURCE_TYPE_PREFIX } from '../../../event/types.js';
import { classifyStatement, redactInValue, redactStatement, splitStatements, type StatementInfo } from './statement.js';

export { classifyStatement, redactStatement, splitStatements, STATEMENT_KINDS, type StatementInfo, type StatementKind } from './statement.js';

export interface SqlDetails {
  eventName?: string;
  sensitive?: boolean;
  /** Replaces keys of requestParameters (e.g. the statement with secrets redacted). */
  requestParameters?: Record<string, unknown>;
  additionalEventData?: Record<string, unknown>;
  /** Extra resources: full type (`ACS::RealtimeCompute::Job`) → ids. */
  resources?: Record<string, string[]>;
}

/** Longest statement text kept in the record (the gateway already caps whole bodies). */
const MAX_STATEMENT = 64 * 1024;

/** executionConfig keys that point the statement at another Flink cluster. */
const TARGET_KEYS = ['rest.address', 'rest.port', 'execution.target', 'jobmanager.rpc.address', 'kubernetes.cluster-id', 'yarn.application.id'];

const HEX32 = /^[0-9a-fA-F]{32}$/;
const HANDLE = /^[0-9a-fA-F-]{8,64}$/;

function cut(s: string): string {
  return s.length > MAX_STATEMENT ? `${s.slice(0, MAX_STATEMENT)}…[truncated]` : s;
}

function statementFacts(s: StatementInfo): { data: Record<string, unknown>; resources: Record<string, string[]> } {
  const data: Record<string, unknown> = { statementKind: s.kind };
  if (s.submitsJob) data['submitsJob'] = true;
  if (s.objectType) data['statementObjectType'] = s.objectType;
  if (s.objectName) data['statementObject'] = s.objectName;
  if (s.jarPath !== undefined) data['jarPath'] = s.jarPath;
  const resources: Record<string, string[]> = {};
  if (s.objectType && s.objectName) resources[RESOURCE_TYPE_PREFIX + s.objectType] = [s.objectName];
  if (s.jobId) resources[`${RESOURCE_TYPE_PREFIX}Job`] = [s.jobId];
  return { data, resources };
}

function merge(into: Record<string, string[]>, from: Record<string, string[]>): void {
  for (const [type, ids] of Object.entries(from)) {
    const list = (into[type] ??= []);
    for (const id of ids) if (!list.includes(id)) list.push(id);
  }
}

/** One statement (ExecuteStatement, ConfigureSession). */
function oneStatement(statement: string, executionConfig: unknown): SqlDetails {
  const info = classifyStatement(statement);
  const redacted = redactStatement(statement);
  const { data, resources } = statementFacts(info);
  let sensitive = info.sensitive;
  if (redacted.redacted > 0) data['redactedValues'] = redacted.redacted;
  if (executionConfig && typeof executionConfig === 'object' && !Array.isArray(executionConfig)) {
    const keys = Object.keys(executionConfig);
    const retargets = keys.filter((k) => TARGET_KEYS.includes(k));
    if (retargets.length) {
      // The statement runs somewhere else than the gateway's own cluster: worth a flag.
      data['retargetedBy'] = retargets;
      sensitive = true;
    }
  }
  return { sensitive, requestParameters: { statement: cut(redacted.text) }, additionalEventData: data, resources };
}

/** A script (DeployScript): every statement classified; sensitive if any is. */
function script(text: string): SqlDetails {
  const statements = splitStatements(text);
  const kinds: string[] = [];
  const resources: Record<string, string[]> = {};
  let sensitive = false;
  let submitsJob = false;
  for (const s of statements.slice(0, 1000)) {
    const info = classifyStatement(s);
    if (!kinds.includes(info.kind)) kinds.push(info.kind);
    sensitive ||= info.sensitive;
    submitsJob ||= info.submitsJob;
    merge(resources, statementFacts(info).resources);
  }
  const redacted = redactStatement(text);
  const data: Record<string, unknown> = { statementKind: kinds.length === 1 ? kinds[0] : 'script', statementKinds: kinds, statementCount: statements.length };
  if (submitsJob) data['submitsJob'] = true;
  if (redacted.redacted > 0) data['redactedValues'] = redacted.redacted;
  return { sensitive: sensitive || statements.length === 0, requestParameters: { script: cut(redacted.text) }, additionalEventData: data, resources };
}

/**
 * What the request says: for statements, their kind, the objects they name, the sensitive flag
 * and the text with secrets replaced (it replaces `requestParameters.statement`).
 */
export function requestDetails(cls: Classification, params: Record<string, unknown>): SqlDetails {
  const statement = params['statement'];
  switch (cls.eventName) {
    case 'ExecuteStatement':
    case 'ConfigureSession':
      if (typeof statement === 'string') return oneStatement(statement, params['executionConfig']);
      // A body too large to keep (or not JSON): nobody can tell what ran, so flag it.
      return { sensitive: true, additionalEventData: { statementKind: 'unknown', ...(params['truncated'] ? { statementTruncated: true } : {}) } };
    case 'CompleteStatement':
      return typeof statement === 'string' ? { requestParameters: { statement: cut(redactStatement(statement).text) } } : {};
    case 'DeployScript': {
      const out: SqlDetails = typeof params['script'] === 'string' ? script(params['script']) : { sensitive: true, additionalEventData: { statementKind: 'unknown' } };
      if (typeof params['scriptUri'] === 'string') out.requestParameters = { ...out.requestParameters, scriptUri: redactInValue(params['scriptUri']).text };
      return out;
    }
    default:
      return {};
  }
}

function field(body: unknown, key: string): unknown {
  return body && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>)[key] : undefined;
}

/** The job id in a FetchResults page: `jobID` (Flink 2.x), or the `job id` column (INSERT, older). */
function jobIdOf(body: unknown): string | undefined {
  const direct = field(body, 'jobID');
  if (typeof direct === 'string' && HEX32.test(direct)) return direct.toLowerCase();
  const results = field(body, 'results');
  const columns = field(results, 'columns');
  const data = field(results, 'data');
  if (!Array.isArray(columns) || !Array.isArray(data) || columns.length !== 1) return undefined;
  if (field(columns[0], 'name') !== 'job id') return undefined;
  const fields = field(data[0], 'fields');
  const id: unknown = Array.isArray(fields) ? (fields as unknown[])[0] : undefined;
  return typeof id === 'string' && HEX32.test(id) ? id.toLowerCase() : undefined;
}

/**
 * What the answer says: the session an OpenSession created, the operation an ExecuteStatement
 * started, the job a FetchResults page reports (so the job's own events connect to the SQL that
 * started it), the cluster a DeployScript created.
 */
export function responseDetails(cls: Classification, body: unknown): SqlDetails {
  switch (cls.eventName) {
    case 'OpenSession': {
      const h = field(body, 'sessionHandle');
      return typeof h === 'string' && HANDLE.test(h) ? { resources: { [`${RESOURCE_TYPE_PREFIX}Session`]: [h] } } : {};
    }
    case 'ExecuteStatement':
    case 'ConfigureSession':
    case 'RefreshMaterializedTable': {
      const h = field(body, 'operationHandle');
      return typeof h === 'string' && HANDLE.test(h) ? { resources: { [`${RESOURCE_TYPE_PREFIX}Operation`]: [h] } } : {};
    }
    case 'FetchResults': {
      const jobId = jobIdOf(body);
      const data: Record<string, unknown> = {};
      for (const k of ['resultType', 'resultKind', 'isQueryResult'] as const) {
        const v = field(body, k);
        if (typeof v === 'string' || typeof v === 'boolean') data[k] = v;
      }
      if (jobId) data['jobId'] = jobId;
      return {
        ...(Object.keys(data).length ? { additionalEventData: data } : {}),
        ...(jobId ? { resources: { [`${RESOURCE_TYPE_PREFIX}Job`]: [jobId] } } : {}),
      };
    }
    case 'DeployScript': {
      const id = field(body, 'clusterID');
      return typeof id === 'string' && id.length <= 256 ? { additionalEventData: { deployedClusterId: id } } : {};
    }
    default:
      return {};
  }
}
