/**
 * The ActionTrail event record, field for field.
 *
 * FlinkTrail records every operation in the shape of Alibaba Cloud ActionTrail's management
 * event (see shared/reference/actiontrail/README.md §2 and the seed's DeleteDeployment sample),
 * so that parsers and queries written for ActionTrail read our records unchanged. This module is
 * a leaf: it imports nothing from the rest of the project.
 */

/** Whether an operation reads or changes state. */
export const EVENT_RW = ['Read', 'Write'] as const;
export type EventRW = (typeof EVENT_RW)[number];

/**
 * What kind of event this is (ActionTrail's `eventType`).
 * - `ApiCall`: a call to an API (Flink REST by a client or CLI, FlinkTrail's API).
 * - `ConsoleOperation`: an operation made from a web UI (the Flink dashboard, FlinkTrail's console).
 * - `ConsoleSignin` / `ConsoleSignout`: signing in to or out of the console, and failed sign-ins.
 * - `AliyunServiceEvent`: an operation a service made on its own (e.g. the Flink operator
 *   updating status); kept under ActionTrail's name so existing filters work.
 */
export const EVENT_TYPES = [
  'ApiCall',
  'ConsoleOperation',
  'ConsoleSignin',
  'ConsoleSignout',
  'AliyunServiceEvent',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

/**
 * Who made the request (ActionTrail's `userIdentity.type`).
 * - `root-account`: the account owner.
 * - `ram-user`: a user of the account (local users and their AccessKeys).
 * - `assumed-role`: a federated session (OIDC single sign-on, trusted proxy identity).
 * - `anonymous`: nobody could be authenticated (failed sign-ins, anonymous access if enabled).
 */
export const IDENTITY_TYPES = ['root-account', 'ram-user', 'assumed-role', 'anonymous'] as const;
export type IdentityType = (typeof IDENTITY_TYPES)[number];

/**
 * What became of the operation, kept in `additionalEventData.outcome`.
 * - `pending`: journaled, not yet answered (a write in flight).
 * - `success` / `failure`: answered; failures also carry `errorCode` and `errorMessage`.
 * - `unknown`: FlinkTrail stopped before the answer was recorded; the operation may have happened.
 */
export const OUTCOMES = ['pending', 'success', 'failure', 'unknown'] as const;
export type Outcome = (typeof OUTCOMES)[number];

/** The path an event came from (FlinkTrail's `eventSource` values). */
export const EVENT_SOURCES = {
  jobManager: 'flink-jobmanager',
  sqlGateway: 'flink-sql-gateway',
  historyServer: 'flink-history-server',
  kubernetes: 'kubernetes',
  flinkTrail: 'flinktrail',
  ingest: 'ingest',
} as const;

/**
 * How much of an event the audit policy keeps (`additionalEventData.auditLevel` when less than
 * everything), as Kubernetes audit levels:
 * - `None`: not recorded at all (only ever for reads that succeeded).
 * - `Metadata`: who, what, when, where and the outcome; `requestParameters` and
 *   `responseElements` are left empty.
 * - `Request`: also `requestParameters`; `responseElements` left empty.
 * - `RequestResponse`: everything (the default, and what an event without `auditLevel` has).
 */
export const AUDIT_LEVELS = ['None', 'Metadata', 'Request', 'RequestResponse'] as const;
export type AuditLevel = (typeof AUDIT_LEVELS)[number];

/**
 * Where an event came from, as an audit policy tells sources apart:
 * - `gateway`: Flink JobManager and History Server calls through the gateway.
 * - `sql-gateway`: Flink SQL Gateway calls through the gateway.
 * - `kubernetes`: the Kubernetes audit webhook (Flink operator resources).
 * - `ingest`: records other tools sent to the ingest API (they carry `additionalEventData.ingestedBy`,
 *   whatever `eventSource` they name).
 * - `flinktrail`: FlinkTrail's own API calls and service events.
 */
export const AUDIT_SOURCES = ['gateway', 'sql-gateway', 'kubernetes', 'ingest', 'flinktrail'] as const;
export type AuditSource = (typeof AUDIT_SOURCES)[number];

export interface SessionContext {
  attributes: {
    /** "true" or "false", a string as in ActionTrail's records. */
    mfaAuthenticated: string;
    /** When the session was created (UTC ISO 8601). */
    creationDate?: string;
    [key: string]: string | undefined;
  };
}

export interface UserIdentity {
  type: IdentityType;
  principalId: string;
  accountId: string;
  userName: string;
  /** The AccessKey ID used, or absent for password/session sign-ins. */
  accessKeyId?: string;
  sessionContext?: SessionContext;
}

/** `ACS::RealtimeCompute::<Type>` → the ids and names of the resources involved. */
export type ReferencedResources = Record<string, string[]>;

/** The record, as stored, queried and delivered. */
export interface ActionTrailEvent {
  eventId: string;
  eventVersion: 1;
  eventName: string;
  eventRW: EventRW;
  eventType: EventType;
  eventCategory: 'Management';
  eventSource: string;
  serviceName: string;
  /** UTC ISO 8601 with milliseconds, e.g. 2026-11-25T11:09:10.123Z. */
  eventTime: string;
  acsRegion: string;
  isGlobal: boolean;
  /**
   * The account the event belongs to: the owner of what was acted on (a cluster's account, the
   * caller's for FlinkTrail's own API). Absent in events recorded before accounts existed: they
   * belong to the management account (`eventAccount`).
   */
  recipientAccountId?: string;
  sourceIpAddress: string;
  userAgent: string;
  userIdentity: UserIdentity;
  requestId: string;
  requestParameters: Record<string, unknown>;
  responseElements: Record<string, unknown>;
  referencedResources: ReferencedResources;
  additionalEventData: AdditionalEventData;
  /** Present on failures only. */
  errorCode?: string;
  errorMessage?: string;
}

export interface AdditionalEventData {
  outcome: Outcome;
  /** The FlinkTrail name of the cluster the call went to. */
  cluster?: string;
  /** The HTTP status the client received. */
  httpStatus?: number;
  /** Milliseconds from the request's arrival to the last byte of the response. */
  latencyMs?: number;
  /** Whether the operation is on the curated list of sensitive operations. */
  sensitive: boolean;
  [key: string]: unknown;
}

/** The resource type prefix used for Flink resources. */
export const RESOURCE_TYPE_PREFIX = 'ACS::RealtimeCompute::';
