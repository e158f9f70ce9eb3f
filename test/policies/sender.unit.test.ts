import { describe, it, expect } from 'vitest';
import { authorizeEnvelope, authorizeSender } from '../../policies/sender.js';
import { parseAddressList } from '../../policies/address.js';
import { normalizeDomain } from '../../src/util/domain.js';
import type { ClientIdentity } from '../../policies/types.js';

const domains: Record<string, string> = { 'laruche.example': 'la-ruche', 'xn--caf-dma.example': 'cafe', 'autre.example': 'autre' };
const tenantOf = (d: string) => domains[d];
const client = (tenants: string[], extra: Partial<ClientIdentity> = {}): ClientIdentity =>
  ({ name: 'mailcow', tenants, newsletter: false, address: '10.0.0.1', authenticated: true, ...extra });

describe('sender authorisation', () => {
  it('accepts envelope and From: of a tenant the client may send for', () => {
    expect(authorizeSender({ client: client(['la-ruche']), mailFrom: 'alice@laruche.example', from: ['alice@laruche.example'], fromRaw: ['alice@laruche.example'], tenantOf }))
      .toEqual({ ok: true, tenant: 'la-ruche', domain: 'laruche.example' });
  });

  it('refuses a foreign envelope domain with 553 5.7.1 naming the domain', () => {
    const d = authorizeSender({ client: client(['la-ruche']), mailFrom: 'ceo@autre.example', tenantOf });
    expect(d.ok).toBe(false);
    if (d.ok) return;
    expect(d.verdict).toMatchObject({ action: 'reject', reason: 'spoofing', detail: 'envelope', smtp: { code: 553, enhanced: '5.7.1' } });
    expect(d.verdict.smtp!.text).toContain('autre.example');
    expect(d.verdict.smtp!.text).toMatch(/^Expéditeur non autorisé.* \/ Sender not authorised/);
  });

  it('checks every From: address, including ones only in the raw header', () => {
    const d = authorizeSender({ client: client(['la-ruche']), mailFrom: 'a@laruche.example', from: ['a@laruche.example'], fromRaw: ['a@laruche.example, boss@autre.example'], tenantOf });
    expect(d.ok).toBe(false);
    if (!d.ok) expect(d.verdict.detail).toBe('header_from');
  });

  it('judges display-name tricks on the address, not the name', () => {
    const ok = authorizeSender({ client: client(['la-ruche']), mailFrom: 'x@laruche.example', fromRaw: ['"ceo@autre.example" <x@laruche.example>'], tenantOf });
    expect(ok.ok).toBe(true);
    const bad = authorizeSender({ client: client(['la-ruche']), mailFrom: 'x@laruche.example', fromRaw: ['"x@laruche.example" <ceo@autre.example>'], tenantOf });
    expect(bad.ok).toBe(false);
  });

  it('compares Unicode domains in punycode: look-alikes are refused, true IDNs match', () => {
    // Cyrillic "а" (U+0430) instead of Latin "a".
    const lookalike = authorizeSender({ client: client(['la-ruche']), mailFrom: 'a@laruche.example', fromRaw: ['Alice <a@l\u0430ruche.example>'], tenantOf });
    expect(lookalike.ok).toBe(false);
    expect(authorizeEnvelope(client(['cafe']), 'bob@café.example', tenantOf)).toMatchObject({ ok: true, tenant: 'cafe' });
    expect(authorizeEnvelope(client(['cafe']), 'bob@CAFÉ.example.', tenantOf)).toMatchObject({ ok: true, tenant: 'cafe' });
    expect(authorizeEnvelope(client(['la-ruche']), 'a@ＬＡＲＵＣＨＥ.example', tenantOf)).toMatchObject({ ok: true, tenant: 'la-ruche' });
  });

  it('lets "*" clients send anything, and refuses unknown domains for others', () => {
    expect(authorizeSender({ client: client(['*']), mailFrom: 'x@anything.example', fromRaw: ['y@else.example'], tenantOf }).ok).toBe(true);
    expect(authorizeEnvelope(client(['la-ruche']), 'x@nowhere.example', tenantOf).ok).toBe(false);
    expect(authorizeEnvelope(client(['la-ruche']), 'x@[127.0.0.1]', tenantOf).ok).toBe(false);
  });

  it('allows the null sender only to Relais itself or allowed clients', () => {
    expect(authorizeEnvelope(client(['la-ruche']), '', tenantOf)).toMatchObject({ ok: false, verdict: { detail: 'null_sender', smtp: { code: 553 } } });
    expect(authorizeEnvelope(client(['la-ruche'], { allowNullSender: true }), '', tenantOf).ok).toBe(true);
    expect(authorizeEnvelope(client([], { internal: true }), '', tenantOf).ok).toBe(true);
    // <> with a forged From: is still refused.
    expect(authorizeSender({ client: client(['la-ruche'], { allowNullSender: true }), mailFrom: '', from: ['ceo@autre.example'], fromRaw: ['ceo@autre.example'], tenantOf }).ok).toBe(false);
  });

  it('wants exactly one From: with an address (550 5.7.1, French then English), except from newsletter and trusted clients', () => {
    const one = (fromRaw: string[], from: string[], extra: Partial<ClientIdentity> = {}) =>
      authorizeSender({ client: client(['la-ruche'], extra), mailFrom: 'a@laruche.example', from, fromRaw, tenantOf });
    const two = one(['a@laruche.example', 'b@laruche.example'], ['a@laruche.example', 'b@laruche.example']);
    expect(two).toMatchObject({ ok: false, verdict: { action: 'reject', reason: 'spoofing', detail: 'from_count', smtp: { code: 550, enhanced: '5.7.1' } } });
    if (!two.ok) expect(two.verdict.smtp!.text).toMatch(/^Le message doit avoir exactement un en-tête From: .*\(2 en-têtes From:\) \/ The message must have exactly one From: header .*\(2 From: headers\)$/);
    expect(one([], [])).toMatchObject({ ok: false, verdict: { detail: 'from_count', smtp: { code: 550, enhanced: '5.7.1' } } });
    expect(one(['Undisclosed sender'], [])).toMatchObject({ ok: false, verdict: { detail: 'from_empty', smtp: { code: 550 } } });
    expect(one(['a@laruche.example'], ['a@laruche.example'])).toMatchObject({ ok: true });
    // Several addresses in one From: are RFC 5322 (with a Sender:): each is checked.
    expect(one(['a@laruche.example, b@laruche.example'], ['a@laruche.example', 'b@laruche.example'])).toMatchObject({ ok: true });
    // "*" clients may send for anyone, but still one From:.
    expect(authorizeSender({ client: client(['*']), mailFrom: 'x@any.example', from: [], fromRaw: [], tenantOf })).toMatchObject({ ok: false, verdict: { detail: 'from_count' } });
    for (const extra of [{ newsletter: true }, { trusted: true }]) {
      expect(one([], [], extra)).toMatchObject({ ok: true });
      expect(one(['a@laruche.example', 'b@laruche.example'], ['a@laruche.example', 'b@laruche.example'], extra)).toMatchObject({ ok: true });
    }
    expect(authorizeSender({ client: client([], { internal: true }), mailFrom: '', from: [], fromRaw: [], tenantOf }).ok).toBe(true);
  });

  it('checks the address of every From: header, even for clients exempt from the one-From rule', () => {
    for (const extra of [{}, { newsletter: true }, { trusted: true }]) {
      const d = authorizeSender({ client: client(['la-ruche'], extra), mailFrom: 'a@laruche.example', from: ['a@laruche.example', 'ceo@autre.example'], fromRaw: ['a@laruche.example', 'ceo@autre.example'], tenantOf });
      expect(d.ok).toBe(false);
      // Only the raw values: what the intake's parser may miss is still judged.
      const raw = authorizeSender({ client: client(['la-ruche'], { newsletter: true }), mailFrom: 'a@laruche.example', fromRaw: ['a@laruche.example', '"x" <ceo@autre.example>'], tenantOf });
      expect(raw).toMatchObject({ ok: false, verdict: { detail: 'header_from', smtp: { code: 553 } } });
    }
  });
});

describe('address parsing', () => {
  it('extracts addresses from From: values', () => {
    expect(parseAddressList('Alice Martin <alice@x.org>')).toEqual(['alice@x.org']);
    expect(parseAddressList('"Martin, Alice" <alice@x.org>, bob@y.org (Bob)')).toEqual(['alice@x.org', 'bob@y.org']);
    expect(parseAddressList('ceo@other.org <x@mine.org>')).toEqual(['x@mine.org']);
    expect(parseAddressList('Team: a@x.org, b@y.org;')).toEqual(['a@x.org', 'b@y.org']);
    expect(parseAddressList('=?utf-8?q?ceo=40other.org?= <x@mine.org>')).toEqual(['x@mine.org']);
  });
  it('normalises domains', () => {
    expect(normalizeDomain('Example.ORG.')).toBe('example.org');
    expect(normalizeDomain('bücher.example')).toBe('xn--bcher-kva.example');
    expect(normalizeDomain('[1.2.3.4]')).toBeNull();
    expect(normalizeDomain('nodot')).toBeNull();
    expect(normalizeDomain('a..example')).toBeNull();
    expect(normalizeDomain('.example.org')).toBeNull();
    expect(normalizeDomain(`${'x'.repeat(64)}.example`)).toBeNull();
    expect(normalizeDomain(`${'x'.repeat(63)}.example`)).toBe(`${'x'.repeat(63)}.example`);
  });
});
