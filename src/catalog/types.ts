/**
 * What a Flink REST call means: the contract between the gateway and the endpoint catalog.
 *
 * The catalog turns (method, path, query) into an event name, Read/Write, the resources
 * involved and whether the operation is sensitive. Unknown endpoints still classify (as
 * `METHOD /path/template`), so nothing is ever dropped for want of a catalog entry.
 */
import type { EventRW } from '../event/types.js';

/** Which Flink server the call is for. */
export type FlinkApi = 'dispatcher' | 'sql_gateway' | 'history_server';

export interface Classification {
  /** e.g. `CancelJob`; for unknown endpoints `METHOD /path/template` with ids replaced. */
  eventName: string;
  eventRW: EventRW;
  /** Whether the operation is on the curated sensitive list. */
  sensitive: boolean;
  /** The catalog's path template (`/jobs/:jobid/savepoints`), or the normalised path if unknown. */
  pathTemplate: string;
  /** Whether a catalog entry matched. */
  known: boolean;
  /** REST API version prefix given by the client (`v1`), if any. */
  apiVersion?: string;
  /** Path parameters by name (`jobid`, `jarid`, `triggerid`, `taskmanagerid`, `vertexid`, ...). */
  params: Record<string, string>;
  /**
   * Resources named by the call: full type (`ACS::RealtimeCompute::Job`) → ids.
   * The gateway later adds names it knows (a job's name next to its id).
   */
  resources: Record<string, string[]>;
}

export interface ClassifyInput {
  api: FlinkApi;
  method: string;
  /** The path as sent to Flink, without the gateway's `/flink/<cluster>` prefix or query. */
  path: string;
  query: URLSearchParams;
}
