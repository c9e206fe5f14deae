/**
 * One event's details: the fields an analyst reads first, its resources (each a one-click
 * filter), a link into the Flink Web UI for Flink resources, and the full JSON record with a
 * copy button.
 */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { resourcesOf, type TrailEvent } from '../api';
import type { FilterKey } from '../query';
import { formatTime } from '../query';

export async function copyText(text: string): Promise<boolean> {
  try {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return true;
    }
  } catch {
    // fall back below (permissions, focus)
  }
  const ta = document.createElement('textarea');
  ta.value = text;
  ta.setAttribute('readonly', '');
  ta.className = 'offscreen';
  document.body.appendChild(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  return ok;
}

function Field({ label, children }: { label: string; children: ComponentChildren }) {
  return (
    <>
      <dt>{label}</dt>
      <dd>{children}</dd>
    </>
  );
}

export function OutcomeBadge({ e }: { e: TrailEvent }) {
  const o = e.additionalEventData.outcome;
  const cls = o === 'success' ? 'ok' : o === 'failure' ? 'bad' : 'warn';
  return (
    <span class={`badge badge-${cls}`} title={e.errorMessage ?? ''}>
      {o}
      {e.errorCode ? ` · ${e.errorCode}` : ''}
    </span>
  );
}

export interface EventDetailsProps {
  event: TrailEvent;
  knownClusters: string[];
  onFilter: (key: FilterKey, value: string) => void;
  /** The name of the event's account (`recipientAccountId`) when known, else its id. */
  account: string;
  /** Narrows the query to one account (only where the caller may pick accounts). */
  onAccount?: (accountId: string) => void;
}

export function EventDetails({ event: e, knownClusters, onFilter, account, onAccount }: EventDetailsProps) {
  const [copied, setCopied] = useState<'' | 'yes' | 'no'>('');
  const json = JSON.stringify(e, null, 2);
  const cluster = e.additionalEventData.cluster;
  const resources = resourcesOf(e);
  const jobs = resources.find(([t]) => t === 'ACS::RealtimeCompute::Job')?.[1] ?? [];
  const jobId = jobs.find((j) => /^[0-9a-f]{32}$/.test(j));
  const flinkBase = cluster && knownClusters.includes(cluster) ? `/flink/${cluster}/` : undefined;
  const FilterBtn = ({ k, v, label }: { k: FilterKey; v: string; label: string }) => (
    <button type="button" class="link-btn" onClick={() => onFilter(k, v)} title={`Add the condition ${k} = ${v}`}>
      {label}
    </button>
  );

  return (
    <div class="event-details" data-event-id={e.eventId}>
      <dl class="fields">
        <Field label="Event name">
          <strong>{e.eventName}</strong> {e.additionalEventData.sensitive ? <span class="badge badge-warn">sensitive</span> : null}
        </Field>
        <Field label="Time">
          {formatTime(e.eventTime, true)} <span class="muted small">({e.eventTime})</span>
        </Field>
        <Field label="Outcome">
          <OutcomeBadge e={e} />
          {e.additionalEventData.httpStatus !== undefined ? <span class="muted small"> HTTP {e.additionalEventData.httpStatus}</span> : null}
          {e.additionalEventData.latencyMs !== undefined ? <span class="muted small"> · {Math.round(e.additionalEventData.latencyMs)} ms</span> : null}
        </Field>
        {e.errorMessage ? <Field label="Error message">{e.errorMessage}</Field> : null}
        <Field label="User">
          {e.userIdentity.userName || <span class="muted">(none)</span>} <span class="muted small">{e.userIdentity.type}</span>{' '}
          {e.userIdentity.userName ? <FilterBtn k="user" v={e.userIdentity.userName} label="events by this user" /> : null}
        </Field>
        {e.userIdentity.accessKeyId ? (
          <Field label="AccessKey ID">
            <code>{e.userIdentity.accessKeyId}</code> <FilterBtn k="accessKeyId" v={e.userIdentity.accessKeyId} label="events with this key" />
          </Field>
        ) : null}
        <Field label="Source IP">
          {e.sourceIpAddress || '—'} {e.sourceIpAddress ? <FilterBtn k="sourceIpAddress" v={e.sourceIpAddress} label="events from this address" /> : null}
        </Field>
        <Field label="Read/Write · type">
          {e.eventRW} · {e.eventType}
        </Field>
        <Field label="Service · source">
          {e.serviceName} · {e.eventSource}
        </Field>
        <Field label="Region">{e.acsRegion}</Field>
        <Field label="Account">
          <span data-testid="event-account">
            {account}
            {e.recipientAccountId && account !== e.recipientAccountId ? (
              <>
                {' '}
                <code class="small">{e.recipientAccountId}</code>
              </>
            ) : null}
          </span>{' '}
          {onAccount && e.recipientAccountId ? (
            <button type="button" class="link-btn" onClick={() => onAccount(e.recipientAccountId as string)} title={`Only account ${e.recipientAccountId}'s events`}>
              events of this account
            </button>
          ) : null}
        </Field>
        {cluster ? (
          <Field label="Cluster">
            {cluster} <FilterBtn k="cluster" v={cluster} label="events on this cluster" />
          </Field>
        ) : null}
        <Field label="User agent">
          <span class="small">{e.userAgent || '—'}</span>
        </Field>
        <Field label="Request ID">
          <code class="small">{e.requestId}</code>
        </Field>
        <Field label="Event ID">
          <code class="small">{e.eventId}</code>
        </Field>
      </dl>

      {resources.length > 0 && (
        <section>
          <h3>Resources</h3>
          <ul class="resources">
            {resources.flatMap(([type, names]) =>
              names.map((n) => (
                <li key={`${type}=${n}`}>
                  <span class="muted small">{type}</span> <code>{n}</code> <FilterBtn k="resourceName" v={n} label="events on this resource" />
                </li>
              )),
            )}
          </ul>
        </section>
      )}

      {flinkBase && (
        <p class="flink-links">
          <a class="btn" href={flinkBase}>
            Open {cluster} in the Flink UI
          </a>{' '}
          {jobId ? (
            <a class="btn" href={`${flinkBase}#/job/running/${jobId}/overview`}>
              Open this job
            </a>
          ) : null}
        </p>
      )}

      <section>
        <div class="json-head">
          <h3>Full record (JSON)</h3>
          <button
            type="button"
            class="btn"
            onClick={() => {
              void copyText(json).then((ok) => {
                setCopied(ok ? 'yes' : 'no');
                setTimeout(() => setCopied(''), 2500);
              });
            }}
          >
            Copy JSON
          </button>
          <span class="small muted" role="status" aria-live="polite">
            {copied === 'yes' ? 'Copied to the clipboard.' : copied === 'no' ? 'Copy failed: select the text and copy it by hand.' : ''}
          </span>
        </div>
        <pre class="json" tabIndex={0} aria-label="The event record as JSON">
          {json}
        </pre>
      </section>
    </div>
  );
}
