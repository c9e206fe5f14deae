/**
 * Identity over HTTP: console sign-in and sign-out, sign-in throttles (list, unlock), users,
 * AccessKeys and policies.
 * Every call is recorded (`isGlobal`: identity is account-wide); secrets are returned once
 * (a new AccessKey secret) and never recorded.
 */
import { isIP } from 'node:net';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Config } from '../config/index.js';
import { FlinkTrailError } from '../errors/index.js';
import { AuthError, type Authenticator, type Principal } from '../identity/authenticate.js';
import { ROLES, type Directory, type Role, type User } from '../identity/directory.js';
import { callerAccount } from '../event/account.js';
import { SUBJECT_METHOD } from '../identity/rate-limit.js';
import { hashPassword } from '../identity/secrets.js';
import { SESSION_COOKIE, type Sessions } from '../identity/sessions.js';
import { setSessionCookie } from './cookies.js';
import type { SignOutHook } from './oidc-routes.js';
import type { PolicyDocument } from '../policy/index.js';
import type { SourceIpResolver } from '../identity/source-ip.js';

export interface IdentityRouteDeps {
  config: Readonly<Config>;
  directory: Directory;
  authenticator: Authenticator;
  sessions: Sessions;
  resolveIp: SourceIpResolver;
  /** Single sign-on's part of signing out (oidc-routes.ts): where the browser goes next. */
  signOut?: SignOutHook;
  /** What else a member account owns (trails, …), named for a refused `accounts delete`. */
  ownedBy?: (accountId: string) => Promise<string[]>;
}

const W = 'Write' as const;
const R = 'Read' as const;

function body(req: FastifyRequest): Record<string, unknown> {
  const b = req.body;
  if (!b || typeof b !== 'object' || Array.isArray(b)) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'the body must be a JSON object');
  return b as Record<string, unknown>;
}

function str(b: Record<string, unknown>, key: string, required = true): string | undefined {
  const v = b[key];
  if (v === undefined && !required) return undefined;
  if (typeof v !== 'string' || v.length === 0 || v.length > 1024) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', `${key} must be a non-empty string`);
  return v;
}

function role(v: unknown): Role | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || !(ROLES as readonly string[]).includes(v)) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', `role must be one of ${ROLES.join(', ')}`);
  return v as Role;
}

function password(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length < 8 || v.length > 512) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'password must be 8 to 512 characters');
  return v;
}

type KeyListing = Awaited<ReturnType<Directory['listAccessKeys']>>[number];

const userView = async (d: Directory, u: User, management: string) => ({
  userName: u.name,
  principalId: u.id,
  accountId: u.accountId ?? management,
  role: u.role,
  disabled: u.disabled,
  hasPassword: u.passwordHash !== null,
  email: u.email,
  source: u.source,
  createdAt: new Date(u.createdAt).toISOString(),
  policies: await d.policyNamesOf(u.id),
});

export function identityRoutes(deps: IdentityRouteDeps) {
  const { directory, authenticator, sessions, config } = deps;
  const userRes = (name: string) => ({ 'ACS::Actiontrail::User': [name] });

  const setCookie = (req: FastifyRequest, reply: FastifyReply, value: string, maxAgeSeconds: number) => setSessionCookie(config, req, reply, value, maxAgeSeconds);

  // Accounts: a member account's admin manages its own users and keys only; everything of
  // another account answers as not found (a member does not learn what others have).
  const callerOf = (req: FastifyRequest) => callerAccount(req.principal, config.accountId);
  const isManagement = (req: FastifyRequest) => callerOf(req) === config.accountId;
  const sees = (req: FastifyRequest, u: Pick<User, 'accountId'>) => isManagement(req) || u.accountId === callerOf(req);
  const managementOnly = (req: FastifyRequest, what: string) => {
    if (!isManagement(req)) throw new FlinkTrailError('FT_ERR_ACCOUNT_DENIED', `only the management account may ${what}`);
  };
  const visibleUser = async (req: FastifyRequest, name: string): Promise<User> => {
    const u = await directory.userByName(name);
    if (!u || !sees(req, u)) throw new FlinkTrailError('FT_ERR_KEYS_UNKNOWN_USER', name);
    return u;
  };
  const visibleKey = async (req: FastifyRequest, id: string): Promise<void> => {
    const k = await directory.accessKey(id);
    const u = k && (await directory.userById(k.userId));
    if (!u || !sees(req, u)) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `AccessKey ${id}`);
  };
  /** The account a new user joins: the caller's, or (management account only) the one named. */
  const accountForNewUser = async (req: FastifyRequest, named: unknown): Promise<string | null> => {
    if (named !== undefined && (typeof named !== 'string' || !/^[0-9]{1,20}$/.test(named))) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'accountId must be an account id (digits)');
    const wanted = named ?? callerOf(req);
    if (wanted !== callerOf(req)) managementOnly(req, "create users in another account");
    if (wanted === config.accountId) return null;
    if (!(await directory.account(wanted))) throw new FlinkTrailError('FT_ERR_ACCOUNT_NOT_FOUND', wanted);
    return wanted;
  };
  /** The caller's account, as whoami says it (the console shows it and offers what it may do). */
  const accountOf = (p: Principal) => {
    const accountId = callerAccount(p, config.accountId);
    return { accountId, managementAccount: accountId === config.accountId };
  };
  const accountView = (a: { id: string; name: string; createdAt?: number }, management = false) => ({
    accountId: a.id,
    name: a.name,
    management,
    ...(a.createdAt !== undefined ? { createdAt: new Date(a.createdAt).toISOString() } : {}),
  });

  return (api: FastifyInstance): void => {
    api.post(
      '/api/v1/auth/login',
      { config: { public: true, audit: { eventName: 'ConsoleSignin', eventRW: W, eventType: 'ConsoleSignin', isGlobal: true } } },
      async (req, reply) => {
        const b = body(req);
        const userName = str(b, 'userName') as string;
        // A password typed into the user-name field must not be recorded: unknown names are hidden.
        req.auditParameters = { userName: await authenticator.recordableName(userName) };
        const ip = deps.resolveIp(req.raw.socket.remoteAddress, req.headers['x-forwarded-for']);
        let principal: Principal;
        try {
          principal = await authenticator.signIn(userName, typeof b['password'] === 'string' ? b['password'] : '', ip);
        } catch (err) {
          if (err instanceof AuthError) req.authError = err;
          throw err;
        }
        const { id, session } = await sessions.create(principal);
        req.principal = { ...principal, method: 'session', sessionCreatedAt: session.createdAt };
        setCookie(req, reply, id, Math.floor((session.expiresAt - Date.now()) / 1000));
        return { userName: principal.userName, role: principal.role, ...accountOf(principal), csrfToken: session.csrfToken, expiresAt: new Date(session.expiresAt).toISOString() };
      },
    );

    api.post('/api/v1/auth/logout', { config: { audit: { eventName: 'ConsoleSignout', eventRW: W, eventType: 'ConsoleSignout', isGlobal: true } } }, async (req, reply) => {
      const sid = req.cookies[SESSION_COOKIE];
      const session = sid ? await sessions.get(sid) : undefined;
      if (sid) await sessions.destroy(sid);
      setCookie(req, reply, '', 0);
      const next = await deps.signOut?.(req, reply, session);
      // The console sends the browser on to the provider's end_session_endpoint when there is one.
      return { signedOut: true, ...(next?.endSessionUrl ? { endSessionUrl: next.endSessionUrl } : {}) };
    });

    api.get('/api/v1/auth/session', { config: { action: 'GetCallerIdentity' } }, async (req) => {
      const p = req.principal as Principal;
      const sid = req.cookies[SESSION_COOKIE];
      const s = sid ? await sessions.get(sid) : undefined;
      return { userName: p.userName, role: p.role, method: p.method, ...accountOf(p), ...(s ? { csrfToken: s.csrfToken, expiresAt: new Date(s.expiresAt).toISOString() } : {}) };
    });

    // --- sign-in throttling: what waits, and the admin's way to end a wait
    // Throttles are per address and identity, across accounts: the management account's to see and end.
    api.get('/api/v1/auth/throttles', { config: { audit: { eventName: 'ListSignInThrottles', eventRW: R, isGlobal: true } } }, async (req) => {
      managementOnly(req, 'list sign-in throttles');
      return {
        Throttles: await Promise.all((await authenticator.throttle.list()).map(async (t) => ({
          scope: t.scope,
          sourceIp: t.sourceIp,
          ...(t.subject ? { method: SUBJECT_METHOD[t.subject.kind], identity: t.subject.kind === 'user' ? await authenticator.recordableName(t.subject.name) : t.subject.name } : {}),
          failures: t.failures,
          retryAfterSeconds: Math.ceil(t.waitMs / 1000),
          until: new Date(t.until).toISOString(),
        }))),
      };
    });
    api.post('/api/v1/auth/unlock', { config: { audit: { eventName: 'UnlockSignIn', eventRW: W, isGlobal: true, sensitive: true } } }, async (req) => {
      const b = body(req);
      const sourceIp = str(b, 'sourceIp', false);
      const identity = str(b, 'identity', false);
      managementOnly(req, 'end sign-in throttles');
      if (sourceIp === undefined && identity === undefined) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'give sourceIp, identity or both');
      if (sourceIp !== undefined && isIP(sourceIp) === 0) throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'sourceIp must be an IPv4 or IPv6 address');
      const cleared = await authenticator.throttle.clear({ ...(sourceIp !== undefined ? { sourceIp } : {}), ...(identity !== undefined ? { name: identity } : {}) });
      const recorded = identity === undefined ? undefined : await authenticator.recordableName(identity);
      req.auditParameters = { ...(sourceIp !== undefined ? { sourceIp } : {}), ...(recorded !== undefined ? { identity: recorded } : {}), cleared };
      if (recorded !== undefined) req.auditResources = userRes(recorded);
      return { cleared };
    });

    // --- accounts (docs/reference/accounts.md)
    // Listing is an audit read (admins and auditors, src/policy): the management account's see
    // every account, a member's its own only; creating and deleting are the management admins'.
    api.get('/api/v1/accounts', { config: { audit: { eventName: 'ListAccounts', eventRW: R, isGlobal: true } } }, async (req) => {
      const members = await directory.listAccounts();
      if (!isManagement(req)) return { Accounts: members.filter((a) => a.id === callerOf(req)).map((a) => accountView(a)) };
      return { Accounts: [accountView({ id: config.accountId, name: 'management' }, true), ...members.map((a) => accountView(a))] };
    });
    api.post('/api/v1/accounts', { config: { audit: { eventName: 'CreateAccount', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      const name = str(body(req), 'name') as string;
      req.auditParameters = { name };
      managementOnly(req, 'create accounts');
      const a = await directory.createAccount(name, config.accountId);
      req.auditResources = { 'ACS::Actiontrail::Account': [a.id] };
      void reply.code(201);
      return accountView(a);
    });
    api.delete<{ Params: { id: string } }>('/api/v1/accounts/:id', { config: { audit: { eventName: 'DeleteAccount', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      const id = req.params.id;
      req.auditResources = { 'ACS::Actiontrail::Account': [id.slice(0, 20)] };
      managementOnly(req, 'delete accounts');
      if (id === config.accountId) throw new FlinkTrailError('FT_ERR_ACCOUNT_DENIED', 'the management account is configuration (accountId) and cannot be deleted');
      const clusters = config.clusters.filter((c) => c.account === id).map((c) => `cluster ${c.name}`);
      await directory.deleteAccount(id, [...clusters, ...((await deps.ownedBy?.(id)) ?? [])]);
      void reply.code(204);
    });

    // --- users
    api.get('/api/v1/users', { config: { audit: { eventName: 'ListUsers', eventRW: R, isGlobal: true } } }, async (req) => ({
      Users: await Promise.all((await directory.listUsers()).filter((u) => sees(req, u)).map((u) => userView(directory, u, config.accountId))),
    }));
    api.post('/api/v1/users', { config: { audit: { eventName: 'CreateUser', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      const b = body(req);
      const userName = str(b, 'userName') as string;
      const r = role(b['role']) ?? 'viewer';
      const pw = password(b['password']);
      const accountId = await accountForNewUser(req, b['accountId']);
      req.auditParameters = { userName, role: r, passwordSet: pw !== undefined, ...(accountId ? { accountId } : {}) };
      req.auditResources = userRes(userName);
      if (await directory.userByName(userName)) throw new FlinkTrailError('FT_ERR_IDENTITY_INVALID', `user ${userName} exists`);
      const u = await directory.createUser(userName, r, pw ? await hashPassword(pw) : undefined, false, { accountId });
      void reply.code(201);
      return userView(directory, u, config.accountId);
    });
    api.patch<{ Params: { name: string } }>('/api/v1/users/:name', { config: { audit: { eventName: 'UpdateUser', eventRW: W, isGlobal: true, sensitive: true } } }, async (req) => {
      const b = body(req);
      const r = role(b['role']);
      const pw = password(b['password']);
      if (b['disabled'] !== undefined && typeof b['disabled'] !== 'boolean') throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'disabled must be true or false');
      req.auditParameters = { ...(r ? { role: r } : {}), ...(pw ? { passwordSet: true } : {}), ...(b['disabled'] !== undefined ? { disabled: b['disabled'] } : {}) };
      req.auditResources = userRes(req.params.name);
      await visibleUser(req, req.params.name);
      const u = await directory.updateUser(req.params.name, {
        ...(r ? { role: r } : {}),
        ...(pw ? { passwordHash: await hashPassword(pw) } : {}),
        ...(typeof b['disabled'] === 'boolean' ? { disabled: b['disabled'] } : {}),
      });
      return userView(directory, u, config.accountId);
    });
    api.delete<{ Params: { name: string } }>('/api/v1/users/:name', { config: { audit: { eventName: 'DeleteUser', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      req.auditResources = userRes(req.params.name);
      await visibleUser(req, req.params.name);
      if (!(await directory.deleteUser(req.params.name))) throw new FlinkTrailError('FT_ERR_IDENTITY_NOT_FOUND', `user ${req.params.name}`);
      void reply.code(204);
    });

    // --- AccessKeys
    const keyView = (k: KeyListing) => ({
      accessKeyId: k.id,
      userName: k.userName,
      status: k.status,
      createdAt: new Date(k.createdAt).toISOString(),
      lastUsedAt: k.lastUsedAt ? new Date(k.lastUsedAt).toISOString() : null,
      lastUsedIp: k.lastUsedIp,
    });
    api.get('/api/v1/keys', { config: { audit: { eventName: 'ListAccessKeys', eventRW: R, isGlobal: true } } }, async (req) => {
      const users = new Map((await directory.listUsers()).map((u) => [u.id, u]));
      return { AccessKeys: (await directory.listAccessKeys()).filter((k) => sees(req, users.get(k.userId) ?? { accountId: '' })).map(keyView) };
    });
    api.post('/api/v1/keys', { config: { audit: { eventName: 'CreateAccessKey', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      const userName = str(body(req), 'userName') as string;
      req.auditParameters = { userName };
      await visibleUser(req, userName);
      const k = await directory.createAccessKey(userName);
      req.auditResources = { ...userRes(userName), 'ACS::Actiontrail::AccessKey': [k.accessKeyId] };
      void reply.code(201);
      return { accessKeyId: k.accessKeyId, accessKeySecret: k.accessKeySecret, userName };
    });
    api.patch<{ Params: { id: string } }>('/api/v1/keys/:id', { config: { audit: { eventName: 'UpdateAccessKey', eventRW: W, isGlobal: true, sensitive: true } } }, async (req) => {
      const status = body(req)['status'];
      if (status !== 'Active' && status !== 'Inactive') throw new FlinkTrailError('FT_ERR_REQUEST_INVALID', 'status must be Active or Inactive');
      req.auditParameters = { status };
      req.auditResources = { 'ACS::Actiontrail::AccessKey': [req.params.id] };
      await visibleKey(req, req.params.id);
      await directory.setAccessKeyStatus(req.params.id, status);
      return keyView((await directory.listAccessKeys()).find((k) => k.id === req.params.id) as KeyListing);
    });
    api.delete<{ Params: { id: string } }>('/api/v1/keys/:id', { config: { audit: { eventName: 'DeleteAccessKey', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      req.auditResources = { 'ACS::Actiontrail::AccessKey': [req.params.id] };
      await visibleKey(req, req.params.id);
      await directory.deleteAccessKey(req.params.id);
      void reply.code(204);
    });
    api.post<{ Params: { id: string } }>('/api/v1/keys/:id/rotate', { config: { audit: { eventName: 'RotateAccessKey', eventRW: W, isGlobal: true, sensitive: true } } }, async (req) => {
      await visibleKey(req, req.params.id);
      const r = await directory.rotateAccessKey(req.params.id);
      req.auditResources = { 'ACS::Actiontrail::AccessKey': [req.params.id, r.accessKeyId], ...userRes(r.user.name) };
      return { accessKeyId: r.accessKeyId, accessKeySecret: r.accessKeySecret, userName: r.user.name, previousAccessKeyId: r.previous, previousStatus: 'Inactive' };
    });

    // --- policies
    api.get('/api/v1/policies', { config: { audit: { eventName: 'ListPolicies', eventRW: R, isGlobal: true } } }, async () => ({
      Policies: (await directory.listPolicies()).map((p) => ({ ...p, createdAt: new Date(p.createdAt).toISOString(), updatedAt: new Date(p.updatedAt).toISOString() })),
    }));
    api.put<{ Params: { name: string } }>('/api/v1/policies/:name', { config: { audit: { eventName: 'CreatePolicy', eventRW: W, isGlobal: true, sensitive: true } } }, async (req) => {
      const b = body(req);
      const description = b['description'] === undefined ? '' : String(str(b, 'description'));
      req.auditParameters = { document: b['document'], description };
      req.auditResources = { 'ACS::Actiontrail::Policy': [req.params.name] };
      managementOnly(req, 'create or change policies (every account attaches them)');
      return directory.putPolicy(req.params.name, b['document'] as PolicyDocument, description);
    });
    api.delete<{ Params: { name: string } }>('/api/v1/policies/:name', { config: { audit: { eventName: 'DeletePolicy', eventRW: W, isGlobal: true, sensitive: true } } }, async (req, reply) => {
      req.auditResources = { 'ACS::Actiontrail::Policy': [req.params.name] };
      managementOnly(req, 'delete policies (every account attaches them)');
      await directory.deletePolicy(req.params.name);
      void reply.code(204);
    });
    api.post<{ Params: { name: string } }>('/api/v1/users/:name/policies', { config: { audit: { eventName: 'AttachPolicyToUser', eventRW: W, isGlobal: true, sensitive: true } } }, async (req) => {
      const policyName = str(body(req), 'policyName') as string;
      req.auditParameters = { policyName };
      req.auditResources = { ...userRes(req.params.name), 'ACS::Actiontrail::Policy': [policyName] };
      await visibleUser(req, req.params.name);
      await directory.attachPolicy(req.params.name, policyName);
      return { userName: req.params.name, policies: await directory.policyNamesOf(((await directory.userByName(req.params.name)) as { id: string }).id) };
    });
    api.delete<{ Params: { name: string; policy: string } }>(
      '/api/v1/users/:name/policies/:policy',
      { config: { audit: { eventName: 'DetachPolicyFromUser', eventRW: W, isGlobal: true, sensitive: true } } },
      async (req, reply) => {
        req.auditResources = { ...userRes(req.params.name), 'ACS::Actiontrail::Policy': [req.params.policy] };
        await visibleUser(req, req.params.name);
        await directory.detachPolicy(req.params.name, req.params.policy);
        void reply.code(204);
      },
    );
  };
}
