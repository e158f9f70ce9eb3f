import { describe, it, expect } from 'vitest';
import { selectLimits, costFor, mergeLimitSets } from '../../policies/limits.js';

describe('limit selection', () => {
  const defaults = { mailbox: { messages_per_hour: 100, recipients_per_day: 1000 }, domain: { messages_per_day: 5000 } };
  const tenant = { mailbox: { messages_per_hour: 200 }, tenant: { messages_per_day: 8000, hard: true } };

  it('applies defaults < tenant < mailbox entry < run-time override', () => {
    const pick = (src: Parameters<typeof selectLimits>[0]) =>
      Object.fromEntries(selectLimits(src).map((l) => [`${l.level}.${l.name}`, l.limit]));
    expect(pick({ defaults })).toEqual({ 'mailbox.messages_per_hour': 100, 'mailbox.recipients_per_day': 1000, 'domain.messages_per_day': 5000 });
    expect(pick({ defaults, tenant })['mailbox.messages_per_hour']).toBe(200);
    expect(pick({ defaults, tenant, mailbox: { messages_per_hour: 500 } })['mailbox.messages_per_hour']).toBe(500);
    expect(pick({ defaults, tenant, mailbox: { messages_per_hour: 500 }, overrides: { mailbox: { messages_per_hour: 7 } } })['mailbox.messages_per_hour']).toBe(7);
    expect(pick({ defaults, tenant })['tenant.messages_per_day']).toBe(8000);
  });

  it('only returns the levels that apply', () => {
    expect(selectLimits({ defaults, tenant, levels: ['mailbox', 'domain'] }).some((l) => l.level === 'tenant')).toBe(false);
  });

  it('marks hard limits from the set or per limit, and each limit keeps its own set\'s hardness', () => {
    const ls = selectLimits({ defaults, tenant, mailbox: { recipients_per_day: { limit: 300, hard: true } } });
    const by = (n: string) => ls.find((l) => `${l.level}.${l.name}` === n)!;
    expect(by('tenant.messages_per_day').hard).toBe(true);
    expect(by('mailbox.recipients_per_day')).toMatchObject({ limit: 300, hard: true, unit: 'recipients', period: 'day', windowMs: 86_400_000 });
    expect(by('mailbox.messages_per_hour')).toMatchObject({ hard: false, windowMs: 3_600_000 });
    const m = mergeLimitSets({ messages_per_minute: 5, hard: true }, { messages_per_minute: 9 });
    expect(m.get('messages_per_minute')).toEqual({ limit: 9, hard: false });
  });

  it('charges 1 per message and 1 per recipient', () => {
    const [msg, rcpt] = selectLimits({ defaults: { mailbox: { messages_per_hour: 1, recipients_per_hour: 1 } } });
    expect(costFor(msg, 30)).toBe(1);
    expect(costFor(rcpt, 30)).toBe(30);
  });
});
