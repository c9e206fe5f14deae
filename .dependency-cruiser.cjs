/**
 * The dependency rule of docs/ARCHITECTURE.md ("Dependencies point one way"), checked by
 * dependency-cruiser as part of `npm run lint`. Each rule names the direction it forbids; tests
 * and benchmarks are compositions of their own and may reach anything.
 */
const notTests = '\\.(test|bench)\\.ts$';
/** Where features are composed: the app, the process entry, the CLI, and stores.ts (which store each feature uses, for the app and the CLI). */
// store/migrate.ts and migrate-tables.ts copy one engine into another (`flinktrail migrate`), so they name both.
const composition = '^src/(app|main|stores)\\.ts$|^src/cli/|^src/store/migrate(-tables)?\\.ts$';
/** A concrete store implementation: any `sqlite` folder or `sqlite.ts` file (later: `postgres`). */
const concreteStore = '(^|/)(sqlite|postgres)(/|\\.ts$)';

/**
 * Modules that still reach the SQLite database directly rather than through their feature's
 * contract (issue 15 item 0, step 2 shrinks this list to nothing). A module may leave this list,
 * never join it.
 */
const notYetBehindAContract = [];

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'leaves-import-nothing-of-ours',
      comment: 'event/ and errors/ are what everything else builds on: they import nothing of ours.',
      severity: 'error',
      from: { path: '^src/(event|errors)/', pathNot: notTests },
      to: { path: '^src/', pathNot: '^src/(event|errors)/' },
    },
    {
      name: 'features-do-not-import-their-composition',
      comment: 'app.ts, main.ts and cli/ compose features; a feature never imports them (module.ts is the contract between app and features).',
      severity: 'error',
      from: { path: '^src/', pathNot: `${composition}|${notTests}` },
      to: { path: composition },
    },
    {
      name: 'sources-do-not-import-each-other',
      comment: 'Each source (api/, sources/<name>/) stands alone; what two sources share lives in a neutral module (identity/, http/, pipeline/).',
      severity: 'error',
      from: { path: '^src/sources/([^/]+)/', pathNot: notTests },
      to: { path: '^src/(sources/|api/)', pathNot: '^src/sources/$1/' },
    },
    {
      name: 'sources-do-not-import-the-api',
      comment: 'The API is a source too: the other sources do not import it.',
      severity: 'error',
      from: { path: '^src/api/', pathNot: notTests },
      to: { path: '^src/sources/' },
    },
    {
      name: 'trail-sinks-are-the-trails-own',
      comment: 'trails/sinks/ are how trails deliver; another feature that connects to the same kind of server shares a neutral module (kafka/, net/) instead.',
      severity: 'error',
      from: { path: '^src/', pathNot: `^src/trails/|${composition}|${notTests}` },
      to: { path: '^src/trails/sinks/' },
    },
    {
      name: 'connection-modules-are-neutral',
      comment: 'kafka/ and net/ are shared by features (trails, the store\'s Kafka journal): they import no feature.',
      severity: 'error',
      from: { path: '^src/(kafka|net)/', pathNot: notTests },
      to: { path: '^src/(trails|store|api|sources|identity|query|pipeline|regions)/' },
    },
    {
      name: 'running-app-does-not-import-docs-scripts',
      comment: 'print-docs.ts scripts print reference docs; what they share with the app lives in the module they document.',
      severity: 'error',
      from: { path: '^src/', pathNot: `print-docs\\.ts$|${notTests}` },
      to: { path: 'print-docs\\.ts$' },
    },
    {
      name: 'only-the-composition-names-a-concrete-store',
      comment: 'Callers use the contracts (store/types.ts, each feature\'s repository interface); only app.ts and the CLI construct SQLite implementations. A store implementation may use other implementations of the same engine (a feature\'s sqlite/ module, the database it migrates).',
      severity: 'error',
      from: { path: '^src/', pathNot: [composition, notTests, concreteStore, ...notYetBehindAContract] },
      to: { path: concreteStore },
    },
    {
      name: 'only-store-implementations-use-the-driver',
      comment: 'better-sqlite3 is used inside a sqlite implementation only.',
      severity: 'error',
      from: { path: '^src/', pathNot: [concreteStore, notTests] },
      to: { path: 'node_modules/better-sqlite3/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
  },
};
