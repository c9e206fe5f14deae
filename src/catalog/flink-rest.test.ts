/**
 * Tests for the Flink REST catalog and classify(): every row round-trips from a concrete path,
 * the tricky routes (yarn-cancel, ?mode=stop, /jobs/overview, jar ids, versions, encodings) say
 * what Flink will do, unknown calls get stable names, the table agrees with endpoints.tsv and
 * Flink's OpenAPI specs (where those files are present), and the generated docs are current.
 *
 *   node --import tsx --test src/catalog/flink-rest.test.ts
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parse as parseYaml } from 'yaml';
import { renderFlinkEventsDoc } from './docs.js';
import {
  catalogEntries,
  classify,
  FLINK_APIS,
  RESOURCE_PARAMS,
  RESOURCE_TYPES,
  resourceTypeKey,
  WEB_UI_ASSET_TEMPLATE,
  type CatalogEntry,
  type Classification,
  type FlinkApi,
} from './index.js';

// ---------------------------------------------------------------------------------------------
// Builders

const JOB_ID = '8c4e5e2b1f3a4d6c9b0a1e2f3d4c5b6a';
const VERTEX_ID = 'cbc357ccb763df2852fee8c4fc7d55f2';
const JAR_ID = 'd6f3c1e2-5b4a-4c3d-9e8f-0a1b2c3d4e5f_WordCount.jar';
const SESSION = '5b0e1f2a-3c4d-4e5f-8a9b-0c1d2e3f4a5b';
const OPERATION = 'f1e2d3c4-b5a6-4978-8695-a4b3c2d1e0f9';
const TASK_MANAGER = '10.0.0.7:35841-9f1c2a';

/** A realistic value for every path parameter the catalog uses. */
const SAMPLE: Readonly<Record<string, string>> = {
  jobid: JOB_ID,
  vertexid: VERTEX_ID,
  triggerid: '0a1b2c3d4e5f60718293a4b5c6d7e8f9',
  checkpointid: '42',
  datasetid: '9f8e7d6c5b4a39281706f5e4d3c2b1a0',
  jarid: JAR_ID,
  taskmanagerid: TASK_MANAGER,
  subtaskindex: '3',
  attempt: '1',
  filename: 'taskmanager.log',
  operatorid: 'feca0f6b0f8e1b2a3c4d5e6f7a8b9c0d',
  rescaleuuid: '0f1e2d3c-4b5a-4697-8877-665544332211',
  session_handle: SESSION,
  operation_handle: OPERATION,
  token: '0',
  // Backticks, dots and spaces: must survive percent-encoding and Flink-style decoding.
  identifier: '`my cat`.`db`.`orders_mt`',
  '*': 'index.html',
};

/** The concrete path for a template, parameters percent-encoded as a client would send them. */
function concretePath(template: string, version = ''): string {
  const path = template.replace(/:([\w*]+)/g, (_, name: string) => {
    const value = SAMPLE[name];
    assert.ok(value !== undefined, `no sample value for :${name} in ${template}`);
    return name === '*' ? value : encodeURIComponent(value);
  });
  return (version ? `/${version}` : '') + path;
}

const VERSIONS: Readonly<Record<FlinkApi, readonly string[]>> = {
  dispatcher: ['', 'v1'],
  sql_gateway: ['', 'v1', 'v2', 'v3', 'v4'],
  history_server: [''],
};

function call(api: FlinkApi, method: string, path: string, query = ''): Classification {
  return classify({ api, method, path, query: new URLSearchParams(query) });
}

function queryOf(entry: CatalogEntry): string {
  return entry.query ? new URLSearchParams(entry.query as Record<string, string>).toString() : '';
}

function label(entry: CatalogEntry): string {
  const query = queryOf(entry);
  return `${entry.api} ${entry.method} ${entry.template}${query ? '?' + query : ''}`;
}

/** What classify() should return for a catalog row reached with the SAMPLE values. */
function expected(entry: CatalogEntry, version: string): Classification {
  const params: Record<string, string> = {};
  for (const name of entry.params) params[name] = SAMPLE[name]!;
  const resources: Record<string, string[]> = {};
  for (const name of entry.resourceParams) {
    (resources[resourceTypeKey(RESOURCE_PARAMS[name]!)] ??= []).push(SAMPLE[name]!);
  }
  return {
    eventName: entry.eventName,
    eventRW: entry.eventRW,
    sensitive: entry.sensitive,
    pathTemplate: entry.template,
    known: true,
    ...(version ? { apiVersion: version } : {}),
    params,
    resources,
  };
}

// ---------------------------------------------------------------------------------------------
// Every row

describe('every catalog row classifies back from a concrete path', () => {
  for (const entry of catalogEntries()) {
    test(label(entry), () => {
      for (const version of VERSIONS[entry.api]) {
        const path = concretePath(entry.template, version);
        assert.deepEqual(call(entry.api, entry.method, path, queryOf(entry)), expected(entry, version), path);
        // Flink ignores slashes at both ends; so must we.
        assert.deepEqual(call(entry.api, entry.method, path + '/', queryOf(entry)), expected(entry, version), path + '/');
      }
    });
  }
});

// ---------------------------------------------------------------------------------------------
// The tricky ones

describe('version prefix', () => {
  test('/v1 is stripped, matched as unversioned and recorded as apiVersion', () => {
    const v1 = call('dispatcher', 'GET', `/v1/jobs/${JOB_ID}`);
    assert.equal(v1.eventName, 'GetJobDetails');
    assert.equal(v1.apiVersion, 'v1');
    assert.deepEqual(v1.params, { jobid: JOB_ID });
    const bare = call('dispatcher', 'GET', `/jobs/${JOB_ID}`);
    assert.equal(bare.eventName, 'GetJobDetails');
    assert.ok(!('apiVersion' in bare), 'no apiVersion key when the client sent none');
  });

  test('only a leading, lower-case v1..v4 segment is a version', () => {
    assert.equal(call('dispatcher', 'GET', '/v1/overview').apiVersion, 'v1');
    assert.equal(call('dispatcher', 'GET', '/V1/overview').known, false);
    assert.equal(call('dispatcher', 'GET', '/v5/overview').eventName, 'GET /v5/overview');
    assert.equal(call('dispatcher', 'GET', '/jobs/v1').eventName, 'GetJobDetails');
    // A lone version segment is a path of its own: Flink registers no route for it.
    assert.equal(call('dispatcher', 'GET', '/v1').eventName, 'GET /v1');
  });

  test('SQL Gateway: /v1../v4 and unversioned are the same operation', () => {
    const path = `/sessions/${SESSION}/operations/${OPERATION}/status`;
    for (const version of ['v1', 'v2', 'v3', 'v4']) {
      const c = call('sql_gateway', 'GET', `/${version}${path}`);
      assert.equal(c.eventName, 'GetOperationStatus');
      assert.equal(c.apiVersion, version);
      assert.deepEqual(c.resources, {
        'ACS::RealtimeCompute::Session': [SESSION],
        'ACS::RealtimeCompute::Operation': [OPERATION],
      });
    }
    const bare = call('sql_gateway', 'GET', path);
    assert.equal(bare.eventName, 'GetOperationStatus');
    assert.equal(bare.apiVersion, undefined);
  });

  test('SQL Gateway: version-specific routes classify whatever version is asked for', () => {
    // The version gate is Flink's to enforce (it answers 404); the record names the intent.
    assert.equal(call('sql_gateway', 'POST', `/v1/sessions/${SESSION}/scripts`).eventName, 'DeployScript');
    assert.equal(call('sql_gateway', 'POST', `/v3/sessions/${SESSION}/materialized-tables/t/refresh`).eventName, 'RefreshMaterializedTable');
    assert.equal(call('sql_gateway', 'POST', '/v3/workflow/embedded-scheduler/suspend').eventName, 'SuspendSchedulerWorkflow');
  });
});

describe('cancel and stop', () => {
  test('GET /jobs/:jobid/yarn-cancel is a sensitive Write (the Web UI Cancel button)', () => {
    const c = call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-cancel`);
    assert.deepEqual(
      { eventName: c.eventName, eventRW: c.eventRW, sensitive: c.sensitive, known: c.known },
      { eventName: 'CancelJob', eventRW: 'Write', sensitive: true, known: true },
    );
    assert.deepEqual(c.resources, { 'ACS::RealtimeCompute::Job': [JOB_ID] });
  });

  test('GET /jobs/:jobid/yarn-stop is StopJob', () => {
    const c = call('dispatcher', 'GET', `/v1/jobs/${JOB_ID}/yarn-stop`);
    assert.equal(c.eventName, 'StopJob');
    assert.equal(c.eventRW, 'Write');
    assert.equal(c.sensitive, true);
  });

  test('the mode query parameter overrides the yarn-* route, as in JobCancellationHandler', () => {
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-cancel`, 'mode=stop').eventName, 'StopJob');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-stop`, 'mode=cancel').eventName, 'CancelJob');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-stop`, 'mode=stop').eventName, 'StopJob');
  });

  test('PATCH /jobs/:jobid: CancelJob by default and with mode=cancel, StopJob with mode=stop', () => {
    const path = `/jobs/${JOB_ID}`;
    const cases: [string, string][] = [
      ['', 'CancelJob'],
      ['mode=cancel', 'CancelJob'],
      ['mode=CANCEL', 'CancelJob'],
      ['mode=stop', 'StopJob'],
      ['mode=STOP', 'StopJob'],
      ['mode=Stop', 'StopJob'],
      // Flink joins repeated values with ',' and takes the first item.
      ['mode=stop,cancel', 'StopJob'],
      ['mode=cancel,stop', 'CancelJob'],
      ['mode=cancel&mode=stop', 'CancelJob'],
      ['mode=stop&mode=cancel', 'StopJob'],
      ['other=stop', 'CancelJob'],
    ];
    for (const [query, eventName] of cases) {
      const c = call('dispatcher', 'PATCH', path, query);
      assert.equal(c.eventName, eventName, `?${query}`);
      assert.equal(c.pathTemplate, '/jobs/:jobid');
      assert.equal(c.sensitive, true);
    }
  });

  test('savepoints: the body is not read, TriggerSavepoint stays TriggerSavepoint', () => {
    const c = call('dispatcher', 'POST', `/jobs/${JOB_ID}/savepoints`, 'cancel-job=true');
    assert.equal(c.eventName, 'TriggerSavepoint');
    assert.equal(c.eventRW, 'Write');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/savepoints/${SAMPLE.triggerid}`).eventName, 'GetSavepointStatus');
    assert.equal(call('dispatcher', 'POST', `/jobs/${JOB_ID}/stop`).eventName, 'StopJobWithSavepoint');
  });
});

describe('literal segments win over parameters', () => {
  test('/jobs/overview and /jobs/metrics are not /jobs/:jobid', () => {
    assert.equal(call('dispatcher', 'GET', '/jobs/overview').eventName, 'GetJobsOverview');
    assert.equal(call('dispatcher', 'GET', '/jobs/metrics').eventName, 'GetAggregatedJobMetrics');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}`).eventName, 'GetJobDetails');
    assert.equal(call('history_server', 'GET', '/jobs/overview').eventName, 'GetJobsOverview');
    assert.equal(call('dispatcher', 'GET', '/taskmanagers/metrics').eventName, 'GetAggregatedTaskManagerMetrics');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/checkpoints/config`).eventName, 'GetCheckpointConfig');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/checkpoints/7`).eventName, 'GetCheckpointStatus');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/vertices/${VERTEX_ID}/subtasks/metrics`).eventName, 'GetAggregatedSubtaskMetrics');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/vertices/${VERTEX_ID}/subtasks/2`).eventName, 'GetSubtaskDetails');
  });

  test('a dead end on the literal branch falls back to the parameter, as Flink\'s first-match does', () => {
    const c = call('dispatcher', 'GET', '/jobs/overview/config');
    assert.equal(c.eventName, 'GetJobConfig');
    assert.deepEqual(c.params, { jobid: 'overview' });
    // Other methods have their own routes: PATCH /jobs/overview is a cancel of job "overview".
    assert.equal(call('dispatcher', 'PATCH', '/jobs/overview').eventName, 'CancelJob');
  });

  test('uploading a jar is not an operation on a jar called "upload"', () => {
    assert.equal(call('dispatcher', 'POST', '/jars/upload').eventName, 'UploadJar');
    assert.equal(call('dispatcher', 'DELETE', '/jars/upload').eventName, 'DeleteJar');
  });
});

describe('jar ids', () => {
  test('<uuid>_<name>.jar is one path parameter', () => {
    for (const [method, suffix, eventName] of [
      ['POST', '/run', 'RunJar'],
      ['POST', '/plan', 'GetJarPlan'],
      ['GET', '/plan', 'GetJarPlan'],
      ['DELETE', '', 'DeleteJar'],
    ] as const) {
      const c = call('dispatcher', method, `/jars/${JAR_ID}${suffix}`);
      assert.equal(c.eventName, eventName);
      assert.deepEqual(c.params, { jarid: JAR_ID });
      assert.deepEqual(c.resources, { 'ACS::RealtimeCompute::Jar': [JAR_ID] });
    }
  });

  test('a .jar id is never taken for a Web UI asset or an :id-less unknown', () => {
    assert.equal(call('dispatcher', 'GET', `/jars/${JAR_ID}/plan`).known, true);
    assert.equal(call('dispatcher', 'GET', `/jars/${JAR_ID}/manifest`).eventName, 'GET /jars/:id/manifest');
  });

  test('jar names are percent-decoded like Flink ("+" in a segment is a space)', () => {
    const prefix = 'd6f3c1e2-5b4a-4c3d-9e8f-0a1b2c3d4e5f_';
    assert.deepEqual(call('dispatcher', 'POST', `/jars/${prefix}Word%20Count.jar/run`).params, { jarid: `${prefix}Word Count.jar` });
    assert.deepEqual(call('dispatcher', 'POST', `/jars/${prefix}Word+Count.jar/run`).params, { jarid: `${prefix}Word Count.jar` });
    assert.deepEqual(call('dispatcher', 'POST', `/jars/${prefix}J%C3%B6b.jar/run`).params, { jarid: `${prefix}Jöb.jar` });
  });
});

describe('paths are decoded and split as Flink\'s router does', () => {
  test('%2F is a separator: an encoded slash cannot hide yarn-cancel inside a job id', () => {
    const c = call('dispatcher', 'GET', `/jobs/${JOB_ID}%2Fyarn-cancel`);
    assert.equal(c.eventName, 'CancelJob');
    assert.deepEqual(c.params, { jobid: JOB_ID });
  });

  test('%3F ends the path (Router.decodePathTokens cuts the decoded path at "?")', () => {
    const c = call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-cancel%3F/ignored`);
    assert.equal(c.eventName, 'CancelJob');
  });

  test('%252F is decoded twice into a "/" inside one segment', () => {
    const c = call('dispatcher', 'GET', `/jobs/a%252Fb`);
    assert.equal(c.eventName, 'GetJobDetails');
    assert.deepEqual(c.params, { jobid: 'a/b' });
  });

  test('percent-encoded literals match; encoded version prefixes count', () => {
    assert.equal(call('dispatcher', 'GET', '/jobs/%6Fverview').eventName, 'GetJobsOverview');
    const c = call('dispatcher', 'GET', '/%761/overview');
    assert.equal(c.eventName, 'GetClusterOverview');
    assert.equal(c.apiVersion, 'v1');
  });

  test('slashes at both ends are ignored, empty inner segments are not', () => {
    assert.equal(call('dispatcher', 'GET', '//jobs/overview//').eventName, 'GetJobsOverview');
    assert.equal(call('dispatcher', 'GET', '/jobs//overview').known, false);
    // An empty parameter routes in Flink (and fails there); it names no resource.
    const empty = call('dispatcher', 'GET', '/jobs//status');
    assert.equal(empty.eventName, 'GetJobStatus');
    assert.deepEqual(empty.params, { jobid: '' });
    assert.deepEqual(empty.resources, {});
  });

  test('a malformed escape is not routed by Flink, so it is unknown', () => {
    const c = call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-cancel%zz`);
    assert.equal(c.known, false);
    assert.equal(c.eventName, 'GET /jobs/:id/yarn-cancel%zz');
    assert.equal(call('dispatcher', 'PATCH', '/jobs/abc%').sensitive, true);
  });

  test('methods are matched case-insensitively', () => {
    assert.equal(call('dispatcher', 'patch', `/jobs/${JOB_ID}`).eventName, 'CancelJob');
    assert.equal(call('dispatcher', 'get', '/index.html').eventName, 'GetWebUIAsset');
  });
});

describe('resources', () => {
  test('every path parameter that names a resource is recorded under its full type', () => {
    const c = call('dispatcher', 'GET', `/jobs/${JOB_ID}/checkpoints/details/42/subtasks/${VERTEX_ID}`);
    assert.equal(c.eventName, 'GetTaskCheckpointStatistics');
    assert.deepEqual(c.resources, {
      'ACS::RealtimeCompute::Job': [JOB_ID],
      'ACS::RealtimeCompute::Checkpoint': ['42'],
      'ACS::RealtimeCompute::Vertex': [VERTEX_ID],
    });
  });

  test('trigger ids and file names are parameters, not resources', () => {
    const c = call('dispatcher', 'GET', `/taskmanagers/${encodeURIComponent(TASK_MANAGER)}/logs/taskmanager.log`);
    assert.deepEqual(c.params, { taskmanagerid: TASK_MANAGER, filename: 'taskmanager.log' });
    assert.deepEqual(c.resources, { 'ACS::RealtimeCompute::TaskManager': [TASK_MANAGER] });
  });

  test('each result is a fresh object the gateway may extend', () => {
    const first = call('dispatcher', 'GET', `/jobs/${JOB_ID}`);
    first.resources['ACS::RealtimeCompute::Job']!.push('my-job');
    first.params.extra = 'x';
    const second = call('dispatcher', 'GET', `/jobs/${JOB_ID}`);
    assert.deepEqual(second.resources, { 'ACS::RealtimeCompute::Job': [JOB_ID] });
    assert.deepEqual(second.params, { jobid: JOB_ID });
    const unknownFirst = call('dispatcher', 'GET', '/nope');
    unknownFirst.resources.x = ['y'];
    assert.deepEqual(call('dispatcher', 'GET', '/nope').resources, {});
  });
});

describe('Web UI assets', () => {
  const assets = [
    '/',
    '/index.html',
    '/main.7c3d1f0e2a.js',
    '/runtime.js',
    '/styles.3e9c.css',
    '/assets/images/flink-logo.svg',
    '/assets/favicon/favicon.ico',
    '/assets/i18n/en.json',
    '/fonts/flink.woff2',
    '/main.js.map',
    '/v1/index.html',
  ];

  test('static files on the JobManager are GetWebUIAsset: known, Read, not sensitive', () => {
    for (const path of assets) {
      const c = call('dispatcher', 'GET', path);
      assert.equal(c.eventName, 'GetWebUIAsset', path);
      assert.equal(c.eventRW, 'Read');
      assert.equal(c.sensitive, false);
      assert.equal(c.known, true);
      assert.equal(c.pathTemplate, WEB_UI_ASSET_TEMPLATE);
      assert.deepEqual(c.resources, {});
    }
    assert.deepEqual(call('dispatcher', 'GET', '/assets/images/flink-logo.svg').params, { '*': 'assets/images/flink-logo.svg' });
  });

  test('the History Server serves the same dashboard', () => {
    for (const path of assets) assert.equal(call('history_server', 'GET', path).eventName, 'GetWebUIAsset', path);
  });

  test('only GETs of static-looking paths are assets', () => {
    assert.equal(call('dispatcher', 'POST', '/index.html').eventName, 'POST /index.html');
    assert.equal(call('dispatcher', 'HEAD', '/').eventName, 'HEAD /');
    assert.equal(call('dispatcher', 'GET', '/jobs/overview/extra/more').known, false);
    assert.equal(call('dispatcher', 'GET', '/new-api-endpoint').known, false);
    // The SQL Gateway has no Web UI.
    assert.equal(call('sql_gateway', 'GET', '/index.html').known, false);
    assert.equal(call('sql_gateway', 'GET', '/').eventName, 'GET /');
  });

  test('a route with a dot in a parameter is still the route, not an asset', () => {
    assert.equal(call('dispatcher', 'GET', '/jobmanager/logs/jobmanager.log').eventName, 'GetJobManagerLogFile');
    assert.equal(call('dispatcher', 'GET', `/jobs/${JOB_ID}/yarn-cancel.js`).eventName, 'GetWebUIAsset');
  });
});

describe('History Server archive files', () => {
  test('/path and /path.json are the same call', () => {
    assert.equal(call('history_server', 'GET', '/jobs/overview.json').eventName, 'GetJobsOverview');
    const c = call('history_server', 'GET', `/jobs/${JOB_ID}.json`);
    assert.equal(c.eventName, 'GetJobDetails');
    assert.deepEqual(c.params, { jobid: JOB_ID });
    assert.equal(call('history_server', 'GET', `/jobs/${JOB_ID}/vertices/${VERTEX_ID}/subtasktimes.json`).eventName, 'GetSubtasksTimes');
    // Only the History Server serves files that way.
    assert.equal(call('dispatcher', 'GET', '/jobs/overview.json').eventName, 'GetJobDetails');
  });

  test('routes the History Server does not archive are unknown there', () => {
    assert.equal(call('history_server', 'GET', `/jobs/${JOB_ID}/status`).eventName, 'GET /jobs/:id/status');
    assert.equal(call('history_server', 'PATCH', `/jobs/${JOB_ID}`).eventName, 'PATCH /jobs/:id');
  });
});

describe('unknown endpoints', () => {
  test('named METHOD /template with ids replaced; Read for GET, sensitive Write otherwise', () => {
    const cases: [FlinkApi, string, string, string, 'Read' | 'Write'][] = [
      ['dispatcher', 'GET', `/jobs/${JOB_ID}/frobnicate`, 'GET /jobs/:id/frobnicate', 'Read'],
      ['dispatcher', 'POST', `/jobs/${JOB_ID.toUpperCase()}/frobnicate/`, 'POST /jobs/:id/frobnicate', 'Write'],
      ['dispatcher', 'DELETE', `/jobs/${JOB_ID}`, 'DELETE /jobs/:id', 'Write'],
      ['dispatcher', 'PUT', `/jars/${JAR_ID}/explode`, 'PUT /jars/:id/explode', 'Write'],
      ['dispatcher', 'GET', `/taskmanagers/${TASK_MANAGER}/gc`, 'GET /taskmanagers/:id/gc', 'Read'],
      ['dispatcher', 'GET', `/jobs/${JOB_ID}/checkpoints/details/17/extra`, 'GET /jobs/:id/checkpoints/details/:id/extra', 'Read'],
      ['sql_gateway', 'POST', `/v2/sessions/${SESSION}/widgets/17`, 'POST /sessions/:id/widgets/:id', 'Write'],
      ['sql_gateway', 'GET', `/sessions/${SESSION.toUpperCase()}/widgets`, 'GET /sessions/:id/widgets', 'Read'],
      ['dispatcher', 'HEAD', '/jobs', 'HEAD /jobs', 'Read'],
      ['dispatcher', 'OPTIONS', `/jobs/${JOB_ID}`, 'OPTIONS /jobs/:id', 'Read'],
      ['dispatcher', 'TRACE', '/', 'TRACE /', 'Write'],
    ];
    for (const [api, method, path, eventName, eventRW] of cases) {
      const c = call(api, method, path);
      assert.deepEqual(
        { eventName: c.eventName, eventRW: c.eventRW, sensitive: c.sensitive, known: c.known, pathTemplate: c.pathTemplate },
        { eventName, eventRW, sensitive: eventRW === 'Write', known: false, pathTemplate: eventName.slice(eventName.indexOf(' ') + 1) },
        `${method} ${path}`,
      );
      assert.deepEqual(c.params, {});
      assert.deepEqual(c.resources, {});
    }
  });

  test('the version prefix is recorded, not named', () => {
    const c = call('sql_gateway', 'GET', `/v2/sessions/${SESSION}/widgets`);
    assert.equal(c.eventName, 'GET /sessions/:id/widgets');
    assert.equal(c.apiVersion, 'v2');
  });

  test('names stay short and printable whatever the path', () => {
    assert.equal(call('dispatcher', 'GET', '/x%0Ay%20z/%C3%A9').eventName, 'GET /x%0Ay%20z/%C3%A9');
    const long = call('dispatcher', 'GET', '/' + 'segment/'.repeat(200));
    assert.ok(long.eventName.length <= 'GET '.length + 256 + 3, `${long.eventName.length}`);
    assert.ok(long.eventName.endsWith('...'));
  });

  test('classify never throws and unknown names never carry control characters (property)', () => {
    const api = fc.constantFrom<FlinkApi>(...FLINK_APIS);
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'get');
    const segment = fc.oneof(
      fc.string({ unit: 'binary', maxLength: 12 }),
      fc.constantFrom('jobs', 'v1', JOB_ID, '%2F', '%3F', '%zz', '%', '+', '..', '', 'overview', 'yarn-cancel'),
    );
    const path = fc.array(segment, { maxLength: 8 }).map((segments) => '/' + segments.join('/'));
    fc.assert(
      fc.property(api, method, path, fc.string({ maxLength: 20 }), (a, m, p, q) => {
        const c = classify({ api: a, method: m, path: p, query: new URLSearchParams(q) });
        assert.ok(c.pathTemplate.startsWith('/'));
        assert.equal(c.sensitive, c.known ? c.sensitive : c.eventRW === 'Write');
        if (!c.known) assert.match(c.eventName, /^[A-Z]+ \/[\x21-\x7e]*$/);
      }),
      { numRuns: 2000 },
    );
  });
});

// ---------------------------------------------------------------------------------------------
// The table itself

/** Verbs an event name may start with (ActionTrail style: verb, then the resource). */
const VERBS = [
  'Get', 'List', 'Create', 'Delete', 'Update', 'Trigger', 'Cancel', 'Stop', 'Run', 'Upload', 'Submit',
  'Shutdown', 'Dispose', 'Rescale', 'Report', 'Send', 'Open', 'Close', 'Configure', 'Complete',
  'Execute', 'Fetch', 'Refresh', 'Deploy', 'Resume', 'Suspend',
];

/** Event names deliberately shared by several routes of one API. */
const SHARED_EVENT_NAMES: Readonly<Record<string, string>> = {
  CancelJob: 'PATCH /jobs/:jobid, the yarn-cancel GET, and yarn-stop?mode=cancel all cancel',
  StopJob: 'PATCH ?mode=stop, the yarn-stop GET, and yarn-cancel?mode=stop all (legacy-)stop',
  GetJarPlan: 'the GET (Web UI) and POST variants of the same handler',
};

/** Requests whose Read/Write differs from what the HTTP method suggests. */
const RW_AGAINST_METHOD = new Set([
  'dispatcher GET /jobs/:jobid/yarn-cancel',
  'dispatcher GET /jobs/:jobid/yarn-stop',
  'dispatcher POST /jars/:jarid/plan',
]);

describe('catalog invariants', () => {
  const entries = catalogEntries();

  test('the table has what the rest of the project relies on', () => {
    assert.equal(catalogEntries('dispatcher').length + catalogEntries('sql_gateway').length + catalogEntries('history_server').length, entries.length);
    for (const api of FLINK_APIS) assert.ok(catalogEntries(api).every((e) => e.api === api));
    assert.ok(entries.length >= 127, `${entries.length} rows`);
  });

  test('one row per (api, method, template, query)', () => {
    const seen = new Map<string, string>();
    for (const entry of entries) {
      const key = label(entry);
      assert.ok(!seen.has(key), `duplicate ${key}`);
      seen.set(key, entry.eventName);
    }
  });

  test('event names are PascalCase, verb first', () => {
    for (const entry of entries) {
      assert.match(entry.eventName, /^[A-Z][A-Za-z0-9]*$/, label(entry));
      assert.ok(VERBS.some((verb) => new RegExp(`^${verb}[A-Z]`).test(entry.eventName)), `${entry.eventName} does not start with a known verb`);
    }
  });

  test('within an API, an event name belongs to one route unless deliberately shared', () => {
    for (const api of FLINK_APIS) {
      const routes = new Map<string, string[]>();
      for (const entry of catalogEntries(api)) {
        const list = routes.get(entry.eventName) ?? [];
        list.push(label(entry));
        routes.set(entry.eventName, list);
      }
      for (const [eventName, list] of routes) {
        if (list.length > 1) assert.ok(eventName in SHARED_EVENT_NAMES, `${eventName} is used by ${list.join(', ')}`);
      }
    }
  });

  test('shared names mean the same everywhere: RW, resource type and sensitivity agree', () => {
    const byName = new Map<string, CatalogEntry>();
    for (const entry of entries) {
      const first = byName.get(entry.eventName);
      if (first === undefined) {
        byName.set(entry.eventName, entry);
        continue;
      }
      assert.deepEqual(
        [entry.eventRW, entry.resourceType, entry.sensitive],
        [first.eventRW, first.resourceType, first.sensitive],
        `${label(entry)} vs ${label(first)}`,
      );
    }
  });

  test('History Server rows match the JobManager rows for the same route', () => {
    for (const entry of catalogEntries('history_server')) {
      assert.equal(entry.method, 'GET', `${label(entry)}: the History Server is GET-only`);
      const twin = catalogEntries('dispatcher').find((d) => d.method === entry.method && d.template === entry.template && !d.query);
      assert.ok(twin, `${label(entry)} has no JobManager twin`);
      assert.equal(entry.eventName, twin.eventName);
      assert.equal(entry.eventRW, twin.eventRW);
      assert.equal(entry.resourceType, twin.resourceType);
    }
  });

  test('Read/Write follows the method except where Flink does otherwise', () => {
    for (const entry of entries) {
      const byMethod = entry.method === 'GET' ? 'Read' : 'Write';
      const key = `${entry.api} ${entry.method} ${entry.template}`;
      if (RW_AGAINST_METHOD.has(key)) assert.notEqual(entry.eventRW, byMethod, `${key} is listed as an exception but is not one`);
      else assert.equal(entry.eventRW, byMethod, `${key}: add it to RW_AGAINST_METHOD with a reason, or fix it`);
    }
  });

  test('resource parameters and types come from the closed vocabularies', () => {
    for (const entry of entries) {
      assert.ok((RESOURCE_TYPES as readonly string[]).includes(entry.resourceType), label(entry));
      assert.deepEqual(entry.resourceParams, entry.params.filter((p) => p in RESOURCE_PARAMS), label(entry));
      for (const param of entry.params) assert.ok(param in SAMPLE, `${label(entry)}: give :${param} a SAMPLE value`);
    }
  });

  test('the yarn-cancel / PATCH cancel and stop routes are all sensitive Writes', () => {
    for (const entry of entries.filter((e) => e.eventName === 'CancelJob' || e.eventName === 'StopJob')) {
      assert.equal(entry.eventRW, 'Write', label(entry));
      assert.equal(entry.sensitive, true, label(entry));
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Against the reference material, vendored under test/fixtures/reference/flink (see its README)

const TSV_URL = new URL('../../test/fixtures/reference/flink/endpoints.tsv', import.meta.url);
const SPEC_DIR_URL = new URL('../../test/fixtures/reference/flink/spec/', import.meta.url);

/** TSV resource types this catalog names differently, and why. */
const TSV_TYPE_RENAMES: Readonly<Record<string, string>> = {
  JobVertex: 'Vertex', // the brief's vocabulary
  Subtask: 'Vertex', // a subtask index names nothing on its own; the vertex is the resource
  Gateway: 'SqlGateway', // not to be confused with FlinkTrail's own gateway
  WebUi: 'Cluster', // static files are the cluster's dashboard, not a resource of their own
};

/** TSV event names this catalog changes, and why. */
const TSV_NAME_RENAMES: Readonly<Record<string, string>> = {
  GetWebUiAsset: 'GetWebUIAsset', // the brief's name
  GetClusterConfiguration: 'GetJobManagerConfig', // the brief's name; the path is /jobmanager/config
  GetDashboardConfiguration: 'GetDashboardConfig', // "Config" throughout, like GetJobConfig
  GetJobManagerJobConfiguration: 'GetJobManagerJobConfig', // idem
  SessionHeartbeat: 'ReportSessionHeartbeat', // verb first, like ReportClientHeartbeat
};

/** TSV rows whose sensitivity this catalog changes, and why. */
const TSV_SENSITIVITY_CHANGES: Readonly<Record<string, boolean>> = {
  // Building a jar's plan runs its main() on the JobManager: code execution, flagged though a Read.
  'dispatcher GET /jars/:jarid/plan': true,
  'dispatcher POST /jars/:jarid/plan': true,
};

interface TsvRow {
  api: FlinkApi;
  method: string;
  template: string;
  eventName: string;
  eventRW: string;
  resourceType: string;
  sensitive: boolean;
}

function readTsv(): TsvRow[] {
  const [header, ...lines] = readFileSync(TSV_URL, 'utf8').split('\n').filter((line) => line.trim() !== '');
  const columns = header!.split('\t');
  const col = (name: string): number => {
    const index = columns.indexOf(name);
    assert.ok(index >= 0, `endpoints.tsv has no ${name} column`);
    return index;
  };
  const [api, method, path, eventName, rw, type, sensitive] = ['api', 'method', 'path', 'eventName', 'RW', 'resourceType', 'sensitive'].map(col);
  return lines.map((line) => {
    const cells = line.split('\t');
    const rawPath = cells[path!]!;
    return {
      api: cells[api!] as FlinkApi,
      method: cells[method!]!,
      template: rawPath === '/*' ? WEB_UI_ASSET_TEMPLATE : rawPath.replace(/\{([^}]+)\}/g, ':$1'),
      eventName: cells[eventName!]!,
      eventRW: cells[rw!]!,
      resourceType: cells[type!]!,
      sensitive: cells[sensitive!] === 'true',
    };
  });
}

const HTTP_METHOD_KEYS = new Set(['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']);

describe('reference material', () => {
  test(
    'every row of endpoints.tsv is in the catalog, and every difference is a listed decision',
    () => {
      const rows = readTsv();
      assert.equal(rows.length, 127, 'endpoints.tsv changed size: review the new rows');
      const usedRenames = new Set<string>();
      for (const row of rows) {
        const key = `${row.api} ${row.method} ${row.template}`;
        const entry = catalogEntries(row.api).find((e) => e.method === row.method && e.template === row.template && !e.query);
        assert.ok(entry, `${key} is in endpoints.tsv but not in the catalog`);

        const eventName = TSV_NAME_RENAMES[row.eventName] ?? row.eventName;
        if (eventName !== row.eventName) usedRenames.add(row.eventName);
        const resourceType = TSV_TYPE_RENAMES[row.resourceType] ?? row.resourceType;
        if (resourceType !== row.resourceType) usedRenames.add(row.resourceType);
        const sensitive = TSV_SENSITIVITY_CHANGES[key] ?? row.sensitive;
        if (sensitive !== row.sensitive) usedRenames.add(key);
        assert.deepEqual(
          { eventName: entry.eventName, eventRW: entry.eventRW, resourceType: entry.resourceType, sensitive: entry.sensitive },
          { eventName, eventRW: row.eventRW, resourceType, sensitive },
          `${key} differs from endpoints.tsv without a listed reason`,
        );

        // And the row's route is reachable: its concrete path classifies to it.
        if (row.template !== WEB_UI_ASSET_TEMPLATE) {
          assert.equal(call(row.api, row.method, concretePath(row.template)).eventName, entry.eventName, key);
        }
      }
      const listed = [...Object.keys(TSV_NAME_RENAMES), ...Object.keys(TSV_TYPE_RENAMES), ...Object.keys(TSV_SENSITIVITY_CHANGES)];
      for (const reason of listed) assert.ok(usedRenames.has(reason), `listed TSV change ${reason} no longer applies; remove it`);
    },
  );

  test(
    'every operation in Flink\'s OpenAPI specs is in the catalog',
    () => {
      const files = readdirSync(SPEC_DIR_URL).filter((name) => name.endsWith('.yml'));
      assert.ok(files.length > 0);
      for (const file of files) {
        const api: FlinkApi = file.includes('sql_gateway') ? 'sql_gateway' : 'dispatcher';
        const spec = parseYaml(readFileSync(new URL(file, SPEC_DIR_URL), 'utf8')) as { paths: Record<string, Record<string, unknown>> };
        for (const [path, operations] of Object.entries(spec.paths)) {
          const template = path.replace(/\{([^}]+)\}/g, ':$1');
          const methods = Object.keys(operations).filter((key) => HTTP_METHOD_KEYS.has(key));
          for (const method of methods.map((m) => m.toUpperCase())) {
            const entry: CatalogEntry | undefined = catalogEntries(api).find((e) => e.method === method && e.template === template);
            assert.ok(entry, `${file}: ${method} ${path} is not in the catalog`);
            assert.equal(entry.documented, true, `${file}: ${method} ${path} is documented by Flink`);
          }
        }
      }
    },
  );
});

// ---------------------------------------------------------------------------------------------
// Generated docs

test('docs/reference/flink-events.md is the output of print-docs.ts', () => {
  const committed = readFileSync(new URL('../../docs/reference/flink-events.md', import.meta.url), 'utf8');
  const rendered = renderFlinkEventsDoc();
  if (committed !== rendered) {
    // Point at the first differing line rather than dumping two 30 kB strings.
    const a = committed.split('\n');
    const b = rendered.split('\n');
    const line = a.findIndex((text, i) => text !== b[i]);
    assert.fail(
      `docs/reference/flink-events.md is stale at line ${(line < 0 ? a.length : line) + 1}:\n` +
        `  committed: ${a[line] ?? '(end of file)'}\n  generated: ${b[line] ?? '(end of file)'}\n` +
        'Regenerate: node --import tsx src/catalog/print-docs.ts > docs/reference/flink-events.md',
    );
  }
  for (const entry of catalogEntries()) assert.ok(committed.includes(`\`${entry.eventName}\``), entry.eventName);
});
