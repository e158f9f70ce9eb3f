/** VERP return paths of newsletter mail (listmonk-bridge/verp.ts). */
import { describe, expect, it } from 'vitest';
import { makeReturnPath, parseReturnPath } from '../../listmonk-bridge/verp.js';

describe('VERP return paths', () => {
  it('round-trips a ref through the return path, in any case and with angle brackets', () => {
    const rp = makeReturnPath('k3x9_q-2', 'Bounces.Relais.Example');
    expect(rp).toBe('bounces+k3x9_q-2@bounces.relais.example');
    expect(parseReturnPath(rp)).toBe('k3x9_q-2');
    expect(parseReturnPath(`<${rp.toUpperCase()}>`, 'bounces.relais.example')).toBe('k3x9_q-2');
  });

  it('refuses refs an MTA could rewrite, and addresses of other domains', () => {
    expect(() => makeReturnPath('a.b', 'b.example')).toThrow(/invalid VERP ref/);
    expect(() => makeReturnPath('', 'b.example')).toThrow(/invalid VERP ref/);
    expect(() => makeReturnPath('abc', 'b example')).toThrow(/invalid bounce domain/);
    expect(parseReturnPath('bounces+abc@other.example', 'bounces.relais.example')).toBeNull();
    expect(parseReturnPath('bounces+a.b@bounces.relais.example')).toBeNull();
    expect(parseReturnPath('alice@laruche.example')).toBeNull();
  });
});
