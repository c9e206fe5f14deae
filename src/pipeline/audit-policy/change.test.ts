import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import type { AuditPolicyConfig } from '../../config/index.js';
import { isFlinkTrailError } from '../../errors/index.js';
import type { ActionTrailEvent } from '../../event/types.js';
import { openDatabase } from '../../store/sqlite/database.js';
import { auditPolicyChange, DEFAULT_POLICY_HASH, POLICY_CHANGE_EVENT } from './change.js';
import { SqlitePolicyHashState } from './sqlite/state.js';
import { policyHash } from './rules.js';

const where = { accountId: '1000000000000001', region: 'local' };
const none: AuditPolicyConfig = { rules: [], coalesce: { enabled: false, windowSeconds: 60, maxKeys: 10_000 } };
const quiet: AuditPolicyConfig = { rules: [{ level: 'None', eventNames: ['GetJobsOverview'] }, { level: 'Metadata', eventRW: 'Read' }], coalesce: { enabled: true, windowSeconds: 300, maxKeys: 100 } };

describe('auditing audit policy changes', () => {
  it('records UpdateAuditPolicy once per change, with both hashes and the rule count, and keeps the hash in meta', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'ft-policy-')));
    try {
      const state = new SqlitePolicyHashState(db);
      const recorded: ActionTrailEvent[] = [];
      const record = async (e: ActionTrailEvent) => void recorded.push(e);

      assert.equal(await auditPolicyChange(none, state, record, where), false, 'a first start without a policy is no change');
      assert.equal(recorded.length, 0);

      assert.equal(await auditPolicyChange(quiet, state, record, where), true);
      const [e] = recorded as [ActionTrailEvent];
      assert.equal(e.eventName, POLICY_CHANGE_EVENT);
      assert.equal(e.eventRW, 'Write');
      assert.equal(e.additionalEventData.outcome, 'success');
      assert.equal(e.additionalEventData['previousPolicyHash'], DEFAULT_POLICY_HASH);
      assert.equal(e.additionalEventData['policyHash'], policyHash(quiet));
      assert.equal(e.additionalEventData['ruleCount'], 2);
      assert.deepEqual((e.requestParameters['rules'] as unknown[]).length, 2, 'the rules themselves, for a reader at Request level');
      assert.equal(await state.get(), policyHash(quiet));

      assert.equal(await auditPolicyChange(quiet, state, record, where), false, 'restarting with the same policy');
      assert.equal(await auditPolicyChange(none, state, record, where), true, 'back to no policy is a change too');
      assert.equal(recorded[1]?.additionalEventData['previousPolicyHash'], policyHash(quiet));
      assert.equal(recorded[1]?.additionalEventData['policyHash'], DEFAULT_POLICY_HASH);
      assert.equal(recorded.length, 2);
    } finally {
      db.close();
    }
  });

  it('refuses to start when the change cannot be recorded, and keeps the old hash so the next start records it', async () => {
    const db = openDatabase(mkdtempSync(join(tmpdir(), 'ft-policy-')));
    try {
      const state = new SqlitePolicyHashState(db);
      const failing = () => Promise.reject(new Error('disk full'));
      await assert.rejects(auditPolicyChange(quiet, state, failing, where), (err: unknown) => isFlinkTrailError(err) && err.code === 'FT_ERR_AUDIT_POLICY_UNRECORDED' && err.message.includes('disk full'));
      assert.equal(await state.get(), undefined);
      const recorded: ActionTrailEvent[] = [];
      assert.equal(await auditPolicyChange(quiet, state, async (e) => void recorded.push(e), where), true);
      assert.equal(recorded.length, 1);
    } finally {
      db.close();
    }
  });
});
