/** When a node may answer a window set's size from what it read lately (RecentCounts). */
import { describe, it, expect } from 'vitest';
import { RecentCounts } from '../../src/store/recent-counts.js';
import { WindowTrims } from '../../src/store/window-trims.js';

const DAY = 86_400_000;
const T = 1_000_000_000;

function counts() {
  let clock = 5_000;
  const c = new RecentCounts(() => clock);
  return { c, advance: (ms: number) => { clock += ms; }, now: () => clock };
}

describe('RecentCounts', () => {
  it('answers for members this node added, within staleMs of the read', () => {
    const { c, advance, now } = counts();
    expect(c.size('k', [], DAY, T, 1000)).toBeUndefined();
    c.writing('k');
    c.read('k', 7, now(), ['a', 'b'], T);
    expect(c.size('k', ['a'], DAY, T + 10, 1000)).toBe(7);
    expect(c.size('k', ['a', 'b'], DAY, T + 10, 1000)).toBe(7);
    expect(c.size('k', [], DAY, T + 10, 1000)).toBe(7);
    // A member it did not add must go to the store (it may be new there).
    expect(c.size('k', ['a', 'c'], DAY, T + 10, 1000)).toBeUndefined();
    advance(1000);
    expect(c.size('k', ['a'], DAY, T + 10, 1000)).toBe(7);
    advance(1);
    expect(c.size('k', ['a'], DAY, T + 10, 1000)).toBeUndefined();
  });

  it('sends a member again once its time in the store is a granule old', () => {
    const { c, now } = counts();
    c.read('k', 1, now(), ['a'], T);
    const g = WindowTrims.granule(DAY);
    expect(c.size('k', ['a'], DAY, T + g - 1, 1000)).toBe(1);
    expect(c.size('k', ['a'], DAY, T + g, 1000)).toBeUndefined();
    // An op time before the add is not covered either.
    expect(c.size('k', ['a'], DAY, T - 1, 1000)).toBeUndefined();
  });

  it('gives no answer while an add to the set is in flight, and forgets a set whose call failed', () => {
    const { c, now } = counts();
    c.read('k', 3, now(), ['a'], T);
    c.writing('k');
    expect(c.size('k', ['a'], DAY, T, 1000)).toBeUndefined();
    c.read('k', 4, now(), ['z'], T);
    expect(c.size('k', ['a', 'z'], DAY, T, 1000)).toBe(4);
    c.writing('k');
    c.failed('k');
    expect(c.size('k', ['a'], DAY, T, 1000)).toBeUndefined();
  });

  it('keeps the reading of the latest call sent when replies cross', () => {
    const { c, now, advance } = counts();
    const first = now();
    advance(10);
    c.read('k', 9, now(), [], T);
    c.read('k', 8, first, [], T);
    expect(c.size('k', [], DAY, T, 1000)).toBe(9);
  });
});
