/**
 * Per-provider throttling (relay/delivery/throttle.ts) over a provider catalogue built by the
 * same code as config/providers.yaml (config/providers.ts): a matching reply lowers the limits
 * for the rule's duration, then they double back step by step to the configured values.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { buildProviderCatalog } from '../../config/providers.js';
import { Throttle } from '../../relay/delivery/throttle.js';

const MIN = 60_000;
const T0 = Date.UTC(2026, 11, 7, 8, 0, 0);

const catalog = buildProviderCatalog({
  defaults: { max_connections: 10, messages_per_connection: 100, messages_per_minute: null },
  providers: [
    { id: 'google', name: 'Google', mx: ['*.google.com'], shaping: { max_connections: 5, messages_per_minute: 120 } },
    { id: 'orange', name: 'Orange', domains: ['orange.fr'] },
  ],
  throttle_rules: [
    { provider: 'google', match: { code: 421, enhanced: '^4\\.7\\.28$', text: 'unusual rate' }, action: { messages_per_minute: 10 }, duration: '30m' },
    { provider: 'orange', match: { code: 421, text: 'trop de connexions' }, action: { max_connections: 1 }, duration: '15m' },
    { match: { code: 421, enhanced: '^4\\.7\\.0$', text: 'too many' }, action: { factor: 0.5 }, duration: '10m' },
  ],
});
const google = catalog.get('google')!;
const orange = catalog.get('orange')!;
const other = catalog.get('other')!;

const throttle = () => new Throttle(catalog, pino({ level: 'silent' }), 5 * MIN);
const gmail421 = { code: 421, enhanced: '4.7.28', text: 'Our system has detected an unusual rate of unsolicited mail' };

describe('Throttle', () => {
  it('gives the catalogue shaping while no rule fired', () => {
    const t = throttle();
    expect(t.limits(google, T0)).toEqual({ maxConnections: 5, messagesPerConnection: 100, messagesPerMinute: 120 });
    expect(t.limits(other, T0)).toEqual({ maxConnections: 10, messagesPerConnection: 100, messagesPerMinute: null });
  });

  it('slows a provider down on its matching reply, then ramps back by doubling after the duration', () => {
    const t = throttle();
    expect(t.onReply(google, gmail421, T0)).toBe(true);
    const rate = (after: number) => t.limits(google, T0 + after).messagesPerMinute;
    expect(rate(0)).toBe(10);
    expect(rate(30 * MIN - 1)).toBe(10);
    expect(rate(30 * MIN)).toBe(20);
    expect(rate(35 * MIN)).toBe(40);
    expect(rate(40 * MIN)).toBe(80);
    expect(rate(45 * MIN)).toBe(120); // capped at the configured rate, and the adjustment is gone
    expect(t.snapshot()).toEqual({});
  });

  it('ignores successes, replies no rule matches, and rules of other providers', () => {
    const t = throttle();
    expect(t.onReply(google, { code: 250, text: 'OK' }, T0)).toBe(false);
    expect(t.onReply(google, { code: 421, enhanced: '4.7.0', text: 'Try again later' }, T0)).toBe(false);
    expect(t.onReply(orange, gmail421, T0)).toBe(false);
    expect(t.snapshot()).toEqual({});
    expect(t.limits(orange, T0).maxConnections).toBe(10);
  });

  it('a connection rule caps connections; a factor halves the rate, or the connections when the rate is unlimited', () => {
    const t = throttle();
    expect(t.onReply(orange, { code: 421, text: 'Trop de connexions, réessayez plus tard' }, T0)).toBe(true);
    expect(t.limits(orange, T0)).toMatchObject({ maxConnections: 1, messagesPerMinute: null });
    expect(t.limits(orange, T0 + 15 * MIN).maxConnections).toBe(2);

    expect(t.onReply(other, { code: 421, enhanced: '4.7.0', text: 'too many messages' }, T0)).toBe(true);
    expect(t.limits(other, T0)).toMatchObject({ maxConnections: 5, messagesPerMinute: null });
    expect(t.onReply(google, { code: 421, enhanced: '4.7.0', text: 'too many messages' }, T0)).toBe(true);
    expect(t.limits(google, T0)).toMatchObject({ maxConnections: 5, messagesPerMinute: 60 });
  });

  it('a second matching reply lowers from the limits already in force', () => {
    const t = throttle();
    t.onReply(other, { code: 421, enhanced: '4.7.0', text: 'too many' }, T0);
    t.onReply(other, { code: 421, enhanced: '4.7.0', text: 'too many' }, T0 + MIN);
    expect(t.limits(other, T0 + MIN).maxConnections).toBe(2);
  });

  it('paces a limited provider: the next message waits for its slot (here, a minute away)', async () => {
    const t = throttle();
    const ac = new AbortController();
    await t.pace('google', 1, ac.signal); // the first slot is now
    const waiting = t.pace('google', 1, ac.signal);
    ac.abort(new Error('stopped'));
    await expect(waiting).rejects.toThrow('stopped');
    await t.pace('orange', null, new AbortController().signal); // unlimited: never waits
  });
});
