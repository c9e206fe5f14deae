/**
 * The events schema on PostgreSQL (migration component `events`).
 *
 * - `events` is declaratively partitioned by RANGE on `event_time` (epoch ms), one partition per
 *   UTC day (`events_pYYYYMMDD`, created on demand, see partitions.ts): retention drops whole
 *   partitions instead of deleting rows. Its primary key (event_time, seq) includes the
 *   partition key, as every unique index of a partitioned table must.
 * - `event_ids` holds one narrow row per event: eventId → (event_time, seq). A unique index on
 *   a partitioned table must contain the partition key, so a UNIQUE (event_id) on `events` is
 *   impossible and UNIQUE (event_id, event_time) would store an eventId twice when it comes back
 *   with another time. This table is the one place that makes eventId idempotent across all
 *   partitions; `get`, `existing`, `complete` and `scan` go through it, and purge deletes its
 *   rows by time (narrow rows; the bodies go with their partitions).
 * - `seq` comes from one sequence: the append order of `scan` (trails). Inserting transactions
 *   serialise on an advisory lock, so seq order is commit order (see events.ts, `scan`).
 * - Referenced resources are a text[] per event with a GIN index: `t:<type>`, `n:<name>` and
 *   `b:<type>\u001f<name>`, so a type, a name or both is one containment test.
 * - `event_store_id` names this store (a UUID made once): a data directory records which store
 *   its trail positions (seq values) refer to.
 * - One (column, event_time, seq) index per filter that can drive a lookup in time order (the
 *   same set as the SQLite store), partial where most rows have no value.
 * - Bodies (migration 2): the record compressed with a dictionary (store/body-codec.ts, as on
 *   SQLite) in `body_z bytea`, ~170 B instead of ~1 KB of JSON in `body text`, the dictionaries in
 *   `event_dictionaries`. Rows written before keep their `body` text and stay readable as they
 *   are: the migration only adds a column and drops a NOT NULL — catalog changes, no row is read
 *   or rewritten, however large the table (rewriting them would take as long as the table is
 *   big, under a lock that stops every write). Each row has exactly one of the two set (the store
 *   writes `body_z` and clears `body`); no CHECK says so, because adding one scans every partition.
 * - Accounts (migration 3): `account_id` is NULL for the management account's events (and those
 *   from before accounts), so a single-account installation pays for no account index entry.
 *   Migration 4 adds, per filter that drives lookups, an (account_id, column, event_time, seq)
 *   index partial over member accounts' events: a member's "filter AND its account" walks an
 *   index that holds only matches (events.ts, `walkEnd`), as the SQLite store's migration 14.
 *   Migration 5 replaces the account's own index with one on `(account_id || '')`: a generic
 *   plan preferred the plain one to the member index of a member's filter (see there).
 */
import type { Migration } from './migrations.js';

export const EVENTS_COMPONENT = 'events';

export const EVENTS_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'events partitioned by day, event_ids, resources, filter indexes',
    sql: `
      CREATE TABLE event_store_id (one boolean PRIMARY KEY DEFAULT true CHECK (one), id text NOT NULL);
      INSERT INTO event_store_id (id) VALUES (gen_random_uuid()::text);
      CREATE SEQUENCE event_seq;
      CREATE TABLE event_ids (
        event_id text PRIMARY KEY,
        event_time bigint NOT NULL,
        seq bigint NOT NULL UNIQUE
      );
      CREATE INDEX event_ids_time ON event_ids (event_time);
      CREATE TABLE events (
        seq bigint NOT NULL,
        event_id text NOT NULL,
        event_time bigint NOT NULL,
        region text,
        event_rw text NOT NULL,
        event_name text NOT NULL,
        event_type text NOT NULL,
        service_name text NOT NULL,
        user_name text,
        access_key_id text,
        sensitive boolean NOT NULL,
        outcome text NOT NULL,
        error_code text,
        source_ip text,
        cluster text,
        resources text[] NOT NULL,
        body text NOT NULL,
        PRIMARY KEY (event_time, seq)
      ) PARTITION BY RANGE (event_time);
      CREATE INDEX events_name_time ON events (event_name, event_time, seq);
      CREATE INDEX events_user_time ON events (user_name, event_time, seq);
      CREATE INDEX events_ak_time ON events (access_key_id, event_time, seq);
      CREATE INDEX events_service_time ON events (service_name, event_time, seq);
      CREATE INDEX events_rw_time ON events (event_rw, event_time, seq);
      CREATE INDEX events_ip_time ON events (source_ip, event_time, seq);
      CREATE INDEX events_cluster_time ON events (cluster, event_time, seq);
      CREATE INDEX events_sensitive_time ON events (event_time, seq) WHERE sensitive;
      CREATE INDEX events_error_time ON events (error_code, event_time, seq) WHERE error_code IS NOT NULL;
      CREATE INDEX events_pending ON events (seq) WHERE outcome = 'pending';
      CREATE INDEX events_resources ON events USING gin (resources);
      CREATE INDEX events_seq ON events (seq);
    `,
  },
  {
    version: 2,
    name: 'bodies compressed with a dictionary in body_z; body text kept for the rows written before',
    sql: `
      CREATE TABLE event_dictionaries (id integer PRIMARY KEY, created_at bigint NOT NULL, dict bytea NOT NULL);
      ALTER TABLE events ADD COLUMN body_z bytea, ALTER COLUMN body DROP NOT NULL;
    `,
  },
  {
    version: 3,
    name: 'the member account of each event (NULL: the management account), indexed for member accounts only',
    sql: `
      ALTER TABLE events ADD COLUMN account_id text;
      CREATE INDEX events_account_time ON events (account_id, event_time, seq) WHERE account_id IS NOT NULL;
    `,
  },
  {
    version: 4,
    name: "member accounts' lookups: (account_id, column, event_time, seq) per driving filter, over member accounts' events only",
    // The SQLite store's migration 14, on the partitioned parent (every day partition gets them,
    // those created later too). CREATE INDEX on a partitioned table cannot be CONCURRENTLY: it
    // locks writes while the existing partitions are indexed (see docs/reference/postgres.md).
    sql: `
      CREATE INDEX events_acct_user_time ON events (account_id, user_name, event_time, seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_acct_name_time ON events (account_id, event_name, event_time, seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_acct_ak_time ON events (account_id, access_key_id, event_time, seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_acct_ip_time ON events (account_id, source_ip, event_time, seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_acct_error_time ON events (account_id, error_code, event_time, seq) WHERE account_id IS NOT NULL AND error_code IS NOT NULL;
      CREATE INDEX events_acct_sensitive_time ON events (account_id, event_time, seq) WHERE account_id IS NOT NULL AND sensitive;
      CREATE INDEX events_acct_cluster_time ON events (account_id, cluster, event_time, seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_acct_service_time ON events (account_id, service_name, event_time, seq) WHERE account_id IS NOT NULL;
      CREATE INDEX events_acct_write_time ON events (account_id, event_time, seq) WHERE account_id IS NOT NULL AND event_rw = 'Write';
    `,
  },
  {
    version: 5,
    name: "the account's own index on (account_id || ''), so that it no longer competes with the member indexes for a member's filtered lookup",
    // A generic plan guesses a time range at 0.5 % of a partition, so every index that serves
    // `account_id = $n` and the range looks like one row away; on most day partitions it took
    // the narrower (account_id, event_time, seq) and read every event of the account there,
    // filtering on the heap, instead of the member index holding only the matches. Only a
    // statement that writes `(account_id || '') = $n` (events.ts, `conditions`) can use this one.
    // account_id is included so that a probe reading only event_time and seq can be index-only
    // (PostgreSQL 15 wants every column a condition names in the index itself). Like migration
    // 4, it locks writes while the existing partitions are indexed.
    sql: `
      CREATE INDEX events_account_only_time ON events ((account_id || ''), event_time, seq) INCLUDE (account_id) WHERE account_id IS NOT NULL;
      DROP INDEX events_account_time;
    `,
  },
];
