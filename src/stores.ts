/**
 * Where each feature keeps its rows, chosen in one place for the app and the CLI.
 *
 * With `store.url` (the event store on PostgreSQL) the features that any instance must see the
 * same way live beside the events, on the event store's pool: users, AccessKeys with their sealed
 * signing secrets, policies, console sessions, FlinkTrail's own HMAC keys (page tokens, OIDC
 * state, Kubernetes spec digests), the audit policy last in force, ActionTrail RPC nonces,
 * Kubernetes object state, the sign-in throttle's counters and the trail digest signing keys
 * (public and sealed private halves). So a key disabled through one instance is refused by every
 * other within the directory's cache bound, a console session made through one works through all,
 * a page token one issued is read by another, an address guessing passwords through one waits at
 * all, and an instance taking over a trail's delivery signs its digests with the key the chain
 * was signed with. Without it they stay in the data directory (its SQLite database, the digest
 * keys' private halves as files beside it; the throttle's counters in this process's memory).
 * Trails (definitions, positions, files, digest chains, jobs, dead letters, delivery leases)
 * follow the same choice: on PostgreSQL any instance may deliver a trail, one at a time.
 */
import type { NonceStore } from './api/actiontrail/nonces.js';
import { SqliteNonceStore } from './api/actiontrail/sqlite/nonces.js';
import { PostgresNonceStore } from './api/actiontrail/postgres/nonces.js';
import { Directory, type DirectoryOptions } from './identity/directory.js';
import type { IdentityStore } from './identity/store.js';
import type { SessionStore } from './identity/sessions.js';
import { SqliteIdentityStore } from './identity/sqlite/directory.js';
import { SqliteSessionStore } from './identity/sqlite/sessions.js';
import { PostgresIdentityStore } from './identity/postgres/directory.js';
import { PostgresSessionStore } from './identity/postgres/sessions.js';
import { PostgresThrottleStore } from './identity/postgres/throttle.js';
import { MemoryThrottleStore, type ThrottleStore } from './identity/throttle-store.js';
import type { PolicyHashState } from './pipeline/audit-policy/change.js';
import { SqlitePolicyHashState } from './pipeline/audit-policy/sqlite/state.js';
import { PostgresPolicyHashState } from './pipeline/audit-policy/postgres/state.js';
import type { Sealer } from './secrets/envelope.js';
import type { ObjectStates } from './sources/k8s-audit/state.js';
import { SqliteObjectStates } from './sources/k8s-audit/sqlite/state.js';
import { PostgresObjectStates } from './sources/k8s-audit/postgres/state.js';
import type { DigestKeyStore } from './trails/digest/keys.js';
import { SqliteDigestKeyStore } from './trails/sqlite/digest-keys.js';
import { PostgresDigestKeyStore } from './trails/postgres/digest-keys.js';
import type { MetaStore } from './store/meta.js';
import { PostgresEventStore } from './store/postgres/events.js';
import { PostgresMetaStore } from './store/postgres/meta.js';
import { FlinkTrailError } from './errors/index.js';
import { metaValue, type Db } from './store/sqlite/database.js';
import { SqliteMetaStore } from './store/sqlite/meta.js';
import type { EventStore } from './store/types.js';
import type { TrailRepository } from './trails/repository.js';
import { SqliteTrailRepository } from './trails/sqlite/repository.js';
import { PostgresTrailRepository } from './trails/postgres/repository.js';

export interface FeatureStores {
  /** `sqlite` (the data directory) or `postgres` (the event store's database). */
  readonly engine: 'sqlite' | 'postgres';
  identity: IdentityStore;
  sessions: SessionStore;
  /** The sign-in throttle's counters: this process's memory on the embedded store, shared in PostgreSQL. */
  throttle: ThrottleStore;
  meta: MetaStore;
  policyHash: PolicyHashState;
  nonces: NonceStore;
  objectStates: ObjectStates;
  /** Trails: definitions, positions, delivered files, digest chains, jobs, dead letters and delivery leases; `localDir` is where `local` destinations write. */
  trails(localDir: string): Promise<TrailRepository>;
  /** Trail digest signing keys: on PostgreSQL with their sealed private halves; embedded, those stay files in the data directory. */
  digestKeys: DigestKeyStore;
}

/**
 * The feature stores beside `events`: on its pool when it is the PostgreSQL store (each
 * feature's migrations applied first), else on the data directory's database `db`.
 */
export async function openFeatureStores(db: Db, events: EventStore, sealer: Sealer): Promise<FeatureStores> {
  if (events instanceof PostgresEventStore) {
    const pool = events.pool;
    return {
      engine: 'postgres',
      identity: await PostgresIdentityStore.open(pool),
      sessions: await PostgresSessionStore.open(pool),
      throttle: await PostgresThrottleStore.open(pool),
      meta: await PostgresMetaStore.open(pool, sealer),
      policyHash: await PostgresPolicyHashState.open(pool),
      nonces: await PostgresNonceStore.open(pool),
      objectStates: await PostgresObjectStates.open(pool),
      trails: (localDir) => PostgresTrailRepository.open(pool, localDir, sealer),
      digestKeys: await PostgresDigestKeyStore.open(pool),
    };
  }
  return {
    engine: 'sqlite',
    identity: new SqliteIdentityStore(db),
    sessions: new SqliteSessionStore(db),
    throttle: new MemoryThrottleStore(),
    meta: new SqliteMetaStore(db, sealer),
    policyHash: new SqlitePolicyHashState(db),
    nonces: new SqliteNonceStore(db),
    objectStates: new SqliteObjectStates(db),
    trails: (localDir) => Promise.resolve(new SqliteTrailRepository(db, localDir, sealer)),
    digestKeys: new SqliteDigestKeyStore(db),
  };
}

/**
 * Records which event store the data directory's trail positions refer to (`event-store` in its
 * meta table) the first time, and refuses another one after (FT_ERR_STORE_MISMATCH): positions
 * would skip or repeat, and identities would be looked up where they are not. `id` is `sqlite`
 * or the PostgreSQL store's id. A directory from before this record kept its events in SQLite.
 */
export function claimEventStore(db: Db, dataDir: string, id: string): void {
  const recorded = metaValue(db, 'event-store', () => (id !== 'sqlite' && db.prepare('SELECT 1 FROM events LIMIT 1').get() ? 'sqlite' : id));
  if (recorded !== id) throw new FlinkTrailError('FT_ERR_STORE_MISMATCH', dataDir, recorded, id);
}

/** The identity directory over the feature stores. */
export function directoryOf(stores: Pick<FeatureStores, 'identity' | 'sessions'>, sealer?: Sealer, opts?: DirectoryOptions): Directory {
  return new Directory({ identity: stores.identity, sessions: stores.sessions }, sealer, opts);
}
