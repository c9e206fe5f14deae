/**
 * Micro-benchmark for classify(), the per-request cost the gateway pays for the catalog.
 *
 *   node --import tsx src/catalog/classify.bench.ts [iterations=1000000]
 *
 * Classifies a fixed mix of realistic calls (every catalog route with and without a version
 * prefix, ?mode variants, Web UI assets, unknown paths, percent-encoded paths) round-robin and
 * prints ns/op, next to a baseline measured in the same run: Flink's own strategy, a linear
 * first-match scan over one precompiled regular expression per route.
 */
import { catalogEntries, classify, WEB_UI_ASSET_TEMPLATE, type CatalogEntry, type ClassifyInput, type FlinkApi } from './index.js';

const SAMPLE: Readonly<Record<string, string>> = {
  jobid: '8c4e5e2b1f3a4d6c9b0a1e2f3d4c5b6a',
  vertexid: 'cbc357ccb763df2852fee8c4fc7d55f2',
  triggerid: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
  checkpointid: '42',
  datasetid: '9f8e7d6c5b4a39281706f5e4d3c2b1a0',
  jarid: 'd6f3c1e2-5b4a-4c3d-9e8f-0a1b2c3d4e5f_WordCount.jar',
  taskmanagerid: '10.0.0.7:35841-9f1c2a',
  subtaskindex: '3',
  attempt: '1',
  filename: 'taskmanager.log',
  operatorid: 'feca0f6b0f8e1b2a3c4d5e6f7a8b9c0d',
  rescaleuuid: '0f1e2d3c-4b5a-4697-8877-665544332211',
  session_handle: '5b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b',
  operation_handle: 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9',
  token: '0',
  identifier: 'cat.db.orders_mt',
};

function workload(): ClassifyInput[] {
  const inputs: ClassifyInput[] = [];
  const add = (api: FlinkApi, method: string, path: string, query = ''): void => {
    inputs.push({ api, method, path, query: new URLSearchParams(query) });
  };
  for (const entry of catalogEntries()) {
    if (entry.template === WEB_UI_ASSET_TEMPLATE) continue;
    const path = entry.template.replace(/:(\w+)/g, (_, name: string) => SAMPLE[name] ?? 'x');
    const query = entry.query ? new URLSearchParams(entry.query as Record<string, string>).toString() : '';
    add(entry.api, entry.method, path, query);
    if (entry.api !== 'history_server') add(entry.api, entry.method, '/v1' + path, query);
  }
  for (const path of ['/', '/index.html', '/main.7c3d1f0e2a.js', '/styles.3e9c.css', '/assets/images/flink-logo.svg']) {
    add('dispatcher', 'GET', path);
  }
  add('dispatcher', 'GET', `/jobs/${SAMPLE.jobid}/frobnicate`);
  add('dispatcher', 'DELETE', `/jobs/${SAMPLE.jobid}`);
  add('sql_gateway', 'POST', `/v2/sessions/${SAMPLE.session_handle}/widgets/17`);
  add('dispatcher', 'GET', `/jobs/${SAMPLE.jobid}%2Fyarn-cancel`);
  add('dispatcher', 'POST', '/jars/d6f3c1e2-5b4a-4c3d-9e8f-0a1b2c3d4e5f_Word%20Count.jar/run');
  return inputs;
}

/** Flink's way: routes sorted literal-first, one regex each, first match wins. */
function linearBaseline(): (input: ClassifyInput) => string {
  const routes = new Map<string, { re: RegExp; entry: CatalogEntry }[]>();
  const sorted = catalogEntries()
    .filter((e) => e.template !== WEB_UI_ASSET_TEMPLATE)
    .slice()
    .sort((a, b) => (b.query ? 1 : 0) - (a.query ? 1 : 0) || a.template.replaceAll(':', '~').localeCompare(b.template.replaceAll(':', '~')));
  for (const entry of sorted) {
    const key = `${entry.api} ${entry.method}`;
    const source = entry.template.replace(/:\w+/g, '([^/]*)');
    const list = routes.get(key) ?? [];
    list.push({ re: new RegExp(`^(?:/v[1-4])?${source}/*$`), entry });
    routes.set(key, list);
  }
  return (input) => {
    const path = input.path.includes('%') ? decodeURIComponent(input.path) : input.path;
    for (const { re, entry } of routes.get(`${input.api} ${input.method}`) ?? []) {
      const m = re.exec(path);
      if (m === null) continue;
      if (entry.query && !Object.entries(entry.query).every(([k, v]) => input.query.get(k)?.toLowerCase() === v)) continue;
      const params: Record<string, string> = {};
      entry.params.forEach((name, i) => (params[name] = m[i + 1]!));
      return entry.eventName;
    }
    return `${input.method} ${path}`;
  };
}

function measure(name: string, inputs: readonly ClassifyInput[], iterations: number, fn: (input: ClassifyInput) => unknown): number {
  let sink = 0;
  for (let i = 0; i < 200_000; i++) sink += fn(inputs[i % inputs.length]!) ? 1 : 0; // warm-up (JIT)
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) sink += fn(inputs[i % inputs.length]!) ? 1 : 0;
  const ns = Number(process.hrtime.bigint() - start) / iterations;
  console.log(`${name.padEnd(34)} ${ns.toFixed(0).padStart(6)} ns/op   (${iterations} calls, sink ${sink % 7})`);
  return ns;
}

const iterations = Number(process.argv[2] ?? 1_000_000);
const inputs = workload();
console.log(`${inputs.length} distinct calls, classified round-robin; node ${process.version}`);
const trie = measure('classify() (segment trie)', inputs, iterations, (input) => classify(input));
const linear = measure('baseline: linear regex first-match', inputs, iterations, linearBaseline());
console.log(`classify() is ${(linear / trie).toFixed(1)}x the baseline's speed`);
