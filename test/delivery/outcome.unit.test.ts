/**
 * Delivery bookkeeping (relay/delivery/outcome.ts): what one attempt's per-recipient results do to
 * the envelope (the reply class alone decides bounce or retry), the retry schedule, and the DSN
 * status of a failed recipient (relay/bounce/dsn.ts).
 */
import { describe, expect, it } from 'vitest';
import { dsnStatus } from '../../relay/bounce/dsn.js';
import { applyResults, retryDelay } from '../../relay/delivery/outcome.js';
import type { ReplyClass } from '../../relay/delivery/reply-class.js';
import type { Envelope, RecipientState } from '../../relay/spool/envelope.js';
import type { RecipientResult } from '../../relay/delivery/session.js';

const T0 = Date.UTC(2026, 11, 7, 8, 0, 0);
const DAY = 86_400_000;

function envelope(addresses: string[]): Envelope {
  return {
    id: 'B7K2QX9F3M',
    rev: 1,
    state: 'active',
    from: 'alice@laruche.example',
    recipients: addresses.map((address) => ({ address, status: 'pending', attempts: 0 })),
    receivedAt: T0,
    size: 2048,
    client: { address: '127.0.0.1', tls: true },
    nextAttemptAt: T0,
    attempts: [],
  } as Envelope;
}

const later: ReplyClass = { category: 'other', permanent: false, scope: 'message', provider: 'other' };
const unknown: ReplyClass = { category: 'invalid_recipient', permanent: true, scope: 'recipient', provider: 'other' };
const ok = (address: string): RecipientResult => ({ address, delivered: true, reply: { code: 250, enhanced: '2.0.0', text: 'OK queued' }, phase: 'data' });
const soft = (address: string, text = 'Try again later'): RecipientResult => ({ address, delivered: false, reply: { code: 451, enhanced: '4.7.1', text }, phase: 'rcpt', class: later });
const hard = (address: string): RecipientResult => ({ address, delivered: false, reply: { code: 550, enhanced: '5.1.1', text: 'No such user' }, phase: 'rcpt', class: unknown });

describe('applyResults', () => {
  it('delivered, deferred and bounced recipients, one attempt record per distinct reply', () => {
    const env = envelope(['a@x.test', 'b@x.test', 'c@x.test', 'd@x.test']);
    const now = T0 + 1000;
    const applied = applyResults(env, 'x.test', 'mx.x.test', [ok('a@x.test'), soft('b@x.test'), soft('c@x.test'), hard('d@x.test')], now, 5 * DAY);
    expect(env.recipients.map((r) => [r.address, r.status, r.attempts])).toEqual([
      ['a@x.test', 'delivered', 1],
      ['b@x.test', 'deferred', 1],
      ['c@x.test', 'deferred', 1],
      ['d@x.test', 'bounced', 1],
    ]);
    expect(env.recipients[1]!.last).toEqual({ code: 451, enhanced: '4.7.1', text: 'Try again later', remoteMta: 'mx.x.test', at: now, category: 'other', permanent: false });
    expect(env.firstDeferredAt).toBe(now);
    expect(applied.delivered.map((r) => r.address)).toEqual(['a@x.test']);
    expect(applied.bounced.map((r) => r.address)).toEqual(['d@x.test']);
    expect(applied.groups.map((g) => [g.outcome, g.phase, g.recipients])).toEqual([
      ['delivered', 'data', ['a@x.test']],
      ['deferred', 'rcpt', ['b@x.test', 'c@x.test']],
      ['bounced', 'rcpt', ['d@x.test']],
    ]);
    expect(env.attempts).toEqual([
      { at: now, domain: 'x.test', mx: 'mx.x.test', outcome: 'delivered', recipients: ['a@x.test'], reply: ok('a@x.test').reply },
      { at: now, domain: 'x.test', mx: 'mx.x.test', outcome: 'deferred', recipients: ['b@x.test', 'c@x.test'], reply: soft('b@x.test').reply },
      { at: now, domain: 'x.test', mx: 'mx.x.test', outcome: 'bounced', recipients: ['d@x.test'], reply: hard('d@x.test').reply },
    ]);
  });

  it('a temporary failure past the message lifetime bounces; the first deferral time is kept', () => {
    const env = envelope(['b@x.test']);
    applyResults(env, 'x.test', undefined, [soft('b@x.test')], T0 + 1000, 5 * DAY);
    const applied = applyResults(env, 'x.test', undefined, [soft('b@x.test')], T0 + 5 * DAY, 5 * DAY);
    expect(env.recipients[0]).toMatchObject({ status: 'bounced', attempts: 2 });
    expect(env.firstDeferredAt).toBe(T0 + 1000);
    expect(applied.bounced).toHaveLength(1);
    expect(env.attempts.map((a) => a.outcome)).toEqual(['deferred', 'bounced']);
    expect(env.attempts[0]).not.toHaveProperty('mx');
  });

  it('ignores results for recipients already finished or unknown', () => {
    const env = envelope(['a@x.test', 'b@x.test']);
    applyResults(env, 'x.test', undefined, [ok('a@x.test'), soft('b@x.test')], T0, 5 * DAY);
    const applied = applyResults(env, 'x.test', undefined, [hard('a@x.test'), ok('b@x.test'), ok('z@x.test')], T0 + 60_000, 5 * DAY);
    expect(env.recipients.map((r) => [r.status, r.attempts])).toEqual([['delivered', 1], ['delivered', 2]]);
    expect(applied.bounced).toEqual([]);
    expect(applied.delivered.map((r) => r.address)).toEqual(['b@x.test']);
  });

  it('keeps the 50 most recent attempt records', () => {
    const env = envelope(['b@x.test']);
    for (let i = 0; i < 60; i++) applyResults(env, 'x.test', undefined, [soft('b@x.test', `try ${i}`)], T0 + i * 1000, 5 * DAY);
    expect(env.attempts).toHaveLength(50);
    expect(env.attempts[0]!.reply.text).toBe('try 10');
    expect(env.attempts.at(-1)!.reply.text).toBe('try 59');
    expect(env.recipients[0]!.attempts).toBe(60);
  });
});

describe('retryDelay', () => {
  it('starts at the first delay and doubles up to the cap', () => {
    const first = 5 * 60_000;
    const max = 60 * 60_000;
    expect([0, 1, 2, 3, 4, 5, 100].map((n) => retryDelay(n, first, max) / 60_000)).toEqual([5, 5, 10, 20, 40, 60, 60]);
  });
});

describe('dsnStatus', () => {
  type Last = RecipientState['last'];
  it("is the reply's enhanced code when there is one", () => {
    expect(dsnStatus({ code: 550, enhanced: '5.7.26', text: 'DMARC', at: T0, category: 'authentication', permanent: true } as Last, false)).toBe('5.7.26');
  });
  it("otherwise 4.4.7 for an expired or temporary failure, the category's status for a permanent one", () => {
    expect(dsnStatus({ code: 451, text: 'later', at: T0, category: 'other', permanent: false }, true)).toBe('4.4.7');
    expect(dsnStatus({ code: 421, text: 'busy', at: T0 }, false)).toBe('4.4.7');
    expect(dsnStatus({ code: 554, text: 'no', at: T0, category: 'other', permanent: true }, false)).toBe('5.0.0');
    expect(dsnStatus({ code: 550, text: 'no such user', at: T0, category: 'invalid_recipient', permanent: true }, false)).toBe('5.1.1');
    expect(dsnStatus({ code: 550, text: 'full', at: T0, category: 'mailbox_full', permanent: false }, true)).toBe('4.4.7');
  });
});
