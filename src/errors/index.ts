/**
 * One table of coded errors.
 *
 * Every error FlinkTrail reports to a client, the CLI or its log has a stable code
 * `FT_ERR_<AREA>_<WHAT>`, an HTTP status and a message template. Codes are never reused; the
 * table is documented in docs/reference/errors.md and a test keeps the two in step. API
 * answers use ActionTrail's error shape: `{ RequestId, Code, Message }` (plus `HostId`-less).
 */

interface ErrorSpec {
  status: number;
  /** The `Code` clients see and events record, when ActionTrail has its own (e.g. `NoPermission`). */
  apiCode?: string;
  message: string;
  /** A short explanation for the docs: when it happens and what to do. */
  doc: string;
}

export const ERRORS = {
  FT_ERR_CONFIG_INVALID: {
    status: 500,
    message: 'The configuration is invalid: %s',
    doc: 'Startup refused: one or more configuration keys are invalid. Every problem is listed with its key path.',
  },
  FT_ERR_CONFIG_SELF_PROXY: {
    status: 500,
    message: 'Cluster "%s" has url %s, which is FlinkTrail\'s own listener on %s: the gateway would proxy to itself.',
    doc: 'Startup refused: a cluster\'s `url` reaches one of FlinkTrail\'s own listeners (the API port or a cluster port, checked once they are bound, so ports given as 0 count too). Point `url` at the Flink REST endpoint, not at FlinkTrail.',
  },
  FT_ERR_AUDIT_POLICY_INVALID: {
    status: 500,
    message: 'The audit policy is invalid: %s',
    doc: 'Startup refused: `auditPolicy.rules` say something they cannot do — a rule after a rule that matches every event (it would never apply), `level: None` for writes only (writes are always recorded, at least at `Metadata`), a pattern with characters no name can hold, or the same value twice in one list. Every problem is listed with its key path. See docs/reference/audit-policy.md.',
  },
  FT_ERR_AUDIT_POLICY_UNRECORDED: {
    status: 500,
    message: 'The audit policy changed (%s → %s) but the change could not be recorded: %s',
    doc: 'Startup refused: the effective audit policy differs from the last one in force, and its `UpdateAuditPolicy` event could not be stored, so the change would go unaudited. Check the data directory (disk full, permissions) and start again; the old policy hash stays in the database until the event is stored.',
  },
  FT_ERR_AUTH_MISSING: {
    status: 401,
    message: 'Authentication is required: send HTTP Basic credentials (AccessKeyId:AccessKeySecret or user:password).',
    doc: 'The request carried no credentials and anonymous access is off. Recorded as a failed sign-in.',
  },
  FT_ERR_AUTH_INVALID: {
    status: 401,
    message: 'The credentials are not valid.',
    doc: 'Unknown AccessKey ID or user, wrong secret or password, or a disabled key. Recorded as a failed sign-in; the message never says which part was wrong.',
  },
  FT_ERR_AUTH_MALFORMED: {
    status: 401,
    message: 'The Authorization header is malformed: %s',
    doc: 'The Authorization header could not be parsed (not Basic, bad base64, no colon).',
  },
  FT_ERR_AUTH_RATE_LIMITED: {
    status: 429,
    message: 'Too many failed sign-ins from this address. Try again in %s seconds.',
    doc: 'Sign-in throttling: this source address failed too often for this identity (past auth.rateLimit.maxFailures) or across identities (password spraying), and must wait — doubling from auth.rateLimit.baseDelaySeconds up to auth.rateLimit.maxDelaySeconds — before its credentials are checked again. Other addresses and console sessions are not affected; an admin can end the wait (flinktrail auth unlock). Recorded.',
  },
  FT_ERR_AUTH_CSRF: {
    status: 403,
    message: 'The request was refused: a console session needs the X-CSRF-Token header for this call, and requests from other sites are not accepted.',
    doc: 'A state-changing call authenticated by the console cookie came without the session CSRF token, or from another site (Sec-Fetch-Site: cross-site).',
  },
  FT_ERR_AUTH_CERTIFICATE: {
    status: 401,
    message: 'The client certificate is not accepted: %s',
    doc: 'On a listener that asks for client certificates: none was sent where they are `required`, or the one sent failed verification (another CA, expired, revoked by `auth.clientCertificates.crlFiles`) — answered in Flink\'s error shape (`{"errors": [...]}`, which the flink CLI prints), logged and recorded as a failed sign-in with the certificate subject and the reason. Or a verified certificate names no usable user (subject not mapped in `auth.clientCertificates.users`, invalid CN), or its user is unknown (`createUsers` off) or disabled — recorded as a failed sign-in. See docs/reference/mtls.md.',
  },
  FT_ERR_AUTHZ_DENIED: {
    status: 403,
    apiCode: 'NoPermission',
    message: 'You are not authorized to do this: %s',
    doc: "The caller's role and policies do not allow the operation (deny wins). Answered and recorded with ActionTrail's code `NoPermission`.",
  },
  FT_ERR_OIDC_TOKEN_EXPIRED: {
    status: 401,
    message: 'The bearer token has expired. Get a new one from your identity provider.',
    doc: 'A bearer JWT whose `exp` is past (beyond `auth.oidc.clockSkewSeconds`). Recorded as a failed sign-in.',
  },
  FT_ERR_OIDC_TOKEN_INVALID: {
    status: 401,
    message: 'The bearer token is not valid: %s.',
    doc: 'A bearer JWT (or the ID token of a console sign-in) that is malformed, unsigned (`alg: none`), signed with a key or algorithm the provider does not use, altered, issued by another issuer, or meant for another audience; or an authorization code the provider would not exchange. Recorded as a failed sign-in with the reason.',
  },
  FT_ERR_OIDC_PROVIDER_UNAVAILABLE: {
    status: 503,
    message: 'The identity provider could not be reached: %s. Try again later.',
    doc: "FlinkTrail could not fetch the OpenID provider's discovery document, signing keys or token endpoint (and has no keys cached). Check `auth.oidc.issuer` and the network. Recorded.",
  },
  FT_ERR_OIDC_CLAIMS: {
    status: 401,
    message: 'The identity token has no usable user name in claim %s.',
    doc: 'The token lacks the `auth.oidc.usernameClaim` claim, or its value is not a valid user name (1-128 letters, digits and . _ @ + -). Recorded as a failed sign-in.',
  },
  FT_ERR_OIDC_NO_ROLE: {
    status: 403,
    message: 'Your identity provider groups (claim %s) do not map to a FlinkTrail role.',
    doc: 'No value of `auth.oidc.roleClaim` is in `auth.oidc.roleMapping` and there is no `auth.oidc.defaultRole`. Recorded as a failed sign-in.',
  },
  FT_ERR_OIDC_USER_CONFLICT: {
    status: 403,
    message: 'The user name %s belongs to a local FlinkTrail user; single sign-on cannot take it over.',
    doc: 'An OIDC identity has the name of a user created locally (password or AccessKeys). Rename one of them, or use another `auth.oidc.usernameClaim`. Recorded as a failed sign-in.',
  },
  FT_ERR_OIDC_STATE: {
    status: 400,
    message: 'The sign-in could not be completed: it was not started in this browser, it expired, or it was already used. Start again.',
    doc: 'The single sign-on callback came without the state cookie, with a forged or expired one (10 minutes), or with a `state` that does not match it (login CSRF). Recorded as a failed ConsoleSignin.',
  },
  FT_ERR_OIDC_PROVIDER_ERROR: {
    status: 401,
    message: 'The identity provider refused the sign-in: %s',
    doc: 'The provider redirected back with an OAuth `error` (e.g. `access_denied`). Recorded as a failed ConsoleSignin with the error.',
  },
  FT_ERR_IDENTITY_INVALID: {
    status: 400,
    message: 'Invalid identity request: %s',
    doc: 'A user, key or policy request has an invalid name or value.',
  },
  FT_ERR_IDENTITY_NOT_FOUND: {
    status: 404,
    message: 'Not found: %s',
    doc: 'The user, AccessKey or policy does not exist.',
  },
  FT_ERR_ACCOUNT_NOT_FOUND: {
    status: 404,
    message: 'No member account %s',
    doc: 'No member account has this id (or it belongs to another account than the caller may see). List them with `flinktrail accounts list`.',
  },
  FT_ERR_ACCOUNT_EXISTS: {
    status: 409,
    message: "An account named '%s' already exists",
    doc: 'Account names are unique; pick another name or use the existing account.',
  },
  FT_ERR_ACCOUNT_IN_USE: {
    status: 409,
    message: 'Account %s still owns %s',
    doc: 'An account is deleted only once it owns nothing: delete or move its users, remove it from `clusters[].account`, and delete its trails first. Its events stay, readable by the management account.',
  },
  FT_ERR_ACCOUNT_DENIED: {
    status: 403,
    message: '%s',
    doc: "Only the management account may do this (manage accounts, change what every account shares), or the caller's account does not own what was named.",
  },
  FT_ERR_POLICY_INVALID: {
    status: 400,
    message: 'The policy document is invalid: %s',
    doc: 'A custom policy must be {"Statement": [{"Effect": "Allow"|"Deny", "Action": ["Service:Event*"], "Resource": ["cluster/<name>[/job/<id or name>]"]}]}.',
  },
  FT_ERR_QUERY_INVALID_PARAMETER: {
    status: 400,
    message: 'Invalid parameter %s: %s',
    doc: 'A query parameter has a bad value (time not ISO 8601, maxResults out of 1..200, unknown eventRW, ...).',
  },
  FT_ERR_QUERY_UNKNOWN_PARAMETER: {
    status: 400,
    message: 'Unknown parameter %s. Known parameters: %s',
    doc: 'A query parameter that LookupEvents does not know; refused rather than ignored so that a typo never widens a query.',
  },
  FT_ERR_QUERY_TIME_RANGE: {
    status: 400,
    message: 'The time range is invalid: %s',
    doc: 'endTime is before startTime, or a time is not a valid ISO 8601 UTC instant.',
  },
  FT_ERR_QUERY_BAD_TOKEN: {
    status: 400,
    message: 'The nextToken is invalid or does not belong to this query.',
    doc: 'nextToken was altered, or reused with different filters. Repeat the query from the first page.',
  },
  FT_ERR_EVENT_NOT_FOUND: {
    status: 404,
    message: 'No event with id %s.',
    doc: 'GET /api/v1/events/{eventId} for an id that is not stored (or was purged by retention).',
  },
  FT_ERR_JOURNAL_UNAVAILABLE: {
    status: 503,
    message: 'The operation was refused because it could not be recorded in the audit journal: %s',
    doc: 'Fail-closed: a write to Flink is refused when its event cannot be stored first. Flink never receives the request. Fix the store (disk full, read-only directory) and retry.',
  },
  FT_ERR_STORE_UNAVAILABLE: {
    status: 503,
    message: 'The event store %s could not be used: %s',
    doc: 'Startup refused: the PostgreSQL event store (`store.url`, shown with its password replaced by `***`) could not be reached, or its schema could not be migrated. Check the URL, that the server runs and accepts this user, and that the user may create tables in the database.',
  },
  FT_ERR_IDENTITY_UNAVAILABLE: {
    status: 503,
    message: 'The credentials could not be checked: the identity store cannot be reached. Retry shortly.',
    doc: 'With `store.url`, users, AccessKeys and policies are read from PostgreSQL. While it cannot be reached, a caller this instance read in the last 10 minutes is still known from its cache; any other is refused with this error rather than let through. Nothing is forwarded to Flink.',
  },
  FT_ERR_STORE_MISMATCH: {
    status: 500,
    message: 'The data directory %s was used with the event store %s, not with %s: its trail positions refer to the other store.',
    doc: 'Startup refused: `store.url` points at another event store (or none) than the data directory was used with. Trail delivery positions and digests in the data directory count positions of that store; against another one they would skip or repeat events. Use the store the directory was used with, or a new data directory.',
  },
  FT_ERR_MIGRATE_DIVERGED: {
    status: 409,
    message: 'The target event store does not continue this copy after position %s: %s.',
    doc: '`flinktrail migrate` refused to copy into a PostgreSQL event store that holds events other than an earlier, interrupted copy of this data directory (or that another FlinkTrail wrote to while the copy ran). Positions must stay those of the data directory, so the copy goes into an empty store (a new database or schema); stop every FlinkTrail that writes to it while copying.',
  },
  FT_ERR_MIGRATE_UNVERIFIED: {
    status: 500,
    message: 'The copy in %s does not match the data directory %s: %s. The data directory still uses its own store.',
    doc: '`flinktrail migrate` compared the copy with the source (events: count and a SHA-256 over every position and event; users, keys, policies, sessions, Kubernetes state, `meta` keys, trail digest keys and trail tables: rows per table) and they differ, so the data directory was not switched to the new store. Usually FlinkTrail was still running on the data directory; stop it and run the same command again (it resumes).',
  },
  FT_ERR_MIGRATE_CONFLICT: {
    status: 409,
    message: 'The target already holds %s, not the one of this data directory (%s); nothing was copied into its tables and the directory was not switched.',
    doc: '`flinktrail migrate` copies users, AccessKeys, policies, sessions, Kubernetes object state, the `meta` HMAC keys, the trail digest signing keys and the trails after the events, and refuses to overwrite what it did not copy: a `meta` key with another value (e.g. a key a FlinkTrail already running on that database made), a user name that belongs to another user id, a policy of the same name made at another time, an AccessKey id with another owner or secret, a trail digest key the data directory does not have (a FlinkTrail on that database made it) or another public key under a fingerprint, a trail of the same name made at another time (or a trail destination, cursor, history job or dead letter id that belongs to another trail). Copy into an empty database or schema (stop every FlinkTrail on it first); running the same command again over its own earlier copy is fine.',
  },
  FT_ERR_MIGRATE_SOURCE: {
    status: 400,
    message: 'The data directory %s cannot be copied: %s.',
    doc: '`flinktrail migrate --from` must name a data directory whose events are in its embedded store (not one already switched to another store). A trail digest key file an older version wrote in clear is sealed on the way with the master key (`--config`, `secrets.*`), which must then be readable.',
  },
  FT_ERR_UPSTREAM_UNAVAILABLE: {
    status: 502,
    message: 'The Flink cluster %s could not be reached: %s',
    doc: 'The gateway could not connect to Flink, or the connection broke before a response. Recorded with this errorCode.',
  },
  FT_ERR_UPSTREAM_TIMEOUT: {
    status: 504,
    message: 'The Flink cluster %s did not answer within %s ms.',
    doc: 'Flink accepted the connection but did not send response headers in time (gateway.upstreamTimeoutMs).',
  },
  FT_ERR_GATEWAY_UNKNOWN_CLUSTER: {
    status: 404,
    message: 'No Flink cluster named %s is configured.',
    doc: 'A request under /flink/<cluster>/ names a cluster that is not in the configuration.',
  },
  FT_ERR_GATEWAY_QUERY_AMBIGUOUS: {
    status: 400,
    message: 'The query string is refused because Flink could read it differently from the audit record: %s',
    doc: 'A Flink call whose query string Flink (Netty) would read differently from other parsers: a `;` (a separator for Flink), a bad `%` escape, more than 1024 parameters (Flink drops the rest), or, on a write, a parameter given twice. Refused before Flink sees it and recorded as a failed event with this code.',
  },
  FT_ERR_GATEWAY_ID_NOT_CANONICAL: {
    status: 400,
    message: 'The path parameter %s is refused: %s is not %s.',
    doc: 'A job, vertex, trigger, operator or data set id that is not exactly 32 hex digits (Flink also accepts signs, fullwidth digits and a 33rd character, which would let one job go by many names), a numeric id (checkpoint, subtask, attempt, result token) that is not plain ASCII digits, or a SQL Gateway handle that is not a plain UUID. Upper-case hex is accepted and recorded in lower case. Refused and recorded as a failed event.',
  },
  FT_ERR_GATEWAY_BODY_UNREADABLE: {
    status: 400,
    message: 'The request body is refused because the gateway cannot read it as Flink would: %s',
    doc: 'The body of a write (or of a sensitive read such as GetJarPlan) is not one JSON object (a UTF-8 byte order mark is allowed), a multipart body was sent to an endpoint that takes no files, or a multipart `request` part (which Flink reads as the JSON body) is repeated, cut off or not JSON. Refused before Flink sees it, recorded as a failed event.',
  },
  FT_ERR_GATEWAY_BODY_TOO_LARGE: {
    status: 413,
    message: 'The request body is refused: a body of more than %s bytes cannot be read whole and recorded for this operation.',
    doc: 'A non-upload write whose body exceeds the 1 MiB the gateway reads whole to record and authorize it (padding included). Refused and recorded as a failed event.',
  },
  FT_ERR_GATEWAY_BODY_TOO_SLOW: {
    status: 408,
    message: 'The request body is refused: it arrived at %s bytes/s on average over %s s, under the minimum of %s bytes/s.',
    doc: 'A request body sent through the gateway more slowly than `gateway.minBodyBytesPerSecond` on average once `gateway.bodyRateGraceMs` have passed (a client trickling bytes to hold a connection). The connection is closed; whatever was forwarded is cut off before its end, so Flink does not act on it, and the event is recorded as failed with this code and `bodyCutOff: true`. Send the body at a steady rate, or raise the limits.',
  },
  FT_ERR_GATEWAY_BODY_TYPE: {
    status: 415,
    message: 'The request body is refused: %s is not accepted for this operation; send application/json.',
    doc: 'A write with a content type other than `application/json`, `application/x-www-form-urlencoded` (what `curl -d` sends; Flink reads the bytes as JSON, and so does the gateway) or none, a multipart body to an endpoint other than jar upload and job submission, or a `Content-Encoding`. Refused and recorded as a failed event.',
  },
  FT_ERR_ROUTE_NOT_FOUND: {
    status: 404,
    message: 'No such route: %s %s',
    doc: 'The API has no such route.',
  },
  FT_ERR_REQUEST_INVALID: {
    status: 400,
    message: 'The request is invalid: %s',
    doc: 'The request body or parameters do not fit the API (invalid JSON, wrong types).',
  },
  FT_ERR_CONSOLE_NOT_BUILT: {
    status: 503,
    message: 'The web console is not built (no index.html in %s). Run npm run build (or npm ci, which builds it).',
    doc: 'The console page was requested from a checkout or package whose console/dist is missing. The API works without it.',
  },
  FT_ERR_REQUEST_TOO_LARGE: {
    status: 413,
    message: 'The request body is too large: %s',
    doc: 'The body exceeds the route\'s limit (10 MiB for most of the API; see the route\'s reference).',
  },
  FT_ERR_REQUEST_UNSUPPORTED_TYPE: {
    status: 415,
    message: 'The content type %s is not accepted here; send application/json.',
    doc: 'The API takes JSON bodies (and JSON lines where documented).',
  },
  FT_ERR_KEYS_UNKNOWN_USER: {
    status: 400,
    message: 'No user named %s.',
    doc: 'An AccessKey was requested for a user that does not exist and creation was not asked for.',
  },
  FT_ERR_CLI_NO_ENDPOINT: {
    status: 400,
    message: 'No FlinkTrail endpoint given: use --endpoint, a profile, or FLINKTRAIL_ENDPOINT.',
    doc: 'A CLI command that talks to a running server did not get its address and key.',
  },
  FT_ERR_TRAIL_INVALID_NAME: {
    status: 400,
    message: 'Invalid trail name %s: 6-36 characters, starting with a lowercase letter; only lowercase letters, digits, - and _.',
    doc: "CreateTrail with a name that breaks ActionTrail's naming rules.",
  },
  FT_ERR_TRAIL_INVALID_PARAMETER: {
    status: 400,
    message: 'Invalid trail parameter %s: %s',
    doc: 'A trail request has a bad value (EventRW not Read/Write/All, DigestInterval out of range, unknown field, ...).',
  },
  FT_ERR_TRAIL_NO_DESTINATION: {
    status: 400,
    message: 'A trail needs at least one destination (s3://, kafka[+ssl|+sasl_ssl]://, syslog+tcp://, syslog+tls://, relp[+tls]://, file:// or local).',
    doc: 'CreateTrail or UpdateTrail without any destination.',
  },
  FT_ERR_TRAIL_INVALID_DESTINATION: {
    status: 400,
    message: 'Invalid destination %s: %s',
    doc: 'A destination URL that cannot be used: unknown scheme, missing bucket, host, port or topic, relative file path, unknown option. Credentials in the URL are never echoed.',
  },
  FT_ERR_TRAIL_UNKNOWN_REGION: {
    status: 400,
    message: 'Unknown region %s in TrailRegion. Known regions: %s',
    doc: 'TrailRegion names a region that is neither the default region, a cluster region nor listed in trails.knownRegions.',
  },
  FT_ERR_REGION_UNKNOWN: {
    status: 400,
    message: 'Unknown region %s for the global events storage region. Known regions: %s',
    doc: 'UpdateGlobalEventsStorageRegion names a region that is neither the home region (`region`), a cluster region nor listed in trails.knownRegions (docs/reference/accounts.md#regions).',
  },
  FT_ERR_REGION_MANAGEMENT_ONLY: {
    status: 403,
    apiCode: 'NoPermission',
    message: 'Only the management account (%s) may change the global events storage region.',
    doc: "UpdateGlobalEventsStorageRegion was called by an admin of a member account: the setting is the whole instance's. Answered and recorded with ActionTrail's code `NoPermission`.",
  },
  FT_ERR_TRAIL_ALREADY_EXISTS: {
    status: 409,
    message: 'A trail named %s already exists.',
    doc: 'Trail names are unique across all accounts of a FlinkTrail (as bucket names are): pick another name.',
  },
  FT_ERR_TRAIL_NOT_FOUND: {
    status: 404,
    message: 'No trail named %s.',
    doc: 'The trail does not exist (or was deleted).',
  },
  FT_ERR_TRAIL_HISTORY_JOB_RUNNING: {
    status: 409,
    message: 'Delivery history job %s (trail %s) is still running; only one job at a time per account.',
    doc: 'CreateDeliveryHistoryJob while another job is initializing or delivering, as in ActionTrail. Wait for it to finish (ListDeliveryHistoryJobs).',
  },
  FT_ERR_TRAIL_MANAGEMENT_ONLY: {
    status: 403,
    apiCode: 'NoPermission',
    message: 'Only a principal of the management account may %s.',
    doc: 'A member account asked for what reaches every account: a multi-account trail (`IsOrganizationTrail`) or a new digest signing key. Ask an administrator of the management account (docs/reference/trails.md#accounts). Answered with ActionTrail\'s code `NoPermission`.',
  },
  FT_ERR_TRAIL_VALIDATION_INPUT: {
    status: 400,
    message: 'validate-logs cannot run: %s',
    doc: 'validate-logs got no usable input (trail has no file or bucket destination, bad time, unreadable public keys file, no local copy).',
  },
  FT_ERR_TRAIL_UNDELIVERABLE: {
    status: 500,
    message: 'The event cannot be delivered to this destination: %s',
    doc: 'A delivery failed for a reason that retrying cannot fix (an event whose region cannot be part of an object key, a record the destination refuses as such). The event is set aside as a dead letter (GetTrailStatus `DeadLetters`, `flinktrail trails dead-letters`, event `TrailEventDeadLettered`) and delivery goes on with the next one. See docs/reference/trails.md.',
  },
  FT_ERR_TRAIL_LEASE_LOST: {
    status: 409,
    message: 'This instance no longer holds the delivery lease of trail %s; another instance delivers it.',
    doc: 'Trail delivery runs on exactly one instance per trail, the holder of its lease (`trails.leaseSeconds`). An instance that could not renew its lease in time (paused, cut off from the database) finds it taken and stops delivering that trail; nothing it had not recorded counts as delivered, and the new holder goes on from the last recorded position. Logged, never answered to a caller.',
  },
  FT_ERR_INGEST_TOO_LARGE: {
    status: 413,
    message: 'The request body is larger than %s bytes.',
    doc: 'An ingest or Kubernetes audit body exceeds `ingest.maxBodyBytes` / `k8sAudit.maxBodyBytes`. Nothing of it was recorded; split the batch.',
  },
  FT_ERR_INGEST_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    message: 'Content type %s is not accepted here: send application/json or application/x-ndjson (JSON lines).',
    doc: 'The body of an ingest or Kubernetes audit call has a content type other than JSON or JSON lines.',
  },
  FT_ERR_INGEST_INVALID_BODY: {
    status: 400,
    message: 'The body is not valid %s: %s',
    doc: 'The body could not be parsed at all (not JSON, not an array, a JSON line that is not an object). Nothing was recorded.',
  },
  FT_ERR_INGEST_TOO_MANY_EVENTS: {
    status: 413,
    message: 'The batch has %s events; at most %s are accepted per request.',
    doc: 'POST /api/v1/events got more records than `ingest.maxEvents`. Nothing was recorded; split the batch.',
  },
  FT_ERR_INGEST_INVALID_EVENT: {
    status: 400,
    message: 'Record %s is invalid: %s',
    doc: 'One record of an ingest batch does not match schema/actiontrail-event.schema.json (or has outcome `pending`). Reported per record in `rejected`; the valid records of the batch are still recorded.',
  },
  FT_ERR_INGEST_FOREIGN_ACCOUNT: {
    status: 403,
    message: 'Record %s is refused: it names account %s, and your key may ingest only into account %s.',
    doc: "An ingested record's `recipientAccountId` names another account than the caller's, and the caller belongs to a member account (a member's key ingests only into its own account; the management account's into any). Reported per record in `rejected`; the rest of the batch is recorded. Leave `recipientAccountId` out to ingest into your own account.",
  },
  FT_ERR_INGEST_INVALID_NAME: {
    status: 400,
    message: 'Record %s is invalid: %s %s',
    doc: 'A field of an ingested record that becomes part of a path, object key or file name (`acsRegion`, `userIdentity.accountId`, `additionalEventData.cluster`) breaks the naming rule (docs/reference/ingest.md). Reported per record in `rejected`; the valid records of the batch are still recorded.',
  },
  FT_ERR_KUBERNETES_INVALID_BODY: {
    status: 400,
    message: 'The body is not a Kubernetes audit EventList: %s',
    doc: 'The webhook body is JSON but not an `EventList` (wrong `kind`, `items` missing or not a list). Nothing was recorded.',
  },
  FT_ERR_KUBERNETES_UNSUPPORTED_VERSION: {
    status: 400,
    message: 'Audit apiVersion %s is not supported: send audit.k8s.io/v1 (or audit.k8s.io/v1beta1).',
    doc: 'The EventList (or an event in it) has an `apiVersion` other than `audit.k8s.io/v1` or `v1beta1`. Set `--audit-webhook-version=audit.k8s.io/v1` on the API server.',
  },
  FT_ERR_KUBERNETES_INVALID_EVENT: {
    status: 400,
    message: 'Audit event %s is invalid: %s',
    doc: 'One event of a batch lacks a required field (auditID, stage, verb, user, timestamps) or has a bad value. Reported per event in `rejected`; the other events are recorded.',
  },
  FT_ERR_KUBERNETES_INVALID_PARAMETER: {
    status: 400,
    message: 'Invalid parameter %s: %s',
    doc: 'A query parameter of POST /k8s-audit (`cluster`, `region`, `format`) has a bad value.',
  },
  FT_ERR_KUBERNETES_CLUSTER_MISMATCH: {
    status: 403,
    message: 'This token may only deliver audit events of cluster %s.',
    doc: 'A bearer token bound to one Kubernetes cluster (`k8sAudit.bearerTokens[].cluster`) was used with `?cluster=` naming another. Refused and recorded.',
  },
  FT_ERR_SECRETS_MASTER_KEY: {
    status: 500,
    message: 'The master key %s cannot be used: %s',
    doc: 'Startup (or `flinktrail secrets rotate`) refused: `secrets.masterKey` (or a `secrets.previousKeys` entry) names a file or environment variable that is missing, not 32 bytes in base64 or hex, or a file inside the data directory. See docs/reference/secrets.md.',
  },
  FT_ERR_SECRETS_UNKNOWN_KEY: {
    status: 500,
    message: 'A stored secret is sealed with master key %s, which is not configured (configured: %s).',
    doc: 'The database (or a digest key file) holds a secret wrapped by a master key that is neither `secrets.masterKey` nor in `secrets.previousKeys` — e.g. a data directory moved to another host without its key. Configure that key (as `previousKeys` to re-wrap it with `flinktrail secrets rotate`).',
  },
  FT_ERR_SECRETS_CORRUPT: {
    status: 500,
    message: 'A stored secret cannot be opened: %s',
    doc: 'A sealed value does not authenticate (damaged, or copied from another place). Nothing is done with it; give the secret again (e.g. UpdateTrail with the destination\'s credentials).',
  },
  FT_ERR_SECRETS_REFERENCE: {
    status: 500,
    message: 'The secret reference %s cannot be resolved: %s',
    doc: 'A secret given as `env:NAME` or `file:/path` (a destination credential, a master key) names an unset variable or an unreadable file.',
  },
  FT_ERR_RPC_MISSING_PARAMETER: {
    status: 400,
    apiCode: 'MissingParameter',
    message: 'The input parameter %s that is mandatory for processing this request is not supplied.',
    doc: 'ActionTrail-compatible RPC endpoint (docs/reference/actiontrail-api.md): a required parameter is absent — `Action` (or `x-acs-action`), `Version`, the signature\'s own parameters, or one the action needs (`Name`, `LookupAttribute.N.Value`, ...).',
  },
  FT_ERR_RPC_INVALID_PARAMETER: {
    status: 400,
    apiCode: 'InvalidParameter',
    message: 'The specified parameter %s is not valid: %s',
    doc: 'RPC endpoint: a parameter has a bad value, is unknown to the action, is given twice, or is a malformed list (`LookupAttribute.x.Key`, a gap in the numbering, more entries than allowed).',
  },
  FT_ERR_RPC_INVALID_ACTION: {
    status: 404,
    apiCode: 'InvalidAction.NotFound',
    message: 'Specified api %s is not found, please check your url and method.',
    doc: 'RPC endpoint: the `Action` is not one FlinkTrail implements (see docs/reference/actiontrail-api.md for the list).',
  },
  FT_ERR_RPC_INVALID_VERSION: {
    status: 400,
    apiCode: 'InvalidVersion',
    message: 'Specified parameter Version %s is not valid; this endpoint serves 2020-07-06.',
    doc: 'RPC endpoint: the `Version` (or `x-acs-version`) is not ActionTrail\'s 2020-07-06.',
  },
  FT_ERR_RPC_INCOMPLETE_SIGNATURE: {
    status: 400,
    apiCode: 'IncompleteSignature',
    message: 'The request signature does not conform to Alibaba Cloud standards: %s',
    doc: 'RPC endpoint: no signature, an unsupported `SignatureMethod`/`SignatureVersion`, a malformed `ACS3-HMAC-SHA256` Authorization header, an unsigned `host` or `x-acs-*` header, or a body whose SHA-256 is not `x-acs-content-sha256`. Recorded as a failed sign-in.',
  },
  FT_ERR_RPC_SIGNATURE_MISMATCH: {
    status: 400,
    apiCode: 'SignatureDoesNotMatch',
    message: 'Specified signature is not matched with our calculation. server string to sign is:%s',
    doc: 'RPC endpoint: the signature is not the HMAC of the request under the AccessKey\'s secret (wrong secret, or a parameter or header changed on the way). The string to sign is in the message, never the secret. Recorded as a failed sign-in.',
  },
  FT_ERR_RPC_TIMESTAMP_FORMAT: {
    status: 400,
    apiCode: 'InvalidTimeStamp.Format',
    message: 'Specified time stamp %s does not match the format YYYY-MM-DDThh:mm:ssZ (UTC).',
    doc: 'RPC endpoint: `Timestamp` (V1) or `x-acs-date` (V3) is not an ISO 8601 UTC time.',
  },
  FT_ERR_RPC_TIMESTAMP_EXPIRED: {
    status: 400,
    apiCode: 'InvalidTimeStamp.Expired',
    message: 'Specified time stamp %s is more than 15 minutes away from the server time %s.',
    doc: 'RPC endpoint: the request was signed more than 15 minutes before (or after) it arrived — a replay, or a client clock that is off. Recorded as a failed sign-in.',
  },
  FT_ERR_RPC_NONCE_USED: {
    status: 400,
    apiCode: 'SignatureNonceUsed',
    message: 'Specified signature nonce was used already.',
    doc: 'RPC endpoint: a signed request was sent again (same AccessKey and `SignatureNonce`/`x-acs-signature-nonce` within 15 minutes). Nonces are stored durably, so a restart does not reopen the window. Recorded as a failed sign-in.',
  },
  FT_ERR_RPC_KEY_NOT_FOUND: {
    status: 404,
    apiCode: 'InvalidAccessKeyId.NotFound',
    message: 'Specified access key is not found.',
    doc: 'RPC endpoint: no AccessKey with this id. Recorded as a failed sign-in with the claimed id.',
  },
  FT_ERR_RPC_KEY_INACTIVE: {
    status: 400,
    apiCode: 'InvalidAccessKeyId.Inactive',
    message: 'Specified access key is disabled.',
    doc: 'RPC endpoint: the AccessKey is Inactive, or its user is disabled. Recorded as a failed sign-in.',
  },
  FT_ERR_RPC_KEY_NOT_SIGNABLE: {
    status: 400,
    message: 'AccessKey %s was made before FlinkTrail kept secrets for request signatures; rotate it (POST /api/v1/keys/<id>/rotate) or make a new one (flinktrail keys create) and sign with the new pair.',
    doc: 'RPC endpoint: keys made by FlinkTrail versions before the RPC endpoint have only a hash of their secret, which cannot check an HMAC signature. HTTP Basic still works with them. Recorded as a failed sign-in.',
  },
  FT_ERR_RPC_THROTTLED: {
    status: 400,
    apiCode: 'Throttling.User',
    message: 'Request was denied due to user flow control. Retry after %s ms.',
    doc: 'RPC endpoint: the AccessKey exceeded `actiontrailApi.rateLimit` (off by default). Status 400 as in Alibaba Cloud; `x-acs-retry-after` (milliseconds, read by the SDKs) and `Retry-After` (seconds) say when to retry. Recorded.',
  },
  FT_ERR_RPC_UNSUPPORTED_MEDIA_TYPE: {
    status: 400,
    apiCode: 'InvalidParameter',
    message: 'The content type %s is not accepted here; send parameters in the query or an application/x-www-form-urlencoded body.',
    doc: 'RPC endpoint: a POST body that is not a form (e.g. JSON).',
  },
  FT_ERR_SERVER_INTERNAL: {
    status: 500,
    message: 'An internal error occurred. The request id is in the log.',
    doc: 'Anything unexpected. Details are logged with the request id, never sent to the client.',
  },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

function format(template: string, args: readonly unknown[]): string {
  let i = 0;
  return template.replace(/%s/g, () => {
    const v = args[i++];
    return typeof v === 'string' ? v : v === undefined ? '' : JSON.stringify(v);
  });
}

/** The one error type that crosses module boundaries; the HTTP layer maps it to a response. */
export class FlinkTrailError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  /** What clients see as `Code` and events record as `errorCode`. */
  readonly apiCode: string;
  /** What the message was made from (so that an error can cross a thread and be made again). */
  readonly args: unknown[];

  constructor(code: ErrorCode, ...args: unknown[]) {
    super(format(ERRORS[code].message, args));
    this.args = args;
    this.name = 'FlinkTrailError';
    this.code = code;
    this.status = ERRORS[code].status;
    const spec: ErrorSpec = ERRORS[code];
    this.apiCode = spec.apiCode ?? code;
  }
}

export function isFlinkTrailError(err: unknown): err is FlinkTrailError {
  return err instanceof FlinkTrailError;
}

/** ActionTrail's error body. */
export interface ErrorBody {
  RequestId: string;
  Code: string;
  Message: string;
}

export function errorBody(requestId: string, err: FlinkTrailError): ErrorBody {
  return { RequestId: requestId, Code: err.apiCode, Message: err.message };
}
