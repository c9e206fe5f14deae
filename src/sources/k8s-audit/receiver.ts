/**
 * The Kubernetes audit receiver: a parsed batch in, events recorded, counts out.
 *
 * Exactly once per (auditID, stage): the event id is derived from the pair (map.ts), so the
 * store keeps one event however often the API server retries a batch; before mapping, ids
 * already stored, already seen in this batch or in flight in a concurrent delivery are counted
 * as duplicates and skipped (so a duplicate never moves the object state either). Events of one
 * batch are mapped in order, each against the state the previous one left. The answer is sent
 * once every recorded event is committed (the recorder logs and counts an event it finally
 * cannot store — loss is never silent).
 */
import { Counter } from 'prom-client';
import type { Config } from '../../config/index.js';
import type { Recorder } from '../../pipeline/recorder.js';
import type { EventStore } from '../../store/types.js';
import type { Logger } from '../../telemetry/logger.js';
import type { Metrics } from '../../telemetry/metrics.js';
import type { Rejected } from '../../http/body.js';
import type { SpecDigester } from './diff.js';
import { auditEventId, mapAuditEvent, objectKeyOf, type MapContext, type ObjectState } from './map.js';
import type { ParsedBatch } from './parse.js';
import type { ObjectStates } from './state.js';

export interface ReceiveResult {
  /** Events recorded. */
  accepted: number;
  /** Events already recorded (a retried delivery). */
  duplicates: number;
  /** Valid events not recorded: other stages, other API groups, reads when they are off. */
  ignored: number;
  rejected: Rejected[];
}

export interface ReceiverDeps {
  config: Readonly<Config>;
  recorder: Recorder;
  store: EventStore;
  states: ObjectStates;
  digester: SpecDigester;
  log: Logger;
  metrics: Metrics;
}

/**
 * The account that owns the cluster named `cluster`: the configured cluster's `account`, or the
 * management account when it names none or no configured cluster has that name (a Kubernetes
 * cluster need not be one the gateway fronts).
 */
export function clusterAccount(config: Pick<Config, 'accountId' | 'clusters'>, cluster: string): string {
  return config.clusters.find((c) => c.name === cluster)?.account ?? config.accountId;
}

/** `system:serviceaccount:*:flink-operator` → a matcher; `*` stays within one `:` segment. */
export function userMatcher(patterns: readonly string[]): (user: string) => boolean {
  const res = patterns.map((p) => new RegExp(`^${p.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '[^:]*')}$`));
  return (user) => res.some((r) => r.test(user));
}

export class K8sAuditReceiver {
  private readonly inFlight = new Set<string>();
  private readonly isOperator: (user: string) => boolean;
  private readonly counter: Counter<'result'>;

  constructor(private readonly deps: ReceiverDeps) {
    this.isOperator = userMatcher(deps.config.k8sAudit.operatorUsers);
    this.counter = new Counter({
      name: 'flinktrail_k8s_audit_events_total',
      help: 'Kubernetes audit events received, by result (accepted, duplicate, ignored, rejected).',
      labelNames: ['result'] as const,
      registers: [deps.metrics.registry],
    });
  }

  private lastWarn = 0;
  private unreported = 0;

  /** At most one warning per 10 s: a misconfigured sender must not flood the log. */
  private warnRejected(cluster: string, rejected: readonly Rejected[]): void {
    this.unreported += rejected.length;
    const now = Date.now();
    if (now - this.lastWarn < 10_000) return;
    this.deps.log.warn(
      { cluster, rejected: this.unreported, example: rejected[0] },
      'Kubernetes audit events were invalid and not recorded (counted in flinktrail_k8s_audit_events_total{result="rejected"}).',
    );
    this.lastWarn = now;
    this.unreported = 0;
  }

  async receive(batch: ParsedBatch, where: { cluster: string; region: string }): Promise<ReceiveResult> {
    const { config, recorder, store, states, digester } = this.deps;
    const ctx: MapContext = {
      accountId: clusterAccount(config, where.cluster),
      serviceName: config.serviceName,
      region: where.region,
      cluster: where.cluster,
      recordReads: config.k8sAudit.recordReads,
      isOperator: this.isOperator,
      digester,
      // Read just before each event is mapped (below): the state the previous event left.
      previous: () => previous,
    };
    let previous: ObjectState | undefined;
    const result: ReceiveResult = { accepted: 0, duplicates: 0, ignored: 0, rejected: batch.rejected };
    const mine: string[] = [];
    const writes: Promise<void>[] = [];
    try {
      for (const { event: ev } of batch.events) {
        if (ev.stage !== 'ResponseComplete' && ev.stage !== 'Panic') {
          result.ignored++;
          continue;
        }
        const id = auditEventId(ev.auditID, ev.stage);
        // Checked again after the lookup: a concurrent delivery may have claimed the id meanwhile.
        if (this.inFlight.has(id) || (await store.get(id)) !== undefined || this.inFlight.has(id)) {
          result.duplicates++;
          continue;
        }
        const key = objectKeyOf(ev, where.cluster);
        previous = key ? await states.get(key) : undefined;
        const mapped = mapAuditEvent(ev, ctx);
        if ('skip' in mapped) {
          result.ignored++;
          continue;
        }
        this.inFlight.add(id);
        mine.push(id);
        // Awaited before the next event is mapped: it is compared against this state.
        if (mapped.state?.op === 'put') await states.put(mapped.state.key, mapped.state.state);
        else if (mapped.state?.op === 'delete') await states.delete(mapped.state.key);
        writes.push(recorder.recordOrThrow(mapped.event));
        result.accepted++;
      }
      await Promise.all(writes);
    } finally {
      for (const id of mine) this.inFlight.delete(id);
    }
    this.counter.inc({ result: 'accepted' }, result.accepted);
    this.counter.inc({ result: 'duplicate' }, result.duplicates);
    this.counter.inc({ result: 'ignored' }, result.ignored);
    this.counter.inc({ result: 'rejected' }, result.rejected.length);
    if (result.rejected.length) this.warnRejected(where.cluster, result.rejected);
    return result;
  }
}
