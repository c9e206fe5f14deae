/**
 * The IdentityStore contract (src/identity/store.ts) as tests, shared by every store:
 * `identityStoreContract(name, backend)` registers node:test cases against a fresh space per
 * test. The SQLite store runs it as a unit test (src/identity/sqlite/directory.contract.test.ts).
 * Two `open`s of one space are two instances on the same rows (two servers on one database).
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { User } from '../../src/identity/directory.js';
import type { IdentityStore, NewAccessKey } from '../../src/identity/store.js';

export interface IdentitySpace {
  open(): Promise<IdentityStore>;
  /** Closes what `open` opened and removes the space. */
  dispose(): Promise<void>;
}

export interface IdentityBackend {
  space(): Promise<IdentitySpace>;
}

const user = (id: string, name: string, extra: Partial<User> = {}): User => ({
  id,
  name,
  role: 'viewer',
  passwordHash: null,
  createdAt: 1_700_000_000_000,
  disabled: false,
  email: null,
  source: 'local',
  accountId: null,
  ...extra,
});

const key = (id: string, userId: string, createdAt = 1_700_000_000_000): NewAccessKey => ({ id, userId, secretHash: `hash-${id}`, createdAt });

export function identityStoreContract(name: string, backend: IdentityBackend): void {
  describe(`IdentityStore contract: ${name}`, () => {
    async function withStore(fn: (s: IdentityStore, space: IdentitySpace) => Promise<void>): Promise<void> {
      const space = await backend.space();
      try {
        await fn(await space.open(), space);
      } finally {
        await space.dispose();
      }
    }

    it('keeps users: by id and name, listed by name, updated only where a change names a field, deleted with their keys', () =>
      withStore(async (s) => {
        await s.insertUser(user('2000000000000002', 'zed', { role: 'admin', passwordHash: 'ph', email: 'z@example.com', source: 'oidc' }));
        await s.insertUser(user('1000000000000001', 'amy'));
        assert.deepEqual((await s.listUsers()).map((u) => u.name), ['amy', 'zed']);
        assert.deepEqual(await s.userByName('zed'), user('2000000000000002', 'zed', { role: 'admin', passwordHash: 'ph', email: 'z@example.com', source: 'oidc' }));
        assert.equal(await s.userById('nope'), undefined);
        await assert.rejects(s.insertUser(user('3000000000000003', 'amy')), 'a name is unique');

        assert.equal(await s.updateUser('2000000000000002', { disabled: true }), true);
        const zed = await s.userById('2000000000000002');
        assert.equal(zed?.disabled, true);
        assert.equal(zed?.role, 'admin');
        assert.equal(zed?.passwordHash, 'ph');
        assert.equal(await s.updateUser('2000000000000002', { disabled: false, role: 'operator', passwordHash: 'ph2' }), true);
        assert.deepEqual(
          { ...(await s.userById('2000000000000002')) },
          user('2000000000000002', 'zed', { role: 'operator', passwordHash: 'ph2', email: 'z@example.com', source: 'oidc' }),
        );
        assert.equal(await s.updateUser('nope', { role: 'admin' }), false);

        await s.insertAccessKey(key('LTAIzed', '2000000000000002'), 'sealed-zed');
        await s.putPolicy({ name: 'p', document: '{"Version":"1","Statement":[]}', description: '', createdAt: 1, updatedAt: 1 });
        await s.attachPolicy('2000000000000002', 'p');
        assert.equal(await s.deleteUser('2000000000000002'), true);
        assert.equal(await s.deleteUser('2000000000000002'), false);
        assert.equal(await s.accessKey('LTAIzed'), undefined);
        assert.equal(await s.signingSecret('LTAIzed'), undefined);
        assert.deepEqual(await s.policyNamesOf('2000000000000002'), []);
      }));

    it('keeps member accounts: unique ids and names, listed by name; a user keeps its account; an account a user names cannot be deleted', () =>
      withStore(async (s) => {
        await s.insertAccount({ id: '5000000000000005', name: 'team-b', createdAt: 2 });
        await s.insertAccount({ id: '6000000000000006', name: 'team-a', createdAt: 3 });
        assert.deepEqual(await s.listAccounts(), [
          { id: '6000000000000006', name: 'team-a', createdAt: 3 },
          { id: '5000000000000005', name: 'team-b', createdAt: 2 },
        ]);
        assert.deepEqual(await s.accountById('5000000000000005'), { id: '5000000000000005', name: 'team-b', createdAt: 2 });
        assert.equal(await s.accountById('7000000000000007'), undefined);
        await assert.rejects(s.insertAccount({ id: '7000000000000007', name: 'team-a', createdAt: 4 }), 'a name is unique');
        await assert.rejects(s.insertAccount({ id: '5000000000000005', name: 'team-c', createdAt: 4 }), 'an id is unique');

        await s.insertUser(user('2000000000000002', 'bob', { accountId: '5000000000000005' }));
        await s.insertUser(user('3000000000000003', 'mgmt'));
        assert.equal((await s.userByName('bob'))?.accountId, '5000000000000005');
        assert.equal((await s.userByName('mgmt'))?.accountId, null, 'no account: the management account');
        await assert.rejects(s.insertUser(user('4000000000000004', 'ghost', { accountId: '9000000000000009' })), 'a user names an existing account');
        await assert.rejects(s.deleteAccount('5000000000000005'), 'an account a user names stays');
        assert.equal(await s.deleteAccount('6000000000000006'), true);
        assert.equal(await s.deleteAccount('6000000000000006'), false);
        assert.deepEqual((await s.listAccounts()).map((a) => a.name), ['team-b']);
      }));

    it('keeps AccessKeys: status, last used, listed oldest first with their user name, deleted with their signing secret', () =>
      withStore(async (s) => {
        await s.insertUser(user('1000000000000001', 'amy'));
        await s.insertAccessKey(key('LTAIb', '1000000000000001', 20), 'sealed-b');
        await s.insertAccessKey(key('LTAIa', '1000000000000001', 10), undefined);
        assert.deepEqual(await s.accessKey('LTAIb'), {
          id: 'LTAIb', userId: '1000000000000001', secretHash: 'hash-LTAIb', status: 'Active', createdAt: 20, lastUsedAt: null, lastUsedIp: null,
        });
        assert.deepEqual((await s.listAccessKeys()).map((k) => [k.id, k.userName]), [['LTAIa', 'amy'], ['LTAIb', 'amy']]);
        assert.equal(await s.signingSecret('LTAIb'), 'sealed-b');
        assert.equal(await s.signingSecret('LTAIa'), undefined);

        assert.equal(await s.setAccessKeyStatus('LTAIb', 'Inactive'), true);
        assert.equal((await s.accessKey('LTAIb'))?.status, 'Inactive');
        assert.equal(await s.setAccessKeyStatus('nope', 'Inactive'), false);
        await s.touchAccessKey('LTAIb', 1234, '192.0.2.7');
        const touched = await s.accessKey('LTAIb');
        assert.equal(touched?.lastUsedAt, 1234);
        assert.equal(touched?.lastUsedIp, '192.0.2.7');

        assert.equal(await s.deleteAccessKey('LTAIb'), true);
        assert.equal(await s.deleteAccessKey('LTAIb'), false);
        assert.equal(await s.signingSecret('LTAIb'), undefined);
      }));

    it('writes a key and its signing secret together: a failed insert leaves neither', () =>
      withStore(async (s) => {
        await s.insertUser(user('1000000000000001', 'amy'));
        await assert.rejects(s.insertAccessKey(key('LTAIorphan', '9999999999999999'), 'sealed-orphan'), 'a key of no user');
        assert.equal(await s.accessKey('LTAIorphan'), undefined);
        assert.equal(await s.signingSecret('LTAIorphan'), undefined);

        await s.insertAccessKey(key('LTAIk', '1000000000000001'), 'sealed-first');
        await assert.rejects(s.insertAccessKey(key('LTAIk', '1000000000000001', 99), 'sealed-second'), 'a key id is unique');
        assert.equal(await s.signingSecret('LTAIk'), 'sealed-first', 'the failed insert did not replace the secret');
        assert.equal((await s.accessKey('LTAIk'))?.createdAt, 1_700_000_000_000);
      }));

    it('rotates atomically: the new key and the old one made Inactive, or nothing', () =>
      withStore(async (s) => {
        await s.insertUser(user('1000000000000001', 'amy'));
        await s.insertAccessKey(key('LTAIold', '1000000000000001'), 'sealed-old');

        assert.equal(await s.rotateAccessKey(key('LTAInew', '1000000000000001'), 'sealed-new', 'LTAImissing'), false);
        assert.equal(await s.accessKey('LTAInew'), undefined, 'no new key when the old one does not exist');
        assert.equal(await s.signingSecret('LTAInew'), undefined);

        await assert.rejects(s.rotateAccessKey(key('LTAIold', '1000000000000001'), 'sealed-x', 'LTAIold'), 'the new id collides');
        assert.equal((await s.accessKey('LTAIold'))?.status, 'Active', 'the failed rotation left the old key Active');
        assert.equal(await s.signingSecret('LTAIold'), 'sealed-old');

        assert.equal(await s.rotateAccessKey(key('LTAInew', '1000000000000001'), 'sealed-new', 'LTAIold'), true);
        assert.equal((await s.accessKey('LTAIold'))?.status, 'Inactive');
        assert.equal((await s.accessKey('LTAInew'))?.status, 'Active');
        assert.equal(await s.signingSecret('LTAInew'), 'sealed-new');
      }));

    it('keeps policies and attachments: upsert keeps createdAt, attach is idempotent, a deleted policy is detached', () =>
      withStore(async (s) => {
        await s.insertUser(user('1000000000000001', 'amy'));
        await s.putPolicy({ name: 'b', document: '{"b":1}', description: 'first', createdAt: 10, updatedAt: 10 });
        await s.putPolicy({ name: 'a', document: '{"a":1}', description: '', createdAt: 11, updatedAt: 11 });
        await s.putPolicy({ name: 'b', document: '{"b":2}', description: 'second', createdAt: 20, updatedAt: 20 });
        assert.deepEqual(await s.policy('b'), { name: 'b', document: '{"b":2}', description: 'second', createdAt: 10, updatedAt: 20 });
        assert.equal(await s.policy('nope'), undefined);
        assert.deepEqual((await s.listPolicies()).map((p) => p.name), ['a', 'b']);

        await s.attachPolicy('1000000000000001', 'b');
        await s.attachPolicy('1000000000000001', 'b');
        await s.attachPolicy('1000000000000001', 'a');
        assert.deepEqual(await s.policyNamesOf('1000000000000001'), ['a', 'b']);
        assert.deepEqual((await s.policyDocumentsOf('1000000000000001')).sort(), ['{"a":1}', '{"b":2}']);
        await s.detachPolicy('1000000000000001', 'a');
        assert.deepEqual(await s.policyNamesOf('1000000000000001'), ['b']);

        assert.equal(await s.deletePolicy('b'), true);
        assert.equal(await s.deletePolicy('b'), false);
        assert.deepEqual(await s.policyDocumentsOf('1000000000000001'), []);
      }));

    it('two instances on one space see each other\'s writes at once', () =>
      withStore(async (one, space) => {
        const two = await space.open();
        await one.insertUser(user('1000000000000001', 'amy'));
        await one.insertAccessKey(key('LTAIk', '1000000000000001'), 'sealed');
        assert.equal((await two.accessKey('LTAIk'))?.status, 'Active');
        await two.setAccessKeyStatus('LTAIk', 'Inactive');
        assert.equal((await one.accessKey('LTAIk'))?.status, 'Inactive');
      }));
  });
}
