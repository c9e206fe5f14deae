import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseDuration } from './duration.js';

describe('parseDuration', () => {
  it('reads plain numbers in the target unit and suffixed durations', () => {
    assert.equal(parseDuration(90, 's'), 90);
    assert.equal(parseDuration('90', 's'), 90);
    assert.equal(parseDuration('60s', 's'), 60);
    assert.equal(parseDuration('5m', 's'), 300);
    assert.equal(parseDuration('1h', 's'), 3600);
    assert.equal(parseDuration('1h30m', 'm'), 90);
    assert.equal(parseDuration('250ms', 'ms'), 250);
    assert.equal(parseDuration('2s', 'ms'), 2000);
    assert.equal(parseDuration('7d', 'd'), 7);
    assert.equal(parseDuration(' 48h ', 'd'), 2);
  });
  it('refuses what is not a whole number of the unit, and says how to write it', () => {
    assert.throws(() => parseDuration('1500ms', 's'), /not a whole number of seconds/);
    assert.throws(() => parseDuration('90m', 'h'), /not a whole number of hours/);
    assert.throws(() => parseDuration('12w', 'd'), /not a duration: write whole days or e\.g\. 60s, 5m, 1h/);
    assert.throws(() => parseDuration('-5s', 's'), /not a duration/);
    assert.throws(() => parseDuration('1.5h', 's'), /not a duration/);
    assert.throws(() => parseDuration('', 's'), /not a duration/);
    assert.throws(() => parseDuration(1.5, 's'), /not a whole number/);
    assert.throws(() => parseDuration(-1, 's'), /not a whole number/);
  });
});
