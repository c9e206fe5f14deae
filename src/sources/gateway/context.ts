/**
 * The per-request context of the gateway: one object that every step of a request reads and
 * fills in, in order — admit (who, which cluster), describe (what Flink will read: query, ids,
 * body), authorize, journal, forward, complete. What a step may rely on is what the steps before
 * it set; nothing about a request lives anywhere else.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { Pool } from 'undici';
import type { Classification, FlinkApi } from '../../catalog/types.js';
import type { ClusterConfig } from '../../config/index.js';
import type { FlinkTrailError } from '../../errors/index.js';
import type { ActionTrailEvent, UserIdentity } from '../../event/types.js';
import type { Principal } from '../../identity/authenticate.js';
import type { PreparedBody } from './body.js';
import type { NameCache } from './names.js';
import type { readQuery } from './request-model.js';

/** A configured cluster: its pool of keep-alive connections and the job names learnt from it. */
export interface Upstream {
  config: ClusterConfig;
  pool: Pool;
  region: string;
  /** The account that owns the cluster (`clusters[].account`, else the management account): its events' `recipientAccountId`. */
  account: string;
  jobNames: NameCache;
}

export interface RequestContext {
  // Set on arrival.
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** process.hrtime.bigint() on arrival, for the latency recorded. */
  readonly started: bigint;
  readonly time: Date;
  /** The cluster asked for as the caller wrote it (`/flink/<cluster>/…`). */
  readonly clusterName: string;
  /** The configured cluster, or a stand-in until the caller is authenticated (`known` false). */
  readonly up: Upstream;
  readonly known: boolean;
  readonly url: URL;
  readonly method: string;
  readonly api: FlinkApi;
  readonly contentType: string;
  readonly sourceIp: string;
  /** The query as Flink (Netty) reads it; a query it would read otherwise is refused by describe. */
  readonly queryRead: ReturnType<typeof readQuery>;
  /** What the call means: classified on arrival, then refined by the canonical ids and the body. */
  cls: Classification;
  /** What is recorded as `requestParameters`: the query's, then the body's. */
  parameters: Record<string, unknown>;

  // Set by admit.
  principal?: Principal;
  /**
   * The caller's account when it is not the cluster's and the call is refused for that: the
   * refusal is recorded in both accounts (cross-account.ts).
   */
  foreignAccount?: string;
  /** Who is recorded: the caller, or for a failed sign-in who was claimed (anonymous until admit). */
  identity: UserIdentity;

  // Set by describe (the body).
  body?: PreparedBody;
  /** The stream of the client's body once it is read (before any tail guard), to stop it. */
  forwardSource?: Readable;
  /** Set when a `request` part arrives after the peek on an upload (the upload is cut off). */
  tailRefusal?: FlinkTrailError;
  /** Set when the body arrives too slowly; `onTooSlow` does what the current step needs. */
  tooSlow?: FlinkTrailError;
  onTooSlow: () => void;
  /** Resolves when the body is found too slow. */
  readonly slowBody: Promise<FlinkTrailError>;
  /** Web UI assets are recorded only with `gateway.recordAssets`. */
  recordIt: boolean;

  // Set by journal.
  /** The event as journaled (writes) or to be recorded (reads); completed with Flink's answer. */
  event?: ActionTrailEvent;
  /** The write was journaled: it is completed in place rather than appended. */
  journaled: boolean;
  /** The name of the job a write names, asked of Flink while the write runs. */
  nameLookup?: Promise<string | undefined>;
}

/** Milliseconds since the request arrived. */
export function elapsedMs(ctx: RequestContext): number {
  return Number(process.hrtime.bigint() - ctx.started) / 1e6;
}
