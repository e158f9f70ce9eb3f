/** CallBatcher: calls made while one is in flight share the next round trip. */
import { describe, it, expect } from 'vitest';
import { CallBatcher } from '../../src/store/call-batcher.js';

function recorder(delayMs = 5) {
  const batches: number[][] = [];
  const send = async (items: number[]) => {
    batches.push(items);
    await new Promise((r) => setTimeout(r, delayMs));
    if (items.includes(-1)) throw new Error('boom');
    return items.map((x) => x * 10);
  };
  return { batches, send };
}

describe('call batcher', () => {
  it('sends a lone call at once and batches the calls made while it is in flight, in order', async () => {
    const { batches, send } = recorder();
    const b = new CallBatcher(send);
    const results = await Promise.all([1, 2, 3, 4].map((x) => b.submit('', x)));
    expect(results).toEqual([10, 20, 30, 40]);
    expect(batches).toEqual([[1], [2, 3, 4]]);
  });

  it('keeps lanes apart and caps a batch', async () => {
    const { batches, send } = recorder();
    const b = new CallBatcher(send, { maxBatch: 2 });
    await Promise.all([b.submit('a', 1), b.submit('b', 2), b.submit('a', 3), b.submit('a', 4), b.submit('a', 5)]);
    expect(batches).toEqual([[1], [2], [3, 4], [5]]);
  });

  it('fails every call of a failed batch, and goes on with the next', async () => {
    const { send } = recorder();
    const b = new CallBatcher(send);
    const first = b.submit('', 1);
    const failing = [b.submit('', -1), b.submit('', 2)];
    expect(await first).toBe(10);
    for (const f of failing) await expect(f).rejects.toThrow('boom');
    expect(await b.submit('', 3)).toBe(30);
  });

  it('lingers before a batch only once concurrent callers were seen', async () => {
    const { batches, send } = recorder(1);
    const b = new CallBatcher(send, { lingerMs: 200 });
    // One caller at a time: never waits.
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) await b.submit('', i);
    expect(Date.now() - t0).toBeLessThan(150);
    // Concurrent callers: once a batch carried several, the next one gathers for lingerMs.
    await Promise.all([10, 11, 12].map((x) => b.submit('', x)));
    const t1 = Date.now();
    const late = [b.submit('', 20)];
    await new Promise((r) => setTimeout(r, 10));
    late.push(b.submit('', 21));
    expect(await Promise.all(late)).toEqual([200, 210]);
    expect(Date.now() - t1).toBeGreaterThanOrEqual(190);
    expect(batches.at(-1)).toEqual([20, 21]);
  });
});
