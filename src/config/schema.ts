/**
 * The one configuration schema: every key, its default and its description.
 *
 * Config is loaded once (YAML file, then `FLINKTRAIL__A__B` environment variables, then
 * command-line flags), validated against this schema with every problem reported at once, and
 * deep-frozen. docs/reference/config.md is generated from the descriptions here
 * (`node --import tsx src/config/print-docs.ts`), and a test keeps it in step.
 *
 * Identifiers that end up in paths, keys and file names (regions, account ids, cluster names)
 * use the one rule of event/names.ts.
 */
import { NAME_RULES } from '../event/names.js';
import { AUDIT_LEVELS, AUDIT_SOURCES, IDENTITY_TYPES, type AuditLevel, type AuditSource, type IdentityType } from '../event/types.js';

type RoleName = 'viewer' | 'operator' | 'developer' | 'admin' | 'auditor';

const SECRET_REF = '^(env:[A-Za-z_][A-Za-z0-9_]*|file:/.+)$';

/** `tls` of a listener (the API's, a cluster's): files, and whether clients are asked for certificates. */
function listenerTlsSchema(description: string) {
  return {
    type: 'object',
    additionalProperties: false,
    required: ['certFile', 'keyFile'],
    description,
    properties: {
      certFile: { type: 'string', minLength: 1, description: 'PEM server certificate (chain). Its subjectAltName must name the address clients use (e.g. IP:127.0.0.1): the flink CLI and browsers check it. Reloaded when the file changes.' },
      keyFile: { type: 'string', minLength: 1, description: 'PEM private key of the server certificate. Reloaded when the file changes.' },
      caFile: { type: 'string', minLength: 1, description: 'PEM CA certificate(s) that sign client certificates. Required unless clientCertificates is `none`.' },
      clientCertificates: {
        type: 'string',
        enum: ['none', 'optional', 'required'],
        default: 'none',
        description: '`required`: a request without a valid certificate from caFile is refused (401 FT_ERR_AUTH_CERTIFICATE). `optional`: asked for; an invalid one is refused, none means the other sign-in methods. Signing in by certificate needs auth.clientCertificates.enabled.',
      },
    },
  } as const;
}

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
      pattern: NAME_RULES.accountId.pattern,
      default: '1000000000000001',
      description: 'The management account (docs/reference/accounts.md): it owns what names no other account, sees every account\'s events and alone creates member accounts and multi-account trails.',
    },
    region: {
      type: 'string',
      pattern: NAME_RULES.region.pattern,
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
        tls: {
          ...listenerTlsSchema('Serve the API, the console and /flink/<cluster>/ over HTTPS (docs/reference/mtls.md). Certificate, key, CA and CRL files are reloaded when they change, and on SIGHUP.'),
          properties: {
            ...listenerTlsSchema('').properties,
            hstsMaxAgeSeconds: {
              type: 'integer',
              unit: 's',
              minimum: 0,
              maximum: 63072000,
              default: 31536000,
              description: 'max-age of the Strict-Transport-Security header sent on every HTTPS answer (browsers then refuse plain HTTP to this host). 0: no header.',
            },
          },
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
            pattern: NAME_RULES.cluster.pattern,
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
            pattern: NAME_RULES.region.pattern,
            description: "The cluster's region (`acsRegion`); defaults to the top-level `region`.",
          },
          account: {
            type: 'string',
            pattern: NAME_RULES.accountId.pattern,
            description: "The account that owns the cluster (`recipientAccountId` of its events; docs/reference/accounts.md); defaults to the top-level `accountId`, the management account.",
          },
          listen: {
            type: 'object',
            additionalProperties: false,
            description: 'A dedicated listener for this cluster, so clients can use it as if it were Flink itself (paths without prefix).',
            required: ['port'],
            properties: {
              host: { type: 'string', default: '127.0.0.1', description: 'Address of the dedicated listener.' },
              port: { type: 'integer', minimum: 0, maximum: 65535, description: 'Port of the dedicated listener.' },
              tls: listenerTlsSchema('Serve the dedicated listener over HTTPS, optionally asking clients for certificates (mutual TLS; docs/reference/mtls.md).'),
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
          unit: 'ms',
          minimum: 100,
          default: 60000,
          description: 'How long to wait for Flink to send response headers.',
        },
        bodyIdleTimeoutMs: {
          type: 'integer',
          unit: 'ms',
          minimum: 1000,
          default: 30000,
          description: 'A client that sends nothing for this long in the middle of a request body is disconnected (slowloris protection; there is no limit on a whole upload).',
        },
        minBodyBytesPerSecond: {
          type: 'integer',
          minimum: 0,
          default: 240,
          description: 'A request body that arrives slower than this on average (after `bodyRateGraceMs`) is cut off with 408 and recorded as failed: trickling one byte just before each idle timeout does not hold a connection. Time the gateway itself holds the body back is not counted. 0: no minimum.',
        },
        bodyRateGraceMs: {
          type: 'integer',
          unit: 'ms',
          minimum: 1000,
          default: 10000,
          description: 'How long a request body may arrive at any rate before `minBodyBytesPerSecond` applies.',
        },
        maxParameterBytes: {
          type: 'integer',
          minimum: 256,
          maximum: 1048576,
          default: 16384,
          description: 'Largest request body (JSON) kept whole in `requestParameters`; larger ones are marked `truncated` and keep only the fields that decide the call (`cancel-job`, `drain`, program arguments, `savepointPath`, configuration, ...).',
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
          description: 'Look up the name of a job a write refers to (GET /jobs/<id>), so events carry job names next to ids. Names are always looked up when a policy statement that names jobs could apply, whatever this says.',
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
        rateLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'Sign-in throttling: slows password guessing per (source address, identity) and password spraying per address, and never locks an identity out everywhere (see docs/reference/identity.md#brute-force). Console sessions and OIDC tokens are never throttled.',
          properties: {
            maxFailures: {
              type: 'integer',
              minimum: 1,
              default: 5,
              description:
                'Failed sign-ins of one identity from one source address that cost nothing; each further one makes that address wait before trying that identity again (baseDelaySeconds, doubling, up to maxDelaySeconds). Other addresses are not affected.',
            },
            windowSeconds: { type: 'integer', unit: 's', minimum: 1, default: 900, description: 'Failures are forgotten this long after the last one (never while a wait runs).' },
            baseDelaySeconds: { type: 'integer', unit: 's', minimum: 1, default: 1, description: 'The first wait after the free failures; it doubles with each further failure.' },
            maxDelaySeconds: { type: 'integer', unit: 's', minimum: 1, default: 300, description: 'The longest wait.' },
            perSourceFactor: {
              type: 'integer',
              minimum: 1,
              default: 10,
              description:
                'Password spraying: an address that fails maxFailures × perSourceFactor times across all identities waits likewise before trying passwords, unknown names or static bearer tokens — except for identities that signed in from it before. AccessKey pairs are never held back by this bound.',
            },
          },
        },
        session: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Console sessions (cookie `ft_session`: HttpOnly, SameSite=Strict, Secure behind TLS).',
          properties: {
            idleMinutes: { type: 'integer', unit: 'm', minimum: 1, default: 30, description: 'A session unused this long ends.' },
            absoluteHours: { type: 'integer', unit: 'h', minimum: 1, default: 12, description: 'A session ends this long after sign-in, used or not.' },
            secureCookie: { type: 'boolean', default: false, description: 'Mark the cookie Secure even when FlinkTrail itself is plain HTTP (behind a TLS-terminating proxy).' },
          },
        },
        clientCertificates: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Sign-in with TLS client certificates verified by a cluster listener (clusters[].listen.tls). See docs/reference/mtls.md.',
          properties: {
            enabled: { type: 'boolean', default: false, description: 'A verified client certificate signs the caller in (before any other method).' },
            userFrom: {
              type: 'string',
              enum: ['CN', 'emailAddress', 'subject'],
              default: 'CN',
              description: 'The user name is the subject CN or emailAddress; `subject`: only subjects listed in `users` sign in.',
            },
            role: { type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'], default: 'viewer', description: 'Role of users first seen through a certificate (user source `certificate`).' },
            createUsers: { type: 'boolean', default: true, description: 'Create unknown users on first sight. Off: only users that already exist sign in.' },
            crlFiles: {
              type: 'array',
              items: { type: 'string', minLength: 1 },
              default: [],
              description: 'PEM certificate revocation lists checked on every listener that asks for client certificates; a revoked certificate is refused (401 FT_ERR_AUTH_CERTIFICATE, recorded). Give one CRL per CA in caFile: with CRLs on, a certificate whose CA has none (or an expired one) is refused too. Reloaded when the files change, and on SIGHUP.',
            },
            users: {
              type: 'object',
              default: {},
              additionalProperties: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$' },
              description: 'Certificate subject → user name, checked first. Subjects in RFC 4514 form, as `openssl x509 -noout -subject -nameopt RFC2253` prints them, e.g. `CN=ci-bot,O=Example`.',
            },
          },
        },
        trustedProxyIdentity: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Identity headers set by an authenticating proxy (oauth2-proxy, an ingress). Believed only from gateway.trustedProxies peers.',
          properties: {
            enabled: { type: 'boolean', default: false, description: 'Accept the headers from trusted peers.' },
            userHeader: { type: 'string', default: 'x-forwarded-user', description: 'Header with the user name.' },
            emailHeader: { type: 'string', default: 'x-forwarded-email', description: 'Header with the e-mail address.' },
            role: { type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'], default: 'viewer', description: 'Role of users first seen through the proxy.' },
          },
        },
        oidc: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'OpenID Connect: single sign-on for the console, and bearer tokens (`Authorization: Bearer`, JWTs verified locally, opaque tokens introspected) for the API and the gateway, from one provider (`issuer`, `clientId`, … here) or several (`providers`). See docs/reference/oidc.md.',
          // The single-provider form needs its issuer and client id (the list form checks its entries).
          if: { properties: { enabled: { const: true }, providers: { maxItems: 0 } }, required: ['enabled'] },
          then: { required: ['issuer', 'clientId'] },
          properties: {
            enabled: { type: 'boolean', default: false, description: 'Accept bearer tokens from the issuer(s) and offer console sign-in through them.' },
            name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$', description: 'Single-provider form: the provider name used in `/api/v1/auth/oidc/login?provider=`. Default: `default`.' },
            displayName: { type: 'string', minLength: 1, maxLength: 64, description: 'Single-provider form: the name the console shows ("Sign in with …"). Default: the host of the issuer.' },
            issuer: { type: 'string', pattern: '^https?://', description: 'Single-provider form: issuer identifier, exactly as in its discovery document (e.g. https://keycloak.example.com/realms/ops). https:// unless on a loopback address.' },
            clientId: { type: 'string', minLength: 1, description: "Single-provider form: FlinkTrail's client id at the provider (console sign-in, introspection; also the default audience)." },
            clientSecret: {
              type: 'string',
              minLength: 1,
              description:
                'Single-provider form: client secret (HTTP Basic at the token and introspection endpoints), or a reference `env:NAME` / `file:/path` read at start-up. Omit for a public client (PKCE only; no introspection). Prefer a reference or FLINKTRAIL__AUTH__OIDC__CLIENT_SECRET.',
            },
            redirectUri: { type: 'string', pattern: '^https?://', description: 'Callback registered at the provider(s), ending in /api/v1/auth/oidc/callback. Default: built from the request (https when the listener is TLS or auth.session.secureCookie is on, and the Host header); set it behind a proxy.' },
            postLogoutRedirectUri: {
              type: 'string',
              pattern: '^https?://',
              description: "Where the provider sends the browser after RP-initiated logout (`post_logout_redirect_uri`, register it at the provider). Default: the origin of the redirect URI with `/` (FlinkTrail's console).",
            },
            providerLogout: {
              type: 'boolean',
              default: true,
              description: "Console sign-out of an SSO session also ends the session at the provider (RP-initiated logout to its `end_session_endpoint`, with `id_token_hint`), when the provider has one.",
            },
            scopes: { type: 'array', items: { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }, default: ['openid', 'profile', 'email'], description: 'Scopes asked at console sign-in (`openid` is always added). Add the one that releases the role claim, e.g. `groups`. Default of every provider.' },
            audience: { type: 'string', minLength: 1, description: 'Single-provider form: required `aud` of bearer tokens, JWT or introspected (e.g. the resource indicator of FlinkTrail). Default: clientId.' },
            introspection: {
              type: 'string',
              enum: ['opaque', 'always', 'off'],
              default: 'opaque',
              description:
                'Token introspection (RFC 7662) at the introspection endpoint of the discovery document, with the client credentials: `opaque` for tokens that are not JWTs, `always` for every token of the issuer (JWTs too: revocation is seen within introspectionCacheSeconds), `off` (opaque tokens refused). Default of every provider.',
            },
            introspectionCacheSeconds: { type: 'integer', unit: 's', minimum: 0, maximum: 3600, default: 60, description: "How long an introspection answer that accepted a token is reused (never past the token's `exp`; at most 10,000 tokens, by hash). 0: ask for every request." },
            clockSkewSeconds: { type: 'integer', unit: 's', minimum: 0, maximum: 600, default: 60, description: 'Tolerance for `exp` and `nbf` (bearer and ID tokens) against this clock.' },
            roleClaim: { type: 'string', minLength: 1, default: 'groups', description: 'Claim whose values (a list or one string) map to roles; a dotted path reaches nested claims (`realm_access.roles`). Default of every provider.' },
            roleMapping: {
              type: 'object',
              default: {},
              additionalProperties: { type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'] },
              description: 'Claim value → role, e.g. `{flink-admins: admin, flink-viewers: viewer}`. The highest mapped role wins (admin > developer > operator > auditor > viewer). Default of every provider.',
            },
            defaultRole: { ...{ type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'] }, description: 'Role when no claim value is mapped. Unset: such identities are refused (403 FT_ERR_OIDC_NO_ROLE). Default of every provider.' },
            usernameClaim: { type: 'string', minLength: 1, default: 'preferred_username', description: 'Claim that names the user in events and in the user directory (must be unique and stable at the provider); for introspected tokens, RFC 7662 `username` when the claim is absent. Default of every provider.' },
            providers: {
              type: 'array',
              maxItems: 16,
              default: [],
              description:
                'Several providers (instead of issuer/clientId/clientSecret/audience at the top): bearer tokens go to the provider of their `iss`, opaque ones are introspected at each in turn; the console offers one sign-in button each. Keys not set in an entry come from `auth.oidc`. Users are kept per provider (`source: oidc:<name>`); the first entry also owns the users of the single-provider form.',
              items: {
                type: 'object',
                additionalProperties: false,
                required: ['name', 'issuer', 'clientId'],
                properties: {
                  name: { type: 'string', pattern: '^[a-z0-9][a-z0-9-]{0,31}$', description: 'Provider name (`?provider=` of the login route, the users\' `source`).' },
                  displayName: { type: 'string', minLength: 1, maxLength: 64, description: 'Shown on the console sign-in page. Default: the host of the issuer.' },
                  issuer: { type: 'string', pattern: '^https?://', description: 'Issuer identifier, exactly as in its discovery document.' },
                  clientId: { type: 'string', minLength: 1, description: "FlinkTrail's client id at this provider." },
                  clientSecret: { type: 'string', minLength: 1, description: 'Client secret, or `env:NAME` / `file:/path`.' },
                  audience: { type: 'string', minLength: 1, description: 'Required `aud` of its bearer tokens. Default: clientId.' },
                  scopes: { type: 'array', items: { type: 'string', pattern: '^[\\x21\\x23-\\x5b\\x5d-\\x7e]+$' }, description: 'Scopes asked at sign-in.' },
                  introspection: { type: 'string', enum: ['opaque', 'always', 'off'], description: 'As auth.oidc.introspection, for this provider.' },
                  roleClaim: { type: 'string', minLength: 1, description: 'As auth.oidc.roleClaim.' },
                  roleMapping: { type: 'object', additionalProperties: { type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'] }, description: 'As auth.oidc.roleMapping.' },
                  defaultRole: { ...{ type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'] }, description: 'As auth.oidc.defaultRole.' },
                  usernameClaim: { type: 'string', minLength: 1, description: 'As auth.oidc.usernameClaim.' },
                },
              },
            },
          },
        },
      },
    },
    secrets: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Secrets at rest (trail destination credentials, HMAC keys of page tokens and OIDC state, digest signing keys) are sealed with a master key (AES-256-GCM envelope encryption) kept outside the data directory. See docs/reference/secrets.md.',
      properties: {
        masterKey: {
          type: 'string',
          pattern: SECRET_REF,
          description:
            'The master key: `file:/absolute/path` or `env:NAME`, holding 32 bytes as base64 or hex (`openssl rand -base64 32`). A file inside dataDir is refused. Unset: the per-user file `~/.config/flinktrail/master.key` (`$XDG_CONFIG_HOME/flinktrail/master.key`), made on first start.',
        },
        previousKeys: {
          type: 'array',
          items: { type: 'string', pattern: SECRET_REF },
          default: [],
          description: 'Older master keys (same form) that may still open stored secrets but never seal new ones; `flinktrail secrets rotate` re-wraps everything under masterKey.',
        },
      },
    },
    store: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The event store: embedded SQLite in `dataDir`, or PostgreSQL with `url` (the events and everything instances must share).',
      properties: {
        driver: { type: 'string', enum: ['sqlite'], default: 'sqlite', description: 'Kept so that configurations of earlier versions still load; `url` decides where everything is kept.' },
        url: {
          type: 'string',
          pattern: '^postgres(ql)?://',
          description:
            'PostgreSQL for the events (`postgres://user@host:5432/db`; a unix socket as `postgres://user@/db?host=/run/postgresql`). Absent: everything stays in the embedded SQLite database. With it, PostgreSQL holds the events and what every instance on it must see alike: users, AccessKeys, policies, console sessions, FlinkTrail\'s own HMAC keys, RPC nonces, Kubernetes object state and trails (each delivered by one instance at a time, the holder of its lease). `flinktrail migrate` moves an existing data directory. Put the password in `PGPASSWORD` or `~/.pgpass` rather than here; when it is here it is never logged (shown as `***`). A data directory remembers which event store its trail positions refer to and refuses another.',
        },
        poolMax: {
          type: 'integer',
          minimum: 1,
          maximum: 200,
          default: 10,
          description: 'With `store.url`: most connections to PostgreSQL.',
        },
        pendingTimeoutSeconds: {
          type: 'integer',
          unit: 's',
          minimum: 60,
          maximum: 86400,
          default: 900,
          description:
            'With `store.url`: a journaled write still without an outcome this long after it happened is recorded with outcome `unknown` (the instance forwarding it died), checked every minute by every instance. Younger ones may be in flight through another instance and are left alone (the embedded store, one process, resolves all of them at start). Longer than any upload through the gateway should take.',
        },
        spool: {
          type: 'object',
          additionalProperties: false,
          description:
            'With `store.url`: a local durable spool for PostgreSQL outages. Without it writes are refused (503) while PostgreSQL cannot journal them (fail closed); with it they are journaled here, forwarded, and drained into PostgreSQL when it is back — idempotent on eventId (docs/reference/postgres.md, "When PostgreSQL is down").',
          required: ['dir'],
          properties: {
            dir: { type: 'string', minLength: 1, description: 'Directory of the spool file (`spool.db`), on a local disk of this instance. Keep it across restarts: what is in it is drained at the next start.' },
            maxEvents: { type: 'integer', minimum: 1000, default: 1000000, description: 'Most events the spool holds; beyond, new writes are refused (503) until it drains.' },
            journalTimeoutMs: {
              type: 'integer',
              unit: 'ms',
              minimum: 100,
              maximum: 60000,
              default: 2000,
              description: 'How long a journal entry may take in PostgreSQL before the write is spooled instead.',
            },
          },
        },
        retentionDays: {
          type: 'integer',
          unit: 'd',
          minimum: 1,
          maximum: 36500,
          default: 90,
          description: 'Events older than this are purged from the store (trails keep them longer).',
        },
        flushIntervalMs: {
          type: 'integer',
          unit: 'ms',
          minimum: 1,
          maximum: 1000,
          default: 20,
          description: 'How often batched events are written (both stores); bounds the time until an event is queryable.',
        },
        synchronous: {
          type: 'string',
          enum: ['full', 'normal'],
          default: 'full',
          description: "SQLite durability: `full` fsyncs every commit (journaled writes survive power loss), `normal` survives process crashes only.",
        },
        readers: {
          type: 'integer',
          minimum: 0,
          maximum: 16,
          default: 2,
          description: 'Reader threads for lookups, histograms, exports and trail scans. The store runs off the thread that proxies Flink: one writer thread commits, these answer queries (a slow query occupies one of them, never the gateway); 0 is taken as 1. With `store.url`: threads that answer lookups, histograms, gets and trail scans and prepare ingest batches (reading, decoding and encoding rows off the thread that proxies Flink), each with at most `ceil(poolMax / readers)` connections of its own beside the `poolMax` of the instance\'s pool; 0: all of them on the thread that proxies Flink, with no connections beyond `poolMax`.',
        },
        readerNice: {
          type: 'integer',
          minimum: 0,
          maximum: 19,
          default: 10,
          description: "How far below the request thread the reader threads run, in Linux nice steps (0 = the same priority; the result is capped at 19). Above 0, when the machine has fewer free cores than runnable threads, the kernel runs the thread proxying Flink before queries; queries still get the CPU nobody else wants. Ignored on other systems.",
        },
        cacheMb: {
          type: 'integer',
          minimum: 1,
          maximum: 4096,
          default: 4,
          description: "SQLite page cache of each connection to the embedded database (the writer, each reader and the main connection: `(readers + 2) × cacheMb` in all, reached as the database grows). Pages outside it are read from the operating system's file cache, so a larger value helps only lookups over a database much larger than the machine's free memory.",
        },
      },
    },
    trails: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Trails: delivery of events to buckets (S3 API), local directories, Kafka and syslog, with signed digests.',
      properties: {
        windowSeconds: {
          type: 'integer',
          unit: 's',
          minimum: 1,
          maximum: 3600,
          default: 60,
          description: 'How long events are gathered into one file for bucket and directory destinations (ActionTrail: about 5 minutes).',
        },
        pollIntervalMs: {
          type: 'integer',
          unit: 'ms',
          minimum: 10,
          maximum: 10000,
          default: 100,
          description: 'How often each destination looks for new events in the store; bounds Kafka and syslog latency.',
        },
        maxEventsPerFile: {
          type: 'integer',
          minimum: 1,
          maximum: 1000000,
          default: 10000,
          description: 'A file is cut (split) when it reaches this many events, before its window ends.',
        },
        maxFileBytes: {
          type: 'integer',
          minimum: 1024,
          maximum: 1073741824,
          default: 33554432,
          description: 'A file is cut when its uncompressed JSON reaches this size.',
        },
        multipartThresholdBytes: {
          type: 'integer',
          minimum: 5242880,
          default: 8388608,
          description: 'Files (gzipped) at least this large go to S3 as multipart uploads.',
        },
        streamBatchSize: {
          type: 'integer',
          minimum: 1,
          maximum: 10000,
          default: 500,
          description: 'Most events sent to Kafka or syslog in one batch.',
        },
        retry: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Retries of a failed delivery: exponential backoff with jitter, forever (nothing is dropped; lag and failures are in metrics and GetTrailStatus).',
          properties: {
            initialBackoffMs: { type: 'integer', unit: 'ms', minimum: 10, default: 500, description: 'Wait after the first failure.' },
            maxBackoffMs: { type: 'integer', unit: 'ms', minimum: 100, default: 30000, description: 'Longest wait between attempts.' },
          },
        },
        digestIntervalSeconds: {
          type: 'integer',
          unit: 's',
          minimum: 1,
          maximum: 86400,
          default: 3600,
          description: 'Default interval of signed digest files for trails that do not set DigestInterval.',
        },
        minDigestIntervalSeconds: {
          type: 'integer',
          unit: 's',
          minimum: 1,
          maximum: 86400,
          default: 60,
          description: 'Smallest DigestInterval a trail may ask for.',
        },
        leaseSeconds: {
          type: 'integer',
          unit: 's',
          minimum: 3,
          maximum: 600,
          default: 15,
          description: 'Each trail is delivered by one instance, the holder of its lease (renewed every third of it, at most every 2 s). When the holder dies, another instance takes the trail over within this time plus one renewal.',
        },
        stopTimeoutMs: {
          type: 'integer',
          unit: 'ms',
          minimum: 0,
          maximum: 600000,
          default: 5000,
          description: 'On shutdown, how long to try to deliver gathered events (undelivered ones stay in the store and go out after restart).',
        },
        knownRegions: {
          type: 'array',
          items: { type: 'string', pattern: NAME_RULES.region.pattern },
          default: [],
          description: 'Regions a TrailRegion may name besides `region` and the clusters\' regions.',
        },
        localDir: {
          type: 'string',
          description: 'Directory of the `local` destination (the embedded default for a first trail); default `<dataDir>/trails`.',
        },
      },
    },
    k8sAudit: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The Kubernetes audit webhook `POST /k8s-audit` (Flink operator custom resources). See docs/reference/kubernetes.md.',
      properties: {
        cluster: {
          type: 'string',
          pattern: NAME_RULES.cluster.pattern,
          default: 'kubernetes',
          description: 'Name of the Kubernetes cluster recorded in `additionalEventData.cluster` when the webhook URL has no `?cluster=`.',
        },
        region: {
          type: 'string',
          pattern: NAME_RULES.region.pattern,
          description: '`acsRegion` of Kubernetes events when the webhook URL has no `?region=`; defaults to the top-level `region`.',
        },
        maxBodyBytes: {
          type: 'integer',
          minimum: 65536,
          maximum: 268435456,
          default: 33554432,
          description: "Largest webhook body accepted (the API server's truncating backend sends at most 10 MiB per batch; without it batches can be larger).",
        },
        bearerTokens: {
          type: 'array',
          default: [],
          description: 'Static bearer tokens the API server may send (kubeconfig `users[].user.token`), compared in constant time. They authenticate this route only.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['name', 'token'],
            properties: {
              name: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$', description: 'Who holds the token; recorded as the caller of failed deliveries.' },
              token: { type: 'string', minLength: 16, maxLength: 4096, description: 'The token (at least 16 characters).' },
              cluster: { type: 'string', pattern: NAME_RULES.cluster.pattern, description: 'If set, the token delivers events of this cluster only (and `?cluster=` may not name another).' },
            },
          },
        },
        operatorUsers: {
          type: 'array',
          items: { type: 'string', minLength: 1 },
          default: ['system:serviceaccount:*:flink-operator'],
          description: 'User names (`*` matches within one segment) of the Flink operator. Their changes are recorded with eventType `AliyunServiceEvent`: kept, and easy to filter out.',
        },
        recordReads: {
          type: 'boolean',
          default: true,
          description: 'Record get/list/watch of Flink resources (Read events), if the audit policy sends them.',
        },
      },
    },
    ingest: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'The ingest API `POST /api/v1/events` for events from other tools. See docs/reference/ingest.md.',
      properties: {
        maxBodyBytes: { type: 'integer', minimum: 65536, maximum: 268435456, default: 33554432, description: 'Largest body accepted.' },
        maxEvents: { type: 'integer', minimum: 1, maximum: 100000, default: 10000, description: 'Most records per request.' },
        threads: {
          type: 'integer',
          minimum: 1,
          maximum: 64,
          default: 1,
          description: 'Threads that parse, check and redact ingested batches (never the thread that proxies Flink). More help only with several concurrent ingest clients and spare cores.',
        },
        threadNice: {
          type: 'integer',
          minimum: 0,
          maximum: 19,
          default: 10,
          description: "How far below the request thread these threads run, in Linux nice steps (0 = the same priority): see `store.readerNice`. Ignored on other systems.",
        },
      },
    },
    actiontrailApi: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: "The ActionTrail-compatible OpenAPI endpoint (RPC, version 2020-07-06) at `/` of the API listener, for Alibaba Cloud SDKs signing with AccessKeys. See docs/reference/actiontrail-api.md.",
      properties: {
        enabled: { type: 'boolean', default: true, description: 'Serve the endpoint. Off: `POST /` is not found and `GET /` is always the console.' },
        rateLimit: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description: 'Flow control per AccessKey (`Throttling.User`, HTTP 400 with `x-acs-retry-after`), as ActionTrail applies it. Off by default.',
          properties: {
            requestsPerSecond: { type: 'number', minimum: 0, maximum: 100000, default: 0, description: 'Calls a second per AccessKey, any action; bursts of one second. 0: unlimited.' },
            lookupEventsPerSecond: { type: 'number', minimum: 0, maximum: 100000, default: 0, description: "LookupEvents calls a second per AccessKey (ActionTrail's own limit is 2). 0: unlimited." },
          },
        },
      },
    },
    auditPolicy: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description:
        'Which events are recorded and with how much detail, as Kubernetes audit policies decide it: ordered rules, the first that matches gives the level. Writes, refusals and failures are always recorded at least at `Metadata`, whatever the rules say. Checked at start-up (FT_ERR_AUDIT_POLICY_INVALID); a change is recorded as an `UpdateAuditPolicy` event. See docs/reference/audit-policy.md.',
      properties: {
        rules: {
          type: 'array',
          default: [],
          maxItems: 1000,
          description: 'Rules, first match wins; an event no rule matches is recorded at `RequestResponse` (everything). Every field given must match (a list matches when any entry does); a field left out matches every event. Patterns take `*` for any run of characters.',
          items: {
            type: 'object',
            additionalProperties: false,
            required: ['level'],
            properties: {
              level: {
                type: 'string',
                enum: AUDIT_LEVELS,
                description: '`None`: not recorded (reads that succeed only). `Metadata`: who, what, when, where and the outcome, without `requestParameters` and `responseElements`. `Request`: also `requestParameters`. `RequestResponse`: everything.',
              },
              users: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'Patterns of `userIdentity.userName` (e.g. `ci-*`).' },
              identityTypes: {
                type: 'array',
                minItems: 1,
                items: { type: 'string', enum: IDENTITY_TYPES },
                description: '`userIdentity.type` values: the groups callers fall into (FlinkTrail has no user groups of its own; `assumed-role` is every federated caller, OIDC and trusted proxies).',
              },
              roles: {
                type: 'array',
                minItems: 1,
                items: { type: 'string', enum: ['viewer', 'operator', 'developer', 'admin', 'auditor'] },
                description: "The caller's FlinkTrail role (looked up by `userIdentity.principalId`; a role change is seen within 30 seconds). Callers that are no user (anonymous, failed sign-ins, other tools' ingested events) match no role.",
              },
              clusters: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'Patterns of `additionalEventData.cluster`; an event without a cluster does not match.' },
              eventNames: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1, maxLength: 256 }, description: 'Patterns of `eventName` (e.g. `GetJobsOverview`, `Get*Metrics`).' },
              eventRW: { type: 'string', enum: ['Read', 'Write'], description: 'Only reads, or only writes.' },
              sources: {
                type: 'array',
                minItems: 1,
                items: { type: 'string', enum: AUDIT_SOURCES },
                description: 'Where the event came from: `gateway` (JobManager and History Server calls), `sql-gateway`, `kubernetes` (the audit webhook), `ingest` (POST /api/v1/events, whatever `eventSource` the record names), `flinktrail` (its own API and service events).',
              },
            },
          },
        },
        coalesce: {
          type: 'object',
          additionalProperties: false,
          default: {},
          description:
            'Coalescing of repeated identical reads: the first is recorded at once; the same read again (same caller, event name, resources, parameters kept, outcome, cluster, source IP) within the window is counted, and when the window ends one event with `additionalEventData.coalesced = {count, firstTime, lastTime}` stands for the repeats. Only successful reads the gateway and the API record live; never writes, failures, Kubernetes or ingested events.',
          properties: {
            enabled: { type: 'boolean', default: false, description: 'Coalesce repeated identical reads.' },
            windowSeconds: {
              type: 'integer',
              unit: 's',
              minimum: 1,
              maximum: 3600,
              default: 60,
              description: 'How long repeats are counted after the read that opened the window. Also the most repeat counts a crash can lose (shutdown flushes them).',
            },
            maxKeys: {
              type: 'integer',
              minimum: 1,
              maximum: 1000000,
              default: 10000,
              description: 'Most windows open at once (each holds one event in memory). When full, a read that would open another is recorded as it is.',
            },
          },
        },
      },
    },
    journal: {
      type: 'object',
      additionalProperties: false,
      default: {},
      description: 'Where write operations are journaled before they are forwarded. By default in the event store itself (fail closed: a write it cannot journal is refused).',
      properties: {
        kafka: {
          type: 'object',
          additionalProperties: false,
          required: ['brokers'],
          description:
            'A Kafka journal in front of the PostgreSQL event store (needs `store.url`; not with `store.spool`), for the largest platforms: every event — a write\'s journal entry and its outcome, read events too — is produced to `topic` (idempotent producer, acks=all, keyed by eventId) and a write is forwarded once Kafka has it; store writers (`consume`) read the topic as one consumer group and write into PostgreSQL, idempotently by eventId, committing offsets only after PostgreSQL did. A PostgreSQL outage then never blocks Flink operations (docs/reference/postgres.md, "A Kafka journal").',
          properties: {
            brokers: { type: 'array', minItems: 1, items: { type: 'string', pattern: '^[^\\s/]+:\\d+$' }, description: 'Bootstrap brokers, `host:port`.' },
            topic: { type: 'string', minLength: 1, maxLength: 249, pattern: '^[A-Za-z0-9._-]+$', default: 'flinktrail-journal', description: 'The journal topic. Create it with enough partitions for the store writers (one writer per partition at most) and a replication factor ≥ 3 with `min.insync.replicas` ≥ 2 in production; it is created with the broker\'s defaults if missing.' },
            clientId: { type: 'string', minLength: 1, default: 'flinktrail', description: 'Kafka client id.' },
            consume: { type: 'boolean', default: true, description: 'This instance is also a store writer (a member of `groupId`). Set false on gateway-only instances; at least one instance must consume, or nothing reaches PostgreSQL.' },
            groupId: { type: 'string', minLength: 1, default: 'flinktrail-store-writers', description: 'The store writers\' consumer group. Offsets are committed after PostgreSQL committed the batch; a writer that dies before leaves its batch to be written again (idempotent by eventId).' },
            journalTimeoutMs: {
              type: 'integer',
              unit: 'ms',
              minimum: 100,
              maximum: 60000,
              default: 5000,
              description: 'How long a write waits for Kafka to acknowledge its journal record; beyond, it is refused (503 FT_ERR_JOURNAL_UNAVAILABLE, fail closed).',
            },
            batchSize: { type: 'integer', minimum: 1, maximum: 10000, default: 500, description: 'Most records a store writer writes to PostgreSQL (and commits) at a time.' },
            tls: {
              type: 'object',
              additionalProperties: false,
              description: 'Connect over TLS (as a trails `kafka+ssl` destination): brokers are verified against the default trust store plus `ca`.',
              properties: { ca: { type: 'string', minLength: 1, description: 'PEM CA file trusted besides the default store.' } },
            },
            sasl: {
              type: 'object',
              additionalProperties: false,
              required: ['username', 'password'],
              description: 'SASL authentication over TLS (as a trails `kafka+sasl_ssl` destination; needs `tls`).',
              properties: {
                mechanism: { type: 'string', enum: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'], default: 'SCRAM-SHA-512', description: 'SASL mechanism.' },
                username: { type: 'string', minLength: 1, description: 'SASL user.' },
                password: { type: 'string', minLength: 1, description: 'SASL password, or a reference `env:NAME` / `file:/path` resolved at each connection.' },
              },
            },
          },
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

export interface ListenerTlsConfig {
  certFile: string;
  keyFile: string;
  caFile?: string;
  clientCertificates: 'none' | 'optional' | 'required';
}

export interface AuditRuleConfig {
  level: AuditLevel;
  users?: string[];
  identityTypes?: IdentityType[];
  roles?: RoleName[];
  clusters?: string[];
  eventNames?: string[];
  eventRW?: 'Read' | 'Write';
  sources?: AuditSource[];
}

export interface AuditPolicyConfig {
  rules: AuditRuleConfig[];
  coalesce: { enabled: boolean; windowSeconds: number; maxKeys: number };
}

export type ClusterKind = 'jobmanager' | 'sql-gateway' | 'history-server';

export interface ClusterConfig {
  name: string;
  url: string;
  kind: ClusterKind;
  region?: string;
  /** The owning account; absent: the management account (`Config.accountId`). */
  account?: string;
  listen?: {
    host: string;
    port: number;
    tls?: ListenerTlsConfig;
  };
}

/** `journal.kafka`: the Kafka journal in front of the PostgreSQL event store. */
export interface KafkaJournalConfig {
  brokers: string[];
  topic: string;
  clientId: string;
  consume: boolean;
  groupId: string;
  journalTimeoutMs: number;
  batchSize: number;
  tls?: { ca?: string };
  sasl?: { mechanism: 'PLAIN' | 'SCRAM-SHA-256' | 'SCRAM-SHA-512'; username: string; password: string };
}

export interface Config {
  dataDir: string;
  accountId: string;
  region: string;
  serviceName: string;
  api: { host: string; port: number; tls?: ListenerTlsConfig & { hstsMaxAgeSeconds: number } };
  clusters: ClusterConfig[];
  gateway: {
    failClosed: boolean;
    upstreamTimeoutMs: number;
    bodyIdleTimeoutMs: number;
    minBodyBytesPerSecond: number;
    bodyRateGraceMs: number;
    maxParameterBytes: number;
    recordAssets: boolean;
    trustedProxies: string[];
    resolveJobNames: boolean;
  };
  auth: {
    anonymous: boolean;
    rateLimit: { maxFailures: number; windowSeconds: number; baseDelaySeconds: number; maxDelaySeconds: number; perSourceFactor: number };
    session: { idleMinutes: number; absoluteHours: number; secureCookie: boolean };
    clientCertificates: {
      enabled: boolean;
      userFrom: 'CN' | 'emailAddress' | 'subject';
      role: 'viewer' | 'operator' | 'developer' | 'admin' | 'auditor';
      createUsers: boolean;
      users: Record<string, string>;
      crlFiles: string[];
    };
    trustedProxyIdentity: { enabled: boolean; userHeader: string; emailHeader: string; role: 'viewer' | 'operator' | 'developer' | 'admin' | 'auditor' };
    oidc: {
      enabled: boolean;
      name?: string;
      displayName?: string;
      issuer?: string;
      clientId?: string;
      clientSecret?: string;
      redirectUri?: string;
      postLogoutRedirectUri?: string;
      providerLogout: boolean;
      scopes: string[];
      audience?: string;
      introspection: 'opaque' | 'always' | 'off';
      introspectionCacheSeconds: number;
      clockSkewSeconds: number;
      roleClaim: string;
      roleMapping: Record<string, RoleName>;
      defaultRole?: RoleName;
      usernameClaim: string;
      providers: {
        name: string;
        displayName?: string;
        issuer: string;
        clientId: string;
        clientSecret?: string;
        audience?: string;
        scopes?: string[];
        introspection?: 'opaque' | 'always' | 'off';
        roleClaim?: string;
        roleMapping?: Record<string, RoleName>;
        defaultRole?: RoleName;
        usernameClaim?: string;
      }[];
    };
  };
  secrets: { masterKey?: string; previousKeys: string[] };
  store: {
    driver: 'sqlite';
    url?: string;
    poolMax: number;
    pendingTimeoutSeconds: number;
    spool?: { dir: string; maxEvents: number; journalTimeoutMs: number };
    retentionDays: number;
    flushIntervalMs: number;
    synchronous: 'full' | 'normal';
    readers: number;
    readerNice: number;
    cacheMb: number;
  };
  journal: { kafka?: KafkaJournalConfig };
  auditPolicy: AuditPolicyConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
  k8sAudit: {
    cluster: string;
    region?: string;
    maxBodyBytes: number;
    bearerTokens: { name: string; token: string; cluster?: string }[];
    operatorUsers: string[];
    recordReads: boolean;
  };
  ingest: { maxBodyBytes: number; maxEvents: number; threads: number; threadNice: number };
  actiontrailApi: { enabled: boolean; rateLimit: { requestsPerSecond: number; lookupEventsPerSecond: number } };
  trails: {
    windowSeconds: number;
    pollIntervalMs: number;
    maxEventsPerFile: number;
    maxFileBytes: number;
    multipartThresholdBytes: number;
    streamBatchSize: number;
    retry: { initialBackoffMs: number; maxBackoffMs: number };
    digestIntervalSeconds: number;
    minDigestIntervalSeconds: number;
    leaseSeconds: number;
    stopTimeoutMs: number;
    knownRegions: string[];
    localDir?: string;
  };
}
