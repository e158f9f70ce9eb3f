import { describe, expect, it } from 'vitest';
import { buildProviderCatalog, loadProviders } from '../../config/providers.js';

const catalog = loadProviders();

describe('providers catalog (config/providers.yaml)', () => {
  it.each([
    ['gmail-smtp-in.l.google.com', 'google'],
    ['alt2.aspmx.l.google.com', 'google'],
    ['ASPMX.L.GOOGLE.COM.', 'google'],
    ['example-org.mail.protection.outlook.com', 'microsoft'],
    ['hotmail-com.olc.protection.outlook.com', 'microsoft'],
    ['mta7.am0.yahoodns.net', 'yahoo'],
    ['mx01.mail.icloud.com', 'apple'],
    ['inbound-smtp.eu-west-1.amazonaws.com', 'amazon'],
    ['smtp-in.orange.fr', 'orange'],
    ['mx1.free.fr', 'free'],
    ['mx2.sfr.fr', 'sfr'],
    ['smtpz4.laposte.net', 'laposte'],
    ['mx.bbox.fr', 'bouygues'],
    ['mail.protonmail.ch', 'proton'],
    ['mx00.gmx.net', 'gmx'],
    ['mx-ha03.web.de', 'gmx'],
    ['mx3.mail.ovh.net', 'ovh'],
    ['mta-gw.infomaniak.ch', 'infomaniak'],
    ['mail.example.org', 'other'],
    ['google.com.evil.example', 'other'],
  ])('MX %s → %s', (mx, id) => {
    expect(catalog.providerForMx(mx).id).toBe(id);
  });

  it('uses the MX first, then the well-known domain, then other', () => {
    expect(catalog.providerForDomain('association.org', 'aspmx.l.google.com').id).toBe('google');
    expect(catalog.providerForDomain('Hotmail.FR').id).toBe('microsoft');
    expect(catalog.providerForDomain('wanadoo.fr', 'mx.unknown.example').id).toBe('orange');
    expect(catalog.providerForDomain('neuf.fr').id).toBe('sfr');
    expect(catalog.providerForDomain('pm.me').id).toBe('proton');
    expect(catalog.providerForDomain('association.org').id).toBe('other');
  });

  it('carries shaping presets and the US giants flag', () => {
    const g = catalog.get('google')!;
    expect(g).toMatchObject({ usGiant: true, shaping: { maxConnections: 5, messagesPerConnection: 50, tlsRequired: true } });
    expect(catalog.get('orange')!.shaping).toMatchObject({ maxConnections: 2, tlsRequired: true });
    expect(catalog.get('microsoft')!.shaping.maxConnections).toBe(10);
    expect(catalog.get('yahoo')!.shaping.maxConnections).toBe(5);
    expect(catalog.get('free')!.shaping.maxConnections).toBe(2);
    expect(catalog.get('laposte')!.shaping.maxConnections).toBe(3);
    expect(catalog.get('sfr')!.shaping.maxConnections).toBe(2);
    expect([...catalog.usGiants].sort()).toEqual(['amazon', 'apple', 'google', 'microsoft', 'yahoo']);
    expect(catalog.get('other')).toMatchObject({ usGiant: false, shaping: { maxConnections: 10, messagesPerMinute: null, tlsRequired: false } });
  });

  it('reads automation rules per reply category, defaults overridden per provider', () => {
    const d = catalog.automation.defaults;
    expect(d).toMatchObject({ probeIntervalMs: 60_000, relaxStepMs: 60_000 });
    expect(d.rules.rate_limited).toEqual({ action: 'slow', factor: 0.25, durationMs: 5 * 60_000, maxDurationMs: 3600_000 });
    expect(d.rules.blocklisted_ip).toMatchObject({ action: 'suspend', durationMs: 30 * 60_000 });
    // Replies about a recipient or a message restrict nothing.
    expect(d.rules.invalid_recipient).toBeUndefined();
    expect(catalog.automation.providers.orange!.rules!.rate_limited).toMatchObject({ action: 'slow', factor: 0.5, durationMs: 15 * 60_000 });
    expect(catalog.automation.providers.google).toBeUndefined();
  });

  it('rejects invalid files naming the key', () => {
    const base = { defaults: { max_connections: 5, messages_per_connection: 10 }, providers: [] as unknown[] };
    expect(() => buildProviderCatalog({ ...base, providers: [{ id: 'x', name: 'X', shaping: { max_connections: 0 } }] })).toThrow(/providers\[0\]\.shaping\.max_connections: must be a positive integer/);
    expect(() => buildProviderCatalog({ ...base, providers: [{ id: 'x', name: 'X', mx: 'a.b' }] })).toThrow(/providers\[0\]\.mx: must be a list/);
    expect(() => buildProviderCatalog({ ...base, automation: { rules: { spam: { action: 'slow', duration: '1m' } } } })).toThrow(/automation\.rules\.spam: must be one of invalid_recipient/);
    expect(() => buildProviderCatalog({ ...base, automation: { rules: { rate_limited: { action: 'slow', duration: '1 minute' } } } })).toThrow(/automation\.rules\.rate_limited\.duration: must be a duration like 30s/);
    expect(() => buildProviderCatalog({ ...base, automation: { rules: { rate_limited: { action: 'pause', duration: '1m' } } } })).toThrow(/rate_limited\.action: must be one of slow\|suspend/);
    expect(() => buildProviderCatalog({ ...base, automation: { rules: { rate_limited: { action: 'slow', duration: '1h', max_duration: '5m' } } } })).toThrow(/max_duration: must not be shorter than duration/);
    expect(() => buildProviderCatalog({ ...base, providers: [{ id: 'x', name: 'X', automation: { relax: '1m' } }] })).toThrow(/providers\[0\]\.automation\.relax: unknown key/);
    expect(() => buildProviderCatalog({ ...base, throttle_rules: [] })).toThrow(/throttle_rules: unknown key/);
    expect(() => buildProviderCatalog({ defaults: { max_connections: 5 }, providers: [] })).toThrow(/defaults\.messages_per_connection: is required/);
    expect(() => buildProviderCatalog({ ...base, provider: [] })).toThrow(/provider: unknown key/);
  });
});
