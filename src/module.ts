/**
 * The contract between the app and its feature modules (trails, Kubernetes audit, ingest, the
 * ActionTrail RPC endpoint): what a feature gets to build itself from, and what it gives back.
 *
 * Its own file, so that features depend on this contract and never on app.ts (app.ts composes
 * features; a feature importing it would point the dependency the wrong way).
 */
import type { FastifyInstance } from 'fastify';
import type { Config } from './config/index.js';
import type { Authenticator } from './identity/authenticate.js';
import type { Directory } from './identity/directory.js';
import type { Recorder } from './pipeline/recorder.js';
import type { TokenCodec } from './query/lookup.js';
import type { Secrets } from './secrets/index.js';
import type { MetaStore } from './store/meta.js';
import type { EventStore } from './store/types.js';
import type { Logger } from './telemetry/logger.js';
import type { Metrics } from './telemetry/metrics.js';

/** What a feature module gets to build itself from. */
export interface ModuleContext {
  config: Readonly<Config>;
  /** Seals secrets before they are stored (`seal`/`open`, see src/secrets/). */
  secrets: Secrets;
  /** FlinkTrail's own keys kept beside the events (HMAC keys shared by every process on the database). */
  meta: MetaStore;
  store: EventStore;
  recorder: Recorder;
  directory: Directory;
  /** For modules with routes that authenticate themselves (e.g. the Kubernetes audit webhook's bearer tokens). */
  authenticator: Authenticator;
  /** LookupEvents page tokens: one key, so every query interface's tokens are the same. */
  tokens: TokenCodec;
  log: Logger;
  metrics: Metrics;
}

/**
 * A feature that plugs into the app (trails, Kubernetes audit, ...): its HTTP routes and its
 * lifecycle. `start` runs after the API listens; `stop` before the store closes (flush here).
 */
export interface AppModule {
  name: string;
  routes?(api: FastifyInstance): void;
  start?(): Promise<void>;
  stop?(): Promise<void>;
  /** What of this feature a member account owns (`trail audit-a`, …): an account that owns anything is not deleted. */
  ownedBy?(accountId: string): Promise<string[]>;
}
