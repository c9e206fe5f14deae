/**
 * The Flink clusters behind this FlinkTrail (GET /api/v1/clusters: names, kinds, regions — never
 * upstream URLs). "Open Flink UI" opens the cluster's own Web UI through FlinkTrail at
 * /flink/<cluster>/: same origin, so the console session signs it in, and every click in it is
 * recorded under the user's name.
 */
import { useEffect, useState } from 'preact/hooks';
import { api, type ClusterList } from '../api';
import { Empty, ErrorNote, Loading } from '../components/States';
import type { Meta } from '../meta';
import { queryUrl, parseQuery } from '../query';
import { onLinkClick } from '../routes';

const KIND_LABEL: Record<string, string> = { jobmanager: 'JobManager (REST + Web UI)', 'sql-gateway': 'SQL Gateway', 'history-server': 'History Server' };

export function Clusters({ meta }: { meta: Meta }) {
  const [data, setData] = useState<ClusterList | undefined>(meta.clusters);
  const [error, setError] = useState<unknown>();
  const [reload, setReload] = useState(0);
  useEffect(() => {
    setError(undefined);
    api<ClusterList>('/api/v1/clusters')
      .then(setData)
      .catch((err: unknown) => setError(err));
  }, [reload]);

  return (
    <section class="page" aria-labelledby="clusters-title">
      <div class="page-head">
        <h1 id="clusters-title">Clusters</h1>
      </div>
      <p class="muted">
        Open a cluster's Flink Web UI through FlinkTrail: you stay signed in, and what you do there (cancel a job, upload a jar) is recorded under your
        name.
      </p>
      {error ? (
        <ErrorNote error={error} what="the clusters" onRetry={() => setReload((n) => n + 1)} />
      ) : !data ? (
        <Loading label="Loading clusters…" />
      ) : data.Clusters.length === 0 ? (
        <Empty title="No Flink cluster is configured.">
          <p>
            Start FlinkTrail with <code>--flink http://jobmanager:8081</code>, or list clusters under <code>clusters:</code> in its configuration file
            (docs/reference/config.md).
          </p>
        </Empty>
      ) : (
        <ul class="cards">
          {data.Clusters.map((c) => {
            const events = queryUrl({ ...parseQuery(new URLSearchParams()), conditions: [{ key: 'cluster', value: c.name }] });
            return (
              <li class="card" key={c.name} data-cluster={c.name}>
                <h2>{c.name}</h2>
                <p class="muted small">
                  {KIND_LABEL[c.kind] ?? c.kind} · region {c.region}
                </p>
                <p class="card-actions">
                  {c.kind !== 'sql-gateway' && (
                    <a class="btn btn-primary" href={c.path}>
                      Open Flink UI
                    </a>
                  )}
                  <a class="btn" href={events} onClick={(e) => onLinkClick(e, events)}>
                    Events on {c.name}
                  </a>
                </p>
                <p class="muted small">
                  Address for the <code>flink</code> CLI and scripts: <code>{`${window.location.origin}${c.path}`}</code>
                </p>
              </li>
            );
          })}
        </ul>
      )}
    </section>
  );
}
