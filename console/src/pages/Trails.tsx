/**
 * Trails (docs/reference/trails.md): the list with each trail's logging status, last delivery
 * and last error; create and edit (event type, regions, destinations, digest interval); start
 * and stop logging; deliver retained history; delete. Destination URLs come back redacted from
 * the API and may be sent back as they are — the server keeps the stored secret. The management
 * account's callers see every account's trails, so for them each trail names its account — and a
 * multi-account trail says it delivers all accounts' events (docs/reference/trails.md#accounts).
 */
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError } from '../api';
import { ConfirmDelete } from '../components/ConfirmDelete';
import { Drawer } from '../components/Drawer';
import { Empty, ErrorNote, Loading } from '../components/States';
import { accountLabel, type Meta } from '../meta';
import { formatTime } from '../query';

export interface TrailView {
  Name: string;
  HomeRegion: string;
  EventRW: 'Write' | 'Read' | 'All';
  TrailRegion: string;
  Status: 'Fresh' | 'Enable' | 'Disable';
  DigestInterval: number;
  Destinations: string[];
  CreateTime: string;
  UpdateTime: string;
  StartLoggingTime: string;
  StopLoggingTime: string;
  /** The owning account (the creator's). */
  AccountId: string;
  /** A multi-account trail: delivers every account's events, each under `<rd_id>/<accountId>/`. */
  IsOrganizationTrail: boolean;
}

export interface TrailStatus {
  IsLogging: boolean;
  LatestDeliveryTime: string;
  LatestDeliveryError: string;
  LatestDeliveryErrorTime: string;
  LatestDigestDeliveryTime?: string;
  LatestDigestDeliveryError?: string;
  Destinations?: { Destination: string; Kind: string; Status: string; DeliveredEvents: number; LatestDeliveryTime: string; LatestDeliveryError: string }[];
}

const STATUS_LABEL: Record<TrailView['Status'], { text: string; cls: string }> = {
  Enable: { text: 'Logging', cls: 'ok' },
  Disable: { text: 'Stopped', cls: 'warn' },
  Fresh: { text: 'Not started', cls: 'neutral' },
};

const when = (iso: string | undefined) => (iso ? formatTime(iso) : '—');

/** A trail's account, by name when known, and for a multi-account trail the accounts it delivers. */
function TrailAccount({ trail, meta }: { trail: Pick<TrailView, 'AccountId' | 'IsOrganizationTrail'>; meta: Meta }) {
  const name = accountLabel(meta, trail.AccountId);
  return (
    <>
      <span data-testid="trail-account">{name}</span>
      {name !== trail.AccountId ? <div class="muted mono">{trail.AccountId}</div> : null}
      {trail.IsOrganizationTrail ? (
        <div>
          <span class="badge badge-neutral" data-testid="trail-all-accounts" title="A multi-account trail: every account's events, each under <rd_id>/<accountId>/">
            all accounts
          </span>
        </div>
      ) : null}
    </>
  );
}

interface FormState {
  Name: string;
  EventRW: 'Write' | 'Read' | 'All';
  allRegions: boolean;
  regions: string[];
  destinations: string;
  digestInterval: string;
  startNow: boolean;
}

function TrailForm({ trail, regions, meta, onDone }: { trail?: TrailView; regions: string[]; meta: Meta; onDone: (msg: string) => void }) {
  const editing = trail !== undefined;
  const [f, setF] = useState<FormState>(() => ({
    Name: trail?.Name ?? '',
    EventRW: trail?.EventRW ?? 'Write',
    allRegions: !trail || trail.TrailRegion === 'All',
    regions: trail && trail.TrailRegion !== 'All' ? trail.TrailRegion.split(',') : [],
    destinations: trail ? trail.Destinations.join('\n') : 'local',
    digestInterval: trail ? String(trail.DigestInterval) : '',
    startNow: true,
  }));
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    const body: Record<string, unknown> = {
      EventRW: f.EventRW,
      TrailRegion: f.allRegions ? 'All' : f.regions.join(','),
      Destinations: f.destinations
        .split('\n')
        .map((s) => s.trim())
        .filter(Boolean),
    };
    if (f.digestInterval.trim()) body['DigestInterval'] = Number(f.digestInterval.trim());
    try {
      if (editing) {
        await api(`/api/v1/trails/${encodeURIComponent(trail.Name)}`, { method: 'PATCH', body });
        onDone(`Trail ${trail.Name} was updated.`);
      } else {
        await api('/api/v1/trails', { method: 'POST', body: { Name: f.Name.trim(), ...body } });
        if (f.startNow) await api(`/api/v1/trails/${encodeURIComponent(f.Name.trim())}/start`, { method: 'POST', body: {} });
        onDone(`Trail ${f.Name.trim()} was created${f.startNow ? ' and is logging' : ''}.`);
      }
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };

  return (
    <form class="stack-form" onSubmit={(e) => void submit(e)} aria-label={editing ? `Edit trail ${trail.Name}` : 'Create a trail'}>
      {error ? <ErrorNote error={error} what="trail" /> : null}
      {editing && meta.session.managementAccount === true ? (
        <dl class="fields" aria-label="Owner">
          <dt>Account</dt>
          <dd>
            <TrailAccount trail={trail} meta={meta} />
          </dd>
          {trail.IsOrganizationTrail ? (
            <>
              <dt>Delivers</dt>
              <dd>every account's events, each account's under its own path (multi-account trail)</dd>
            </>
          ) : null}
        </dl>
      ) : null}
      <label for="trail-name">Name</label>
      <input
        id="trail-name"
        value={f.Name}
        disabled={editing}
        required
        pattern="[a-z][a-z0-9_-]{5,35}"
        aria-describedby="trail-name-help"
        onInput={(e) => setF({ ...f, Name: (e.currentTarget).value })}
      />
      <p class="help" id="trail-name-help">
        6–36 characters: lowercase letters, digits, - and _, starting with a letter.{editing ? ' A trail cannot be renamed.' : ''}
      </p>

      <fieldset>
        <legend>Events</legend>
        {(['Write', 'Read', 'All'] as const).map((rw) => (
          <label class="check" key={rw}>
            <input type="radio" name="eventrw" value={rw} checked={f.EventRW === rw} onChange={() => setF({ ...f, EventRW: rw })} />{' '}
            {rw === 'All' ? 'All events' : `${rw} events`}
          </label>
        ))}
      </fieldset>

      <fieldset>
        <legend>Regions</legend>
        <label class="check">
          <input type="checkbox" checked={f.allRegions} onChange={(e) => setF({ ...f, allRegions: (e.currentTarget).checked })} /> All regions
          (including regions added later)
        </label>
        {!f.allRegions &&
          regions.map((r) => (
            <label class="check" key={r}>
              <input
                type="checkbox"
                checked={f.regions.includes(r)}
                onChange={(e) => {
                  const on = (e.currentTarget).checked;
                  setF({ ...f, regions: on ? [...f.regions, r] : f.regions.filter((x) => x !== r) });
                }}
              />{' '}
              {r}
            </label>
          ))}
      </fieldset>

      <label for="trail-dest">Destinations (one per line)</label>
      <textarea id="trail-dest" rows={4} value={f.destinations} aria-describedby="trail-dest-help" spellcheck={false} onInput={(e) => setF({ ...f, destinations: (e.currentTarget).value })} />
      <p class="help" id="trail-dest-help">
        <code>local</code> (files in the data directory), <code>s3://bucket/prefix?endpoint=…&amp;region=…</code>, <code>kafka://host:9092/topic</code>,{' '}
        <code>syslog+tcp://host:514</code>, <code>syslog+tls://host:6514</code>, <code>file:///absolute/dir</code>. Credentials shown as ****** are kept
        when you save.
      </p>

      <label for="trail-digest">Digest interval (seconds)</label>
      <input id="trail-digest" inputMode="numeric" value={f.digestInterval} placeholder="server default (3600)" onInput={(e) => setF({ ...f, digestInterval: (e.currentTarget).value })} />

      {!editing && (
        <label class="check">
          <input type="checkbox" checked={f.startNow} onChange={(e) => setF({ ...f, startNow: (e.currentTarget).checked })} /> Start
          logging now
        </label>
      )}
      <div class="form-actions">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Saving…' : editing ? 'Save changes' : 'Create trail'}
        </button>
      </div>
    </form>
  );
}

export function Trails({ meta }: { meta: Meta }) {
  const [trails, setTrails] = useState<TrailView[] | undefined>();
  const [status, setStatus] = useState<Record<string, TrailStatus | { error: unknown }>>({});
  const [error, setError] = useState<unknown>();
  const [reload, setReload] = useState(0);
  const [editing, setEditing] = useState<{ trail?: TrailView } | undefined>();
  const [notice, setNotice] = useState<string | undefined>();
  const [actionError, setActionError] = useState<unknown>();
  const [confirmDelete, setConfirmDelete] = useState<string | undefined>();

  useEffect(() => {
    let live = true;
    const load = async () => {
      try {
        const r = await api<{ TrailList: TrailView[] }>('/api/v1/trails');
        if (!live) return;
        setTrails(r.TrailList);
        setError(undefined);
        const entries = await Promise.all(
          r.TrailList.map(async (t) => {
            try {
              return [t.Name, await api<TrailStatus>(`/api/v1/trails/${encodeURIComponent(t.Name)}/status`)] as const;
            } catch (err) {
              return [t.Name, { error: err }] as const;
            }
          }),
        );
        const next: Record<string, TrailStatus | { error: unknown }> = {};
        for (const [name, st] of entries) next[name] = st;
        if (live) setStatus(next);
      } catch (err) {
        if (live) setError(err);
      }
    };
    void load();
    const timer = window.setInterval(() => void load(), 10_000);
    return () => {
      live = false;
      window.clearInterval(timer);
    };
  }, [reload]);

  const act = async (what: string, path: string, method: 'POST' | 'DELETE', done: string) => {
    setActionError(undefined);
    setNotice(undefined);
    try {
      await api(path, { method, ...(method === 'POST' ? { body: {} } : {}) });
      setNotice(done);
      setReload((n) => n + 1);
    } catch (err) {
      setActionError(err instanceof ApiError ? err : new Error(`${what} failed`));
    }
  };

  const regions = meta.clusters?.Regions ?? [];
  // The management account sees every account's trails: say whose each is. A member's are all its own.
  const showAccounts = meta.session.managementAccount === true;

  return (
    <section class="page" aria-labelledby="trails-title">
      <div class="page-head">
        <h1 id="trails-title">Trails</h1>
        <button type="button" class="btn btn-primary" onClick={() => setEditing({})}>
          Create trail
        </button>
      </div>
      <p class="muted">
        A trail delivers events to storage you keep — an S3-compatible bucket in ActionTrail's layout, Kafka, syslog or local files — with signed digest
        files that prove nothing was changed or removed.
      </p>
      {notice && (
        <p class="notice" role="status">
          {notice}
        </p>
      )}
      {actionError ? <ErrorNote error={actionError} what="trail" /> : null}
      {error ? (
        <ErrorNote error={error} what="trails" onRetry={() => setReload((n) => n + 1)} />
      ) : !trails ? (
        <Loading label="Loading trails…" />
      ) : trails.length === 0 ? (
        <Empty title="No trails yet.">
          <p>Events are kept in FlinkTrail for the retention period only. Create a trail to keep them longer, in storage you control.</p>
          <button type="button" class="btn btn-primary" onClick={() => setEditing({})}>
            Create your first trail
          </button>
        </Empty>
      ) : (
        <div class="table-wrap">
          <table class="trails-table">
            <thead>
              <tr>
                <th scope="col">Name</th>
                {showAccounts && <th scope="col">Account</th>}
                <th scope="col">Status</th>
                <th scope="col">Events</th>
                <th scope="col">Regions</th>
                <th scope="col">Destinations</th>
                <th scope="col">Last delivery</th>
                <th scope="col">Last error</th>
                <th scope="col">
                  <span class="offscreen">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {trails.map((t) => {
                const s = status[t.Name];
                const st = s && !('error' in s) ? s : undefined;
                const label = STATUS_LABEL[t.Status];
                return (
                  <tr key={t.Name} data-trail={t.Name}>
                    <td data-label="Name">
                      <strong>{t.Name}</strong>
                    </td>
                    {showAccounts && (
                      <td data-label="Account" class="small" data-account-id={t.AccountId}>
                        <TrailAccount trail={t} meta={meta} />
                      </td>
                    )}
                    <td data-label="Status">
                      <span class={`badge badge-${label.cls}`}>{label.text}</span>
                    </td>
                    <td data-label="Events">{t.EventRW}</td>
                    <td data-label="Regions">{t.TrailRegion}</td>
                    <td data-label="Destinations" class="mono small">
                      {t.Destinations.map((d) => (
                        <div key={d}>{d}</div>
                      ))}
                    </td>
                    <td data-label="Last delivery">{s && 'error' in s ? <span class="muted">status unavailable</span> : when(st?.LatestDeliveryTime)}</td>
                    <td data-label="Last error" class="small">
                      {st?.LatestDeliveryError ? (
                        <span class="text-bad" title={st.LatestDeliveryErrorTime}>
                          {st.LatestDeliveryError}
                        </span>
                      ) : st?.LatestDigestDeliveryError ? (
                        <span class="text-bad">{st.LatestDigestDeliveryError}</span>
                      ) : (
                        <span class="muted">none</span>
                      )}
                    </td>
                    <td data-label="Actions" class="row-actions">
                      {t.Status === 'Enable' ? (
                        <button type="button" class="btn" onClick={() => void act('Stop logging', `/api/v1/trails/${encodeURIComponent(t.Name)}/stop`, 'POST', `Trail ${t.Name} stopped logging.`)}>
                          Stop logging
                        </button>
                      ) : (
                        <button type="button" class="btn" onClick={() => void act('Start logging', `/api/v1/trails/${encodeURIComponent(t.Name)}/start`, 'POST', `Trail ${t.Name} is logging.`)}>
                          Start logging
                        </button>
                      )}
                      <button type="button" class="btn" onClick={() => setEditing({ trail: t })}>
                        Edit
                      </button>
                      <button
                        type="button"
                        class="btn"
                        title="Deliver the events still retained in FlinkTrail (from before the trail existed) to this trail"
                        onClick={() => void act('Deliver history', `/api/v1/trails/${encodeURIComponent(t.Name)}/history-jobs`, 'POST', `Delivering retained history to ${t.Name}.`)}
                      >
                        Deliver history
                      </button>
                      <ConfirmDelete
                        id={t.Name}
                        what={t.Name}
                        open={confirmDelete}
                        setOpen={setConfirmDelete}
                        label={`Delete ${t.Name}`}
                        onDelete={() => void act('Delete', `/api/v1/trails/${encodeURIComponent(t.Name)}`, 'DELETE', `Trail ${t.Name} was deleted.`).then(() => setConfirmDelete(undefined))}
                      />
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        </div>
      )}
      {editing && (
        <Drawer title={editing.trail ? `Edit trail ${editing.trail.Name}` : 'Create a trail'} onClose={() => setEditing(undefined)} id="trail-drawer">
          <TrailForm
            regions={regions}
            meta={meta}
            {...(editing.trail ? { trail: editing.trail } : {})}
            onDone={(msg) => {
              setEditing(undefined);
              setNotice(msg);
              setReload((n) => n + 1);
            }}
          />
        </Drawer>
      )}
    </section>
  );
}
