/**
 * Fingerprints seen on this node: a one-off body is counted from its own recipients; the second
 * copy takes the first copy's recipients (and time) to the store; later copies count there alone.
 */
import { describe, expect, it } from 'vitest';
import { FingerprintSightings, sightingBytes, stringSeed } from '../../policies/service/fingerprint-sightings.js';
import type { BodyPrint } from '../../policies/types.js';

const HOUR = 3_600_000;
const alice = { mailbox: 'alice@laruche.example', seed: stringSeed('alice@laruche.example') };
/** A fingerprint per name. */
const fp = (name: string): BodyPrint => ({ h1: stringSeed(name) * 3, h2: stringSeed(`${name}!`), length: 100 + name.length });
/** The bound that holds `n` of alice's one-recipient sightings in each generation... about. */
const room = (n: number) => 2 * n * sightingBytes(alice.mailbox, ['x@d']);

describe('fingerprint sightings', () => {
  it('keeps the first copy here, hands its recipients to the store with the second, then nothing', () => {
    const s = new FingerprintSightings();
    expect(s.see(alice, fp('fp:a'), ['x@d', 'y@d'], 1000, HOUR)).toEqual({ first: true });
    expect(s.see(alice, fp('fp:a'), ['z@d'], 2000, HOUR)).toEqual({ first: false, earlier: { recipients: ['x@d', 'y@d'], at: 1000 } });
    expect(s.see(alice, fp('fp:a'), ['w@d'], 3000, HOUR)).toEqual({ first: false, earlier: undefined });
    // Another content is another count, and so is the same content from another sender.
    expect(s.see(alice, fp('fp:b'), ['x@d'], 3000, HOUR)).toEqual({ first: true });
    const bob = { mailbox: 'bob@laruche.example', seed: stringSeed('bob@laruche.example') };
    expect(s.see(bob, fp('fp:a'), ['x@d'], 3000, HOUR)).toEqual({ first: true });
  });

  it('tells apart fingerprints that share a map key (the newer replaces the older)', () => {
    const s = new FingerprintSightings();
    const a = fp('a');
    const twin = { ...a, h2: a.h2 ^ 1 }; // same h1, so the same key for the same sender
    s.see(alice, a, ['x@d'], 0, HOUR);
    expect(s.see(alice, twin, ['y@d'], 1, HOUR)).toEqual({ first: true });
    expect(s.see(alice, twin, ['z@d'], 2, HOUR)).toEqual({ first: false, earlier: { recipients: ['y@d'], at: 1 } });
    expect(s.see(alice, a, ['w@d'], 3, HOUR)).toEqual({ first: true });
  });

  it('starts over once a whole window has passed since the last copy (nothing of it is left in any count)', () => {
    const s = new FingerprintSightings();
    s.see(alice, fp('fp:a'), ['x@d'], 0, HOUR);
    s.see(alice, fp('fp:a'), ['y@d'], HOUR - 1, HOUR);
    // The last copy was at HOUR - 1: its recipients still count until 2 HOUR - 1.
    expect(s.see(alice, fp('fp:a'), ['z@d'], 2 * HOUR - 2, HOUR).first).toBe(false);
    expect(s.see(alice, fp('fp:a'), ['z@d'], 4 * HOUR, HOUR)).toEqual({ first: true });
  });

  it('forgets the least recently seen fingerprints past its bound, a generation at a time', () => {
    const s = new FingerprintSightings(room(2));
    s.see(alice, fp('a'), ['x@d'], 0, HOUR);
    s.see(alice, fp('b'), ['x@d'], 1, HOUR); // the newer generation (2) is full: a and b become the older one
    s.see(alice, fp('a'), ['y@d'], 2, HOUR); // a moves to the newer generation
    s.see(alice, fp('c'), ['x@d'], 3, HOUR); // full again: b, left in the older generation, is forgotten
    expect(s.size).toBeLessThanOrEqual(4);
    expect(s.see(alice, fp('a'), ['z@d'], 4, HOUR).first).toBe(false);
    expect(s.see(alice, fp('c'), ['z@d'], 5, HOUR).first).toBe(false);
    expect(s.see(alice, fp('b'), ['z@d'], 6, HOUR).first).toBe(true);
  });

  it('stays within its bound however many fingerprints it sees', () => {
    const s = new FingerprintSightings(room(500));
    for (let i = 0; i < 10_000; i++) s.see(alice, fp(`fp:${i}`), ['x@d'], i, HOUR);
    expect(s.size).toBeLessThanOrEqual(1000);
    expect(s.size).toBeGreaterThanOrEqual(500);
    expect(s.bytes).toBeLessThanOrEqual(room(500));
    expect(s.see(alice, fp('fp:9999'), ['y@d'], 10_000, HOUR).first).toBe(false);
  });

  it('counts the first copy\'s recipients in its bound (up to max_recipients long addresses each)', () => {
    const s = new FingerprintSightings(1024 * 1024);
    const many = Array.from({ length: 1000 }, (_, i) => `${'r'.repeat(200)}${i}@dest.example`);
    for (let i = 0; i < 1000; i++) {
      s.see(alice, fp(`big:${i}`), many, i, HOUR);
      expect(s.bytes).toBeLessThanOrEqual(1024 * 1024 + sightingBytes(alice.mailbox, many));
    }
  });
});
