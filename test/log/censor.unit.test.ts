/**
 * Secrets never reach the log: secret-named keys are censored at any of the first three levels,
 * in log calls and in child-logger bindings, without touching the caller's objects.
 */
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { censorSecrets, createLogger } from '../../src/log.js';

function capture(): { lines: () => Record<string, unknown>[]; dest: Writable } {
  const chunks: string[] = [];
  const dest = new Writable({ write(c: Buffer, _e, cb) { chunks.push(c.toString()); cb(); } });
  return { dest, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('log censoring', () => {
  it('censors secret keys at three levels, leaves other fields and the caller object alone', () => {
    const { dest, lines } = capture();
    const log = createLogger('info', dest);
    const client = { name: 'mailcow', password: 'hunter2', smarthost: { auth: { user: 'u', pass: 'p4ss' }, token: 't0k' } };
    log.info({ client, authorization: 'Bearer abc', queueId: 'Q1' }, 'hello');
    const [l] = lines();
    expect(l).toMatchObject({ msg: 'hello', queueId: 'Q1', authorization: '[secret]' });
    expect(l!.client).toEqual({ name: 'mailcow', password: '[secret]', smarthost: { auth: { user: 'u', pass: '[secret]' }, token: '[secret]' } });
    expect(JSON.stringify(lines())).not.toMatch(/hunter2|p4ss|t0k|Bearer abc/);
    expect(client.password).toBe('hunter2');
    expect(client.smarthost.auth.pass).toBe('p4ss');
  });

  it('censors child-logger bindings', () => {
    const { dest, lines } = capture();
    createLogger('info', dest).child({ listmonk: { user: 'relais', token: 'sekret' } }).info('x');
    expect(lines()[0]!.listmonk).toEqual({ user: 'relais', token: '[secret]' });
    const g = capture();
    createLogger('info', g.dest).child({ a: 1 }).child({ secret: 's3' }).info('y');
    expect(g.lines()[0]).toMatchObject({ a: 1, secret: '[secret]' });
  });

  it('returns the same object when there is nothing to censor', () => {
    const o = { a: 1, b: { c: [1, 2], d: 'x' } };
    expect(censorSecrets(o)).toBe(o);
  });
});
