import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { newEvents } from '../../../test/helpers/events.js';
import { checkRecord } from './check.js';

const record = (patch: (r: Record<string, unknown>) => void) => {
  const r = structuredClone(newEvents(1)[0]) as unknown as Record<string, unknown>;
  patch(r);
  return r;
};

describe('ingest record checks', () => {
  it('treats empty strings in optional fields as absent', () => {
    const r = record((x) => {
      x['errorCode'] = '';
      x['errorMessage'] = '';
      (x['userIdentity'] as Record<string, unknown>)['accessKeyId'] = '';
      (x['additionalEventData'] as Record<string, unknown>)['cluster'] = '';
    });
    const out = checkRecord(r, 0);
    assert.ok('event' in out, JSON.stringify(out));
    assert.ok(!('errorCode' in out.event) && !('errorMessage' in out.event));
    assert.ok(!('accessKeyId' in out.event.userIdentity));
    assert.ok(!('cluster' in out.event.additionalEventData));
    assert.equal(r['errorCode'], '', 'the caller’s object is not changed');
  });

  it('still refuses an empty required field', () => {
    const out = checkRecord(record((x) => (x['requestId'] = '')), 4);
    assert.ok('rejected' in out);
    assert.equal(out.rejected.code, 'FT_ERR_INGEST_INVALID_EVENT');
    assert.equal(out.rejected.index, 4);
  });

  it('refuses regions, account ids and cluster names that break the naming rule, with a coded reason', () => {
    const cases: [string, (x: Record<string, unknown>) => void][] = [
      ['acsRegion', (x) => (x['acsRegion'] = '..')],
      ['acsRegion', (x) => (x['acsRegion'] = 'CN-Hangzhou')],
      ['userIdentity.accountId', (x) => ((x['userIdentity'] as Record<string, unknown>)['accountId'] = '../1')],
      ['additionalEventData.cluster', (x) => ((x['additionalEventData'] as Record<string, unknown>)['cluster'] = 'a/b')],
    ];
    for (const [field, patch] of cases) {
      const out = checkRecord(record(patch), 2);
      assert.ok('rejected' in out, field);
      assert.equal(out.rejected.code, 'FT_ERR_INGEST_INVALID_NAME');
      assert.equal(out.rejected.index, 2);
      assert.match(out.rejected.message, new RegExp(`^Record 2 is invalid: ${field.replace(/\./g, '\\.')} `));
    }
  });
});
