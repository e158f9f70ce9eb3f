/**
 * Envelope address checks (relay/intake/address.ts): plain user@domain only; the routing forms
 * used to trick relays are refused with 553 and a French-then-English reason.
 */
import { describe, expect, it } from 'vitest';
import { checkAddress } from '../../relay/intake/address.js';

const refusal = (address: string, role: 'sender' | 'recipient' = 'recipient') => {
  const e = checkAddress(address, role);
  return e && { code: e.responseCode, message: e.message };
};

describe('checkAddress', () => {
  it('accepts plain addresses, with Unicode local parts and IDN domains', () => {
    for (const a of ['alice@laruche.example', 'a.b+tag@sous.domaine.example', "o'neil@x.test", 'zoé@café.example', 'x@xn--caf-dma.example']) {
      expect(checkAddress(a, 'recipient'), a).toBeNull();
    }
  });

  it('the null sender is for senders only', () => {
    expect(checkAddress('', 'sender')).toBeNull();
    expect(refusal('')).toEqual({ code: 553, message: '5.1.3 Adresse de destinataire invalide <> : adresse vide / Invalid recipient address: empty address' });
  });

  it('refuses source routes, the percent hack, bang paths, quoted local parts and address literals', () => {
    const cases: Array<[string, RegExp]> = [
      ['@relay.example:bob@victim.example', /source routes/],
      ['bob%victim.example@laruche.example', /percent hack/],
      ['victim.example!bob@laruche.example', /bang paths/],
      ['"bob@victim.example"@laruche.example', /quoted local parts/],
      ['bob@[192.0.2.1]', /address literals/],
    ];
    for (const [a, why] of cases) {
      const r = refusal(a);
      expect(r?.code, a).toBe(553);
      expect(r?.message, a).toMatch(/^5\.1\.3 Adresse de destinataire invalide/);
      expect(r?.message, a).toMatch(why);
    }
  });

  it('refuses malformed local parts and domains, with the sender code for senders', () => {
    for (const a of ['bob', 'bob@', '@', 'bo b@x.test', '.bob@x.test', 'bob.@x.test', 'bob@localhost', 'bob@-x.test', 'bob@x..test', `${'a'.repeat(65)}@x.test`, `b@${'a'.repeat(64)}.test`, `${'a'.repeat(64)}@${'b'.repeat(250)}.test`]) {
      expect(refusal(a)?.code, a).toBe(553);
    }
    expect(refusal('bob@-x.test', 'sender')?.message).toMatch(/^5\.1\.7 Adresse d’expéditeur invalide <bob@-x\.test> : domaine invalide \/ Invalid sender address: invalid domain$/);
  });
});
