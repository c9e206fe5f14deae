import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { configMarkdown } from '../config/print-docs.js';
import { ERRORS, FlinkTrailError } from './index.js';
import { errorsMarkdown } from './print-docs.js';

describe('coded errors', () => {
  it('every code is FT_ERR_<AREA>_<WHAT> with a status and docs', () => {
    for (const [code, e] of Object.entries(ERRORS)) {
      assert.match(code, /^FT_ERR_[A-Z]+_[A-Z_]+$/);
      assert.ok(e.status >= 400 && e.status < 600);
      assert.ok(e.doc.length > 10);
    }
  });
  it('formats arguments into the message', () => {
    const e = new FlinkTrailError('FT_ERR_QUERY_INVALID_PARAMETER', 'maxResults', 'too big');
    assert.equal(e.message, 'Invalid parameter maxResults: too big');
    assert.equal(e.status, 400);
  });
  it('docs/reference/errors.md and config.md are in step with the code', () => {
    assert.equal(readFileSync(new URL('../../docs/reference/errors.md', import.meta.url), 'utf8'), errorsMarkdown());
    assert.equal(readFileSync(new URL('../../docs/reference/config.md', import.meta.url), 'utf8'), configMarkdown());
  });
});
