/**
 * Renders the Flink event reference (`docs/reference/flink-events.md`) from the catalog, so the
 * published list of event names is the list the code uses. `print-docs.ts` prints it; a test
 * fails when the committed file and this output differ.
 */
import { RESOURCE_TYPE_PREFIX } from '../event/types.js';
import { BODY_VARIANTS, RESOURCE_PARAMS, type CatalogEntry } from './flink-rest.js';
import { catalogEntries, type FlinkApi } from './index.js';

const SECTIONS: readonly { api: FlinkApi; title: string; intro: string }[] = [
  {
    api: 'dispatcher',
    title: 'JobManager REST API and Web UI (`dispatcher`)',
    intro: 'Served unversioned and under `/v1`; the Web UI uses the unversioned routes.',
  },
  {
    api: 'sql_gateway',
    title: 'SQL Gateway (`sql_gateway`)',
    intro: 'Served under `/v1`…`/v4` and unversioned (the default version); a row without a version note is served by all four.',
  },
  {
    api: 'history_server',
    title: 'History Server (`history_server`)',
    intro: 'GET only: archived jobs served as files (`/jobs/overview` and `/jobs/overview.json` are the same call).',
  },
];

/** The whole Markdown document, ending in a newline. */
export function renderFlinkEventsDoc(): string {
  const lines: string[] = [
    '<!-- Generated from src/catalog/flink-rest.ts by `node --import tsx src/catalog/print-docs.ts > docs/reference/flink-events.md`. Do not edit by hand. -->',
    '',
    '# Flink REST events',
    '',
    'Every Flink REST call that passes the gateway is recorded under the event name below, with its',
    'Read/Write type, the resources named in its path and whether it is a sensitive operation.',
    'Classification looks at the method, the path and the query string; where a body field changes what',
    'Flink does, a [body variant](#body-variants) names the operation (a savepoint with `"cancel-job": true`',
    'is `CancelJobWithSavepoint`), and is authorized as that. Other body fields (the SQL text of',
    '`ExecuteStatement`, `drain`) are recorded in `requestParameters`.',
    '',
    '## How a call is matched',
    '',
    '- A leading version segment (`/v1`…`/v4`) is removed before matching and kept as `apiVersion`.',
    '- The path is split and percent-decoded the way Flink\'s router does it: the whole path is decoded',
    '  first (so `%2F` separates segments and `%3F` ends the path), slashes at both ends are ignored, then',
    '  each segment is decoded again (`+` is a space). The record names the handler Flink runs.',
    '- A literal segment wins over a parameter: `/jobs/overview` is `GetJobsOverview`, not `GetJobDetails`.',
    '- A row with a query condition (`?mode=stop`) wins over the plain row for the same route when the',
    '  first value of that parameter matches, case-insensitively, as Flink reads it.',
    '- `GET` calls no row matches that ask for a static file (`/`, `/assets/…`, `*.js`, `*.css`, …) are',
    '  `GetWebUIAsset` (Read, not sensitive) on the JobManager and the History Server.',
    '- Any other call is recorded as unknown (`known: false`): the event name is `METHOD /path` with',
    '  id-looking segments (32-hex ids, UUIDs, jar ids, numbers, TaskManager ids) replaced by `:id`, e.g.',
    '  `DELETE /jobs/:id`. It is a Read for `GET`, `HEAD` and `OPTIONS`, otherwise a Write, and every',
    '  unknown Write is marked sensitive.',
    '',
    '## Resources',
    '',
    'Path parameters that name a resource are recorded in `referencedResources` under the type below',
    '(the gateway adds what it learns elsewhere, such as a job\'s name or the id of an uploaded jar).',
    'Other parameters (`triggerid`, `subtaskindex`, `attempt`, `filename`, `token`, …) are kept in the',
    'event\'s parameters only.',
    '',
    '| Path parameter | Resource type |',
    '|---|---|',
    ...Object.entries(RESOURCE_PARAMS).map(([param, type]) => `| \`:${param}\` | \`${RESOURCE_TYPE_PREFIX}${type}\` |`),
    '',
  ];

  for (const section of SECTIONS) {
    const entries = catalogEntries(section.api);
    lines.push(
      `## ${section.title}`,
      '',
      `${section.intro} ${entries.length} rows.`,
      '',
      '| Event name | Method | Path | R/W | Resource type | Resources from path | Sensitive | In Flink\'s spec | Notes |',
      '|---|---|---|---|---|---|---|---|---|',
      ...entries.map(row),
      '',
    );
  }
  lines.push(
    '## Body variants',
    '',
    'The gateway reads the body of a write before authorizing it; a row below replaces the plain row of its',
    'route when its body field is set to anything but `false` (Flink\'s Jackson also reads `"true"` and `1`',
    'as true; odd values count as set, so the stricter reading wins).',
    '',
    '| Event name | Method | Path | Body field | R/W | Resource type | Sensitive | Notes |',
    '|---|---|---|---|---|---|---|---|',
    ...BODY_VARIANTS.map((v) => `| \`${v.eventName}\` | ${v.method} | \`${v.template}\` | \`${v.field}\` | ${v.eventRW} | ${v.resourceType} | ${v.sensitive ? '**yes**' : 'no'} | ${v.note} |`),
    '',
  );
  return lines.join('\n');
}

function row(entry: CatalogEntry): string {
  const query = entry.query
    ? '?' + Object.entries(entry.query).map(([k, v]) => `${k}=${v}`).join('&')
    : '';
  const cells = [
    `\`${entry.eventName}\``,
    entry.method,
    `\`${entry.template}${query}\``,
    entry.eventRW,
    entry.resourceType,
    entry.resourceParams.map((p) => `\`:${p}\``).join(', ') || '—',
    entry.sensitive ? '**yes**' : 'no',
    entry.documented ? 'yes' : 'no',
    entry.note ?? '',
  ];
  return `| ${cells.map((cell) => cell.replaceAll('|', '\\|')).join(' | ')} |`;
}
