/**
 * Event Query: region, account (the management account's callers), time range and any number of
 * conditions → the volume chart, a table of
 * matching events (newest or oldest first, page by page), the details drawer, CSV/JSON export.
 * Everything the page shows is in its URL (see query.ts), so a query is a shareable link.
 */
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, ApiError, qs, resourcesOf, type HistogramAnswer, type LookupAnswer, type TrailEvent } from '../api';
import { Chart } from '../components/Chart';
import { Conditions } from '../components/Conditions';
import { Drawer } from '../components/Drawer';
import { EventDetails, OutcomeBadge } from '../components/EventDetails';
import { Empty, ErrorNote, Loading } from '../components/States';
import { accountLabel, type Meta } from '../meta';
import {
  apiFilters,
  formatTime,
  fromLocalInput,
  parseQuery,
  queryUrl,
  RANGE_PRESETS,
  resolveRange,
  toLocalInput,
  zoneLabel,
  type Condition,
  type FilterKey,
  type QueryState,
} from '../query';
import { navigate, type Location } from '../routes';

const PAGE_SIZE = 50;
const BUCKETS = 60;
const LIVE_INTERVAL_MS = 1000;
/** Live mode refreshes the chart every this many ticks. */
const LIVE_CHART_EVERY = 10;
/** Live mode stops after this long (every tick is a recorded API call). */
const LIVE_MAX_MS = 15 * 60_000;

function resourceSummary(e: TrailEvent): string {
  const entries = resourcesOf(e);
  const job = entries.find(([t]) => t === 'ACS::RealtimeCompute::Job')?.[1];
  const pick = job ?? entries.find(([t]) => !t.endsWith('::Cluster'))?.[1] ?? entries[0]?.[1] ?? [];
  const names = pick.filter(Boolean);
  if (names.length === 0) return e.additionalEventData.cluster ?? '';
  return names.length > 1 ? `${names[0] ?? ''} +${names.length - 1}` : (names[0] ?? '');
}

interface Results {
  events: TrailEvent[];
  nextToken?: string;
  range: { startTime: string; endTime: string };
  /** The query these events answer (the summary describes it, not the URL that may be newer). */
  query: QueryState;
  key: string;
}

export function EventQuery({ loc, meta }: { loc: Location; meta: Meta }) {
  const q = useMemo(() => parseQuery(loc.search), [loc.search]);
  // The query without the open event: what the table and chart depend on.
  const searchKey = queryUrl({ ...q, event: undefined, live: false });

  const [draft, setDraft] = useState<QueryState>(q);
  useEffect(() => setDraft(q), [searchKey]);

  const [results, setResults] = useState<Results | undefined>();
  const [loading, setLoading] = useState(false);
  const [error, setError] = useState<unknown>();
  const [more, setMore] = useState<{ loading: boolean; error?: unknown }>({ loading: false });
  const [hist, setHist] = useState<HistogramAnswer | undefined>();
  const [histKey, setHistKey] = useState<string | undefined>();
  const [histError, setHistError] = useState<unknown>();
  const [opened, setOpened] = useState<{ event?: TrailEvent; error?: unknown } | undefined>();
  const [reload, setReload] = useState(0);
  const [livePaused, setLivePaused] = useState(false);
  const generation = useRef(0);

  // First page + histogram whenever the query changes, and on every live tick. Each call is a
  // recorded LookupEvents (the auditor is audited), so live mode refreshes the chart only every
  // tenth tick and stops by itself after LIVE_MAX_MS.
  const liveOn = q.live && q.range !== 'custom' && q.direction === 'BACKWARD';
  useEffect(() => {
    const gen = ++generation.current;
    const ctrl = new AbortController();
    let tick = 0;
    const run = async (quiet: boolean) => {
      const range = resolveRange(q);
      const filters = apiFilters(q, range);
      if (!quiet) {
        setLoading(true);
        setError(undefined);
      }
      const page = api<LookupAnswer>(`/api/v1/events${qs({ ...filters, direction: q.direction, maxResults: String(PAGE_SIZE) })}`, { signal: ctrl.signal });
      const histogram =
        !quiet || tick % LIVE_CHART_EVERY === 0
          ? api<HistogramAnswer>(`/api/v1/events/histogram${qs({ ...filters, buckets: String(BUCKETS), groupBy: q.groupBy })}`, { signal: ctrl.signal })
          : undefined;
      histogram?.catch(() => undefined); // awaited below; never an unhandled rejection
      tick++;
      try {
        const p = await page;
        if (gen !== generation.current) return;
        setResults((prev) => {
          // A live tick keeps pages the user loaded: new events go on top, the rest stays.
          if (quiet && prev && prev.events.length > PAGE_SIZE) {
            const seen = new Set(p.Events.map((e) => e.eventId));
            return { ...prev, events: [...p.Events, ...prev.events.filter((e) => !seen.has(e.eventId))] };
          }
          return { events: p.Events, ...(p.NextToken ? { nextToken: p.NextToken } : {}), range, query: q, key: searchKey };
        });
        setError(undefined);
      } catch (err) {
        if ((err as Error).name === 'AbortError' || gen !== generation.current) return;
        if (!quiet) setResults(undefined);
        setError(err);
      } finally {
        if (gen === generation.current) setLoading(false);
      }
      if (!histogram) return;
      try {
        const h = await histogram;
        if (gen !== generation.current) return;
        setHist(h);
        setHistKey(searchKey);
        setHistError(undefined);
      } catch (err) {
        if ((err as Error).name === 'AbortError' || gen !== generation.current) return;
        setHistError(err);
      }
    };
    void run(false);
    let timer: number | undefined;
    const started = Date.now();
    if (liveOn) {
      timer = window.setInterval(() => {
        if (Date.now() - started > LIVE_MAX_MS) {
          window.clearInterval(timer);
          setLivePaused(true);
          navigate(queryUrl({ ...q, live: false }), true);
          return;
        }
        void run(true);
      }, LIVE_INTERVAL_MS);
    }
    return () => {
      ctrl.abort();
      if (timer !== undefined) window.clearInterval(timer);
    };
  }, [searchKey, liveOn, reload]);

  // The details drawer: from the loaded rows, else fetched by id (a shared link).
  useEffect(() => {
    if (!q.event) {
      setOpened(undefined);
      return;
    }
    const found = results?.events.find((e) => e.eventId === q.event);
    if (found) {
      setOpened({ event: found });
      return;
    }
    if (opened?.event?.eventId === q.event) return;
    const ctrl = new AbortController();
    setOpened({});
    api<TrailEvent>(`/api/v1/events/${encodeURIComponent(q.event)}`, { signal: ctrl.signal })
      .then((event) => setOpened({ event }))
      .catch((err: unknown) => {
        if ((err as Error).name !== 'AbortError') setOpened({ error: err });
      });
    return () => ctrl.abort();
  }, [q.event, results]);

  const go = (next: QueryState, replace = false) => navigate(queryUrl(next), replace);
  const apply = (e?: Event) => {
    e?.preventDefault();
    const conditions = draft.conditions.filter((c) => c.value.trim() !== '').map((c) => ({ key: c.key, value: c.value.trim() }));
    if (draft.range === 'custom' && (!draft.startTime || !draft.endTime)) {
      setError(new ApiError(400, 'FT_ERR_QUERY_TIME_RANGE', 'A custom range needs both a start and an end.'));
      return;
    }
    const next: QueryState = { ...draft, conditions, event: undefined };
    if (queryUrl(next) === queryUrl({ ...q, event: undefined })) setReload((n) => n + 1);
    else go(next);
  };
  const addCondition = (key: FilterKey, value: string) => {
    const conditions: Condition[] = [...q.conditions.filter((c) => c.key !== key), { key, value }];
    go({ ...q, conditions, event: undefined });
  };

  const loadMore = async () => {
    if (!results?.nextToken) return;
    setMore({ loading: true });
    try {
      const filters = apiFilters(q, results.range);
      const p = await api<LookupAnswer>(`/api/v1/events${qs({ ...filters, direction: q.direction, maxResults: String(PAGE_SIZE), nextToken: results.nextToken })}`);
      setResults({ events: [...results.events, ...p.Events], ...(p.NextToken ? { nextToken: p.NextToken } : {}), range: results.range, query: results.query, key: results.key });
      setMore({ loading: false });
    } catch (err) {
      setMore({ loading: false, error: err });
    }
  };

  const exportUrl = (format: 'csv' | 'json') => {
    const range = results?.range ?? resolveRange(q);
    return `/api/v1/events/export${qs({ ...apiFilters(q, range), direction: q.direction, format })}`;
  };

  const clusterNames = meta.clusters?.Clusters.map((c) => c.name) ?? [];
  const suggestions = {
    ...(meta.catalog ? { EventNames: meta.catalog.EventNames, ResourceTypes: meta.catalog.ResourceTypes, ServiceNames: meta.catalog.ServiceNames } : {}),
    clusters: clusterNames,
  };
  const regions = meta.clusters?.Regions ?? [];
  // No region in the URL: the API asks the home region (global events are in every region's answer).
  const homeRegion = meta.clusters?.DefaultRegion ?? '';
  // The summary and the empty state describe the query the shown events answer.
  const asked = results?.query ?? q;
  const shownRegion = asked.region === '*' ? 'all regions' : `region ${asked.region || homeRegion || 'home'}`;
  // Accounts: a member account's queries are its own account's (no picker); the management
  // account sees every account's events unless one is picked (accountId=<id>).
  const pickAccount = meta.session.managementAccount === true;
  const accounts = meta.accounts ?? [];
  const shownAccount = asked.accountId ? ` · account ${accountLabel(meta, asked.accountId)}` : '';
  const sortLabel = q.direction === 'BACKWARD' ? 'newest first' : 'oldest first';
  // The histogram's total counts the shown query's matches only once both answered it.
  const total = results && histKey === results.key ? hist?.total : undefined;

  return (
    <section class="page page-events" aria-labelledby="events-title">
      <div class="page-head">
        <h1 id="events-title">Event Query</h1>
        <div class="region-picker">
          <label for="region">Region</label>
          <select
            id="region"
            value={q.region || homeRegion}
            onChange={(e) => {
              const r = e.currentTarget.value;
              go({ ...q, region: r === homeRegion ? '' : r, event: undefined });
            }}
          >
            {regions.map((r) => (
              <option key={r} value={r}>
                {r === homeRegion ? `${r} (home)` : r}
              </option>
            ))}
            {q.region && q.region !== '*' && !regions.includes(q.region) ? <option value={q.region}>{q.region}</option> : null}
            <option value="*">All regions</option>
          </select>
          {pickAccount && (
            <span class="picker">
              <label for="account">Account</label>
              <select id="account" value={q.accountId} onChange={(e) => go({ ...q, accountId: e.currentTarget.value, event: undefined })}>
                <option value="">All accounts</option>
                {accounts.map((a) => (
                  <option key={a.accountId} value={a.accountId}>
                    {a.name} ({a.accountId})
                  </option>
                ))}
                {q.accountId && !accounts.some((a) => a.accountId === q.accountId) ? <option value={q.accountId}>{q.accountId}</option> : null}
              </select>
            </span>
          )}
        </div>
      </div>

      <form class="query-form" onSubmit={apply} aria-label="Query">
        <div class="time-range">
          <label for="range">Time range</label>
          <select
            id="range"
            value={draft.range}
            onChange={(e) => {
              const range = (e.currentTarget).value;
              if (range === 'custom') {
                const r = resolveRange(draft);
                setDraft({ ...draft, range, startTime: r.startTime, endTime: r.endTime });
              } else setDraft({ ...draft, range, startTime: undefined, endTime: undefined });
            }}
          >
            {RANGE_PRESETS.map((p) => (
              <option key={p.id} value={p.id}>
                {p.label}
              </option>
            ))}
            <option value="custom">Custom range…</option>
          </select>
          {draft.range === 'custom' && (
            <>
              <label for="start">From</label>
              <input id="start" type="datetime-local" step={1} value={toLocalInput(draft.startTime ?? '')} onInput={(e) => setDraft({ ...draft, startTime: fromLocalInput((e.currentTarget).value) })} />
              <label for="end">To</label>
              <input id="end" type="datetime-local" step={1} value={toLocalInput(draft.endTime ?? '')} onInput={(e) => setDraft({ ...draft, endTime: fromLocalInput((e.currentTarget).value) })} />
              <span class="muted small">{zoneLabel()}</span>
            </>
          )}
        </div>
        <Conditions conditions={draft.conditions} onChange={(conditions) => setDraft({ ...draft, conditions })} suggestions={suggestions} />
        <div class="form-actions">
          <button type="submit" class="btn btn-primary">
            Search
          </button>
          <button type="button" class="btn" onClick={() => go({ ...q, conditions: [], range: q.range, event: undefined })} disabled={q.conditions.length === 0}>
            Clear conditions
          </button>
          <label class="check" title={q.range === 'custom' || q.direction !== 'BACKWARD' ? 'Live refresh needs a relative time range (Last …), newest first' : 'Refresh every second (for up to 15 minutes)'}>
            <input
              type="checkbox"
              checked={liveOn}
              disabled={q.range === 'custom' || q.direction !== 'BACKWARD'}
              onChange={(e) => {
                setLivePaused(false);
                go({ ...q, live: e.currentTarget.checked }, true);
              }}
            />{' '}
            Live
          </label>
          {livePaused && !q.live ? <span class="muted small" role="status">Live refresh stopped after 15 minutes; tick Live to resume.</span> : null}
        </div>
      </form>

      <section class="chart-panel" aria-labelledby="chart-title">
        <div class="panel-head">
          <h2 id="chart-title">Volume</h2>
          <div class="segmented" role="radiogroup" aria-label="Stack bars by">
            {(['eventRW', 'eventName'] as const).map((g) => (
              <label key={g} class={q.groupBy === g ? 'active' : ''}>
                <input type="radio" name="groupBy" value={g} checked={q.groupBy === g} onChange={() => go({ ...q, groupBy: g }, true)} />
                {g === 'eventRW' ? 'Read/Write' : 'Event name'}
              </label>
            ))}
          </div>
        </div>
        {histError && error ? (
          <p class="muted small">No volume chart: the query itself failed (see below).</p>
        ) : histError ? (
          <ErrorNote error={histError} what="the event volume" onRetry={() => setReload((n) => n + 1)} />
        ) : hist ? (
          <Chart data={hist} onSelect={(b) => go({ ...q, range: 'custom', startTime: b.start, endTime: new Date(Date.parse(b.end) - 1).toISOString(), live: false, event: undefined })} />
        ) : (
          <Loading label="Loading the event volume…" />
        )}
      </section>

      <section class="results" aria-labelledby="results-title" aria-busy={loading}>
        <div class="panel-head">
          <h2 id="results-title">Events</h2>
          <p class="muted small results-summary" aria-live="polite">
            {results ? (
              <>
                {results.events.length} shown{total !== undefined ? ` of ${total}` : ''} · {shownRegion}
                {shownAccount} · {sortLabel} · {formatTime(results.range.startTime)} to {formatTime(results.range.endTime)} ({zoneLabel()})
              </>
            ) : null}
          </p>
          <div class="export">
            <a class="btn" href={exportUrl('csv')} download data-export="csv">
              Export CSV
            </a>
            <a class="btn" href={exportUrl('json')} download data-export="json">
              Export JSON
            </a>
          </div>
        </div>
        {error ? (
          <ErrorNote error={error} what="events" onRetry={() => setReload((n) => n + 1)} />
        ) : !results && loading ? (
          <Loading label="Searching events…" />
        ) : results && results.events.length === 0 ? (
          <Empty title="No events match this query.">
            <p>
              Nothing was recorded between {formatTime(results.range.startTime)} and {formatTime(results.range.endTime)}
              {q.conditions.length ? ' that meets every condition' : ''}
              {` in ${shownRegion}`}
              {asked.accountId ? ` of account ${accountLabel(meta, asked.accountId)}` : ''}.
            </p>
            <p class="empty-actions">
              {q.range !== '90d' && (
                <button type="button" class="btn" onClick={() => go({ ...q, range: '90d', startTime: undefined, endTime: undefined, event: undefined })}>
                  Search the last 90 days
                </button>
              )}
              {q.conditions.length > 0 && (
                <button type="button" class="btn" onClick={() => go({ ...q, conditions: [], event: undefined })}>
                  Remove all conditions
                </button>
              )}
              {q.region !== '*' && (
                <button type="button" class="btn" onClick={() => go({ ...q, region: '*', event: undefined })}>
                  Search all regions
                </button>
              )}
              {q.accountId && (
                <button type="button" class="btn" onClick={() => go({ ...q, accountId: '', event: undefined })}>
                  Search all accounts
                </button>
              )}
            </p>
          </Empty>
        ) : results ? (
          <>
            <div class="table-wrap">
              <table class="events-table">
                <caption class="offscreen">Matching events, {sortLabel}. Choose an event name to see its details.</caption>
                <thead>
                  <tr>
                    <th scope="col" aria-sort={q.direction === 'BACKWARD' ? 'descending' : 'ascending'}>
                      <button type="button" class="sort-btn" onClick={() => go({ ...q, direction: q.direction === 'BACKWARD' ? 'FORWARD' : 'BACKWARD', event: undefined })}>
                        Time <span aria-hidden="true">{q.direction === 'BACKWARD' ? '▼' : '▲'}</span>
                        <span class="offscreen">, sorted {sortLabel}; activate to reverse</span>
                      </button>
                    </th>
                    <th scope="col">User</th>
                    <th scope="col">Event name</th>
                    <th scope="col">Resource</th>
                    <th scope="col">Source IP</th>
                    <th scope="col">Outcome</th>
                  </tr>
                </thead>
                <tbody>
                  {results.events.map((e) => (
                    <tr key={e.eventId} data-event-id={e.eventId} class={q.event === e.eventId ? 'selected' : ''} onClick={() => go({ ...q, event: e.eventId })}>
                      <td data-label="Time" title={e.eventTime}>
                        {formatTime(e.eventTime)}
                      </td>
                      <td data-label="User">{e.userIdentity.userName || <span class="muted">—</span>}</td>
                      <td data-label="Event name">
                        <button
                          type="button"
                          class="link-btn event-link"
                          onClick={(ev) => {
                            ev.stopPropagation();
                            go({ ...q, event: e.eventId });
                          }}
                        >
                          {e.eventName}
                        </button>
                        {e.eventRW === 'Write' ? <span class="badge badge-rw">W</span> : null}
                        {e.additionalEventData.sensitive ? <span class="badge badge-warn" title="sensitive operation">!</span> : null}
                      </td>
                      <td data-label="Resource" class="mono small">
                        {resourceSummary(e)}
                      </td>
                      <td data-label="Source IP" class="mono small">
                        {e.sourceIpAddress}
                      </td>
                      <td data-label="Outcome">
                        <OutcomeBadge e={e} />
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <div class="pager">
              {results.nextToken ? (
                <button type="button" class="btn" onClick={() => void loadMore()} disabled={more.loading}>
                  {more.loading ? 'Loading more…' : `Load ${PAGE_SIZE} more`}
                </button>
              ) : (
                <span class="muted small">All {results.events.length} matching events are shown.</span>
              )}
              {more.error ? <ErrorNote error={more.error} what="the next page" onRetry={() => void loadMore()} /> : null}
            </div>
          </>
        ) : null}
      </section>

      {q.event && (
        <Drawer title={opened?.event ? `${opened.event.eventName} event` : 'Event details'} onClose={() => go({ ...q, event: undefined })} id="event-drawer">
          {opened?.event ? (
            <EventDetails
              event={opened.event}
              knownClusters={clusterNames}
              onFilter={addCondition}
              account={accountLabel(meta, opened.event.recipientAccountId)}
              {...(pickAccount ? { onAccount: (id: string) => go({ ...q, accountId: id, event: undefined }) } : {})}
            />
          ) : opened?.error ? (
            <ErrorNote error={opened.error} what="event" />
          ) : (
            <Loading label="Loading the event…" />
          )}
        </Drawer>
      )}
    </section>
  );
}
