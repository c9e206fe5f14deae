/**
 * The Flink Kubernetes Operator's custom resources, as the audit receiver names them.
 *
 * All four live in API group `flink.apache.org` (version v1beta1; shared/reference/flink/crds).
 * Each maps to a noun used in event names (`CreateDeployment`, `SuspendSessionJob`, ...) and to
 * a resource type `ACS::RealtimeCompute::<noun>` — `Deployment` as in ActionTrail's own
 * Realtime Compute records. `specRoot` is where the deployment-like spec sits, so that one set
 * of rules finds intents for all of them (a blue/green deployment carries a whole
 * FlinkDeployment spec under `spec.template.spec`).
 */

export const FLINK_API_GROUP = 'flink.apache.org';

export interface FlinkCrd {
  kind: string;
  /** `objectRef.resource`. */
  plural: string;
  /** In event names and resource types. */
  noun: string;
  /** Path (dotted) of the spec that job/cluster intents are read from. */
  specRoot: string;
}

export const FLINK_CRDS: readonly FlinkCrd[] = [
  { kind: 'FlinkDeployment', plural: 'flinkdeployments', noun: 'Deployment', specRoot: 'spec' },
  { kind: 'FlinkSessionJob', plural: 'flinksessionjobs', noun: 'SessionJob', specRoot: 'spec' },
  { kind: 'FlinkStateSnapshot', plural: 'flinkstatesnapshots', noun: 'StateSnapshot', specRoot: 'spec' },
  { kind: 'FlinkBlueGreenDeployment', plural: 'flinkbluegreendeployments', noun: 'BlueGreenDeployment', specRoot: 'spec.template.spec' },
];

const BY_PLURAL = new Map(FLINK_CRDS.map((c) => [c.plural, c]));

/** The CRD an audit event's objectRef names, if it is one of the operator's. */
export function flinkCrdOf(apiGroup: string | undefined, resource: string | undefined): FlinkCrd | undefined {
  if (apiGroup !== FLINK_API_GROUP || resource === undefined) return undefined;
  return BY_PLURAL.get(resource);
}
