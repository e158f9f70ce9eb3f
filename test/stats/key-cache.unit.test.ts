/**
 * The recorder's key cache hands back the strings the bucket layout defines, across hour and day
 * changes (it keeps them per bucket), for any id and metric.
 */
import { describe, expect, it } from 'vitest';
import { FIELDS_MAX_BYTES, StatsKeys } from '../../src/stats/key-cache.js';
import { bucketKey, field, scopeOf, HOUR_MS, DAY_MS } from '../../src/stats/buckets.js';

describe('stats key cache', () => {
  it('gives the layout keys whatever the order of the times it is asked for', () => {
    const k = new StatsKeys();
    const t0 = Date.UTC(2026, 10, 26, 23, 59, 59);
    for (const at of [t0, t0 + 1000, t0 - HOUR_MS, t0 + DAY_MS, t0, t0 + 2 * HOUR_MS]) {
      for (const g of ['hour', 'day'] as const) {
        for (const scope of ['*', 't=la-ruche']) expect(k.bucket(g, at, scope, 's')).toBe(bucketKey(g, at, scope, 's'));
      }
    }
  });

  it('gives the layout fields and scopes, the same string each time', () => {
    const k = new StatsKeys();
    expect(k.field('alice@laruche.example', 'verdict:accept')).toBe(field('alice@laruche.example', 'verdict:accept'));
    expect(k.field('a|b', 'delivered')).toBe(field('a|b', 'delivered'));
    expect(k.field('a', 'm')).toBe(k.field('a', 'm'));
    expect(k.scope('la ruche/é')).toBe(scopeOf('la ruche/é'));
    for (let i = 0; i < 60_000; i++) expect(k.field(`id${i}`, 'delivered')).toBe(`id${i}|delivered`);
  });

  it('holds fields within a byte bound, however long the ids (recipient domains and senders come from mail)', () => {
    const k = new StatsKeys();
    let peak = 0;
    for (let i = 0; i < 20_000; i++) {
      const id = `${i}${'x'.repeat(250)}.example`;
      expect(k.field(id, 'delivered')).toBe(`${id}|delivered`);
      peak = Math.max(peak, k.fieldBytes);
    }
    expect(peak).toBeLessThanOrEqual(FIELDS_MAX_BYTES);
  });
});
