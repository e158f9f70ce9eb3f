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

  it('finds throttle rules for replies', () => {
    const gmail = catalog.throttleFor('google', { code: 421, enhanced: '4.7.28', text: 'Gmail has detected an unusual rate of unsolicited mail originating from your IP address' });
    expect(gmail).toMatchObject({ provider: 'google', action: { messagesPerMinute: 10 }, durationMs: 30 * 60_000 });
    const orange = catalog.throttleFor('orange', { code: 421, text: 'mwinf5c77 ME Service refuse. Veuillez essayer plus tard. OFR_999 [999]' });
    expect(orange).toMatchObject({ action: { maxConnections: 1 }, durationMs: 15 * 60_000 });
    expect(catalog.throttleFor('microsoft', { code: 451, enhanced: '4.7.500', text: 'Server busy. Please try again later from [192.0.2.1]. (S77714)' })).toMatchObject({ action: { factor: 0.5 }, durationMs: 20 * 60_000 });
    expect(catalog.throttleFor('yahoo', { code: 421, enhanced: '4.7.0', text: '[TSS04] Messages from 192.0.2.1 temporarily deferred' })).toMatchObject({ action: { messagesPerMinute: 10 } });
    // Generic rule applies to any provider, including other.
    expect(catalog.throttleFor('other', { code: 421, enhanced: '4.7.0', text: 'Too many connections from your IP' })).toMatchObject({ action: { factor: 0.5 }, durationMs: 10 * 60_000 });
    // A Gmail-only rule does not fire for Microsoft; a 550 is no throttle.
    expect(catalog.throttleFor('microsoft', { code: 421, enhanced: '4.7.28', text: 'unusual rate' })).toBeUndefined();
    expect(catalog.throttleFor('google', { code: 550, enhanced: '5.1.1', text: 'does not exist' })).toBeUndefined();
  });

  it('rejects invalid files naming the key', () => {
    const base = { defaults: { max_connections: 5, messages_per_connection: 10 }, providers: [] as unknown[] };
    expect(() => buildProviderCatalog({ ...base, providers: [{ id: 'x', name: 'X', shaping: { max_connections: 0 } }] })).toThrow(/providers\[0\]\.shaping\.max_connections: must be a positive integer/);
    expect(() => buildProviderCatalog({ ...base, providers: [{ id: 'x', name: 'X', mx: 'a.b' }] })).toThrow(/providers\[0\]\.mx: must be a list/);
    expect(() => buildProviderCatalog({ ...base, throttle_rules: [{ provider: 'nope', match: { code: 421 }, action: { factor: 0.5 }, duration: '1m' }] })).toThrow(/throttle_rules\[0\]\.provider: names unknown provider/);
    expect(() => buildProviderCatalog({ ...base, throttle_rules: [{ match: { code: 421 }, action: { factor: 0.5 }, duration: '1 minute' }] })).toThrow(/throttle_rules\[0\]\.duration: must be a duration like 30s/);
    expect(() => buildProviderCatalog({ defaults: { max_connections: 5 }, providers: [] })).toThrow(/defaults\.messages_per_connection: is required/);
    expect(() => buildProviderCatalog({ ...base, provider: [] })).toThrow(/provider: unknown key/);
  });
});
