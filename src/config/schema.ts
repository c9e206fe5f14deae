/**
 * The one configuration schema: every key, its default and its description.
 *
 * Config is loaded once (YAML file, then `FLINKTRAIL__A__B` environment variables, then
 * command-line flags), validated against this schema with every problem reported at once, and
 * deep-frozen. docs/reference/config.md is generated from the descriptions here
 * (`node --import tsx src/config/print-docs.ts`), and a test keeps it in step.
 */

export const configSchema = {
  type: 'object',
  additionalProperties: false,
  properties: {
    dataDir: {
      type: 'string',
      default: './flinktrail-data',
      description: 'Directory of the embedded store (SQLite database, signing keys). Created if missing.',
    },
    accountId: {
      type: 'string',
      pattern: '^[0-9]{1,20}$',
      default: '1000000000000001',
      description: 'The account every event belongs to (`userIdentity.accountId`, `recipientAccountId`).',
    },
    region: {
      type: 'string',
      pattern: '^[a-z][a-z0-9-]{1,40}$',
      default: 'local',
      description: 'Default region (`acsRegion`) for events of clusters that do not set their own.',
    },
    serviceName: {
      type: 'string',
      minLength: 1,
      default: 'RealtimeCompute',
      description: "`serviceName` of Flink operations. ActionTrail's own value, so existing queries keep working.",
    },
    api: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The API listener: HTTP API, health, metrics, and every cluster under /flink/<cluster>/.',
      properties: {
        host: { type: 'string', default: '127.0.0.1', description: 'Address the API listens on.' },
        port: {
          type: 'integer',
          minimum: 0,
          maximum: 65535,
          default: 8470,
          description: 'Port the API listens on (0 picks a free port).',
        },
      },
    },
    clusters: {
      type: 'array',
      default: [],
      description: 'The Flink clusters FlinkTrail stands in front of. `--flink URL` adds one named `default`.',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['name', 'url'],
        properties: {
          name: {
            type: 'string',
            pattern: '^[a-z0-9][a-z0-9_-]{0,62}$',
            description: 'Cluster name: appears in events (`additionalEventData.cluster`) and in the path /flink/<name>/.',
          },
          url: {
            type: 'string',
            pattern: '^https?://',
            description: 'Base URL of the JobManager REST API (or SQL Gateway / History Server), e.g. http://127.0.0.1:8081.',
          },
          kind: {
            type: 'string',
            enum: ['jobmanager', 'sql-gateway', 'history-server'],
            default: 'jobmanager',
            description: 'Which Flink server the URL points at; decides the endpoint catalog and `eventSource`.',
          },
          region: {
            type: 'string',
            pattern: '^[a-z][a-z0-9-]{1,40}$',
            description: "The cluster's region (`acsRegion`); defaults to the top-level `region`.",
          },
          listen: {
            type: 'object',
            additionalProperties: false,
            description: 'A dedicated listener for this cluster, so clients can use it as if it were Flink itself (paths without prefix).',
            required: ['port'],
            properties: {
              host: { type: 'string', default: '127.0.0.1', description: 'Address of the dedicated listener.' },
              port: { type: 'integer', minimum: 0, maximum: 65535, description: 'Port of the dedicated listener.' },
            },
          },
        },
      },
    },
    gateway: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'How requests to Flink are proxied and recorded.',
      properties: {
        failClosed: {
          type: 'boolean',
          default: true,
          description: 'Refuse (503) a write operation whose event cannot be journaled before it is forwarded. Off: forward anyway and log the loss.',
        },
        upstreamTimeoutMs: {
          type: 'integer',
          minimum: 100,
          default: 60000,
          description: 'How long to wait for Flink to send response headers.',
        },
        maxParameterBytes: {
          type: 'integer',
          minimum: 256,
          maximum: 1048576,
          default: 16384,
          description: 'Largest request body (JSON) kept in `requestParameters`; larger ones are cut and marked `truncated`.',
        },
        recordAssets: {
          type: 'boolean',
          default: false,
          description: "Record GETs of the Web UI's static files (HTML, JS, CSS, images) as events.",
        },
        trustedProxies: {
          type: 'array',
          items: { type: 'string' },
          default: [],
          description: 'CIDRs of proxies whose X-Forwarded-For is believed. From any other peer the TCP address is the source IP.',
        },
        resolveJobNames: {
          type: 'boolean',
          default: true,
          description: 'Look up the name of a job a write refers to (GET /jobs/<id>), so events carry job names next to ids.',
        },
      },
    },
    auth: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Authentication.',
      properties: {
        anonymous: {
          type: 'boolean',
          default: false,
          description: 'Let requests without credentials through as the anonymous identity (they are still recorded). Off by default.',
        },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The event store.',
      properties: {
        driver: { type: 'string', enum: ['sqlite'], default: 'sqlite', description: 'Store implementation.' },
        retentionDays: {
          type: 'integer',
          minimum: 1,
          maximum: 36500,
          default: 90,
          description: 'Events older than this are purged from the store (trails keep them longer).',
        },
        flushIntervalMs: {
          type: 'integer',
          minimum: 1,
          maximum: 1000,
          default: 20,
          description: 'How often batched events are written; bounds the time until an event is queryable.',
        },
        synchronous: {
          type: 'string',
          enum: ['full', 'normal'],
          default: 'full',
          description: "SQLite durability: `full` fsyncs every commit (journaled writes survive power loss), `normal` survives process crashes only.",
        },
      },
    },
    log: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Structured JSON logs on stdout.',
      properties: {
        level: {
          type: 'string',
          enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'],
          default: 'info',
          description: 'Log level.',
        },
      },
    },
  },
} as const;

export type ClusterKind = 'jobmanager' | 'sql-gateway' | 'history-server';

export interface ClusterConfig {
  name: string;
  url: string;
  kind: ClusterKind;
  region?: string;
  listen?: { host: string; port: number };
}

export interface Config {
  dataDir: string;
  accountId: string;
  region: string;
  serviceName: string;
  api: { host: string; port: number };
  clusters: ClusterConfig[];
  gateway: {
    failClosed: boolean;
    upstreamTimeoutMs: number;
    maxParameterBytes: number;
    recordAssets: boolean;
    trustedProxies: string[];
    resolveJobNames: boolean;
  };
  auth: { anonymous: boolean };
  store: {
    driver: 'sqlite';
    retentionDays: number;
    flushIntervalMs: number;
    synchronous: 'full' | 'normal';
  };
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}
