/** The AUTH failure counters (pure): per address, per user name, cooling-off, bounded memory. */
import { describe, expect, it } from 'vitest';
import { AuthGuard, addressKey } from '../../relay/intake/auth-guard.js';

const MIN = 60_000;
const guard = (o: Partial<ConstructorParameters<typeof AuthGuard>[0]> = {}) =>
  new AuthGuard({ failuresPerAddress: 10, failuresPerUser: 30, failuresPerConnection: 3, windowMs: 15 * MIN, coolOffMs: 15 * MIN, ...o });

describe('AuthGuard', () => {
  it('blocks an address at its 10th failure within the window, for the cooling-off, and no other address', () => {
    const g = guard();
    const t = 1_000_000;
    for (let i = 1; i <= 9; i++) expect(g.failure('203.0.113.7', 'mailcow', t + i)).toBe(false);
    expect(g.gate('203.0.113.7', 'mailcow', t + 10)).toBe('ok');
    expect(g.failure('203.0.113.7', 'mailcow', t + 10)).toBe(true);
    expect(g.gate('203.0.113.7', 'mailcow', t + 11)).toBe('address-blocked');
    expect(g.gate('203.0.113.7', 'other', t + 11)).toBe('address-blocked');
    expect(g.gate('198.51.100.1', 'mailcow', t + 11)).toBe('ok');
    expect(g.gate('203.0.113.7', 'mailcow', t + 10 + 15 * MIN - 1)).toBe('address-blocked');
    expect(g.gate('203.0.113.7', 'mailcow', t + 10 + 15 * MIN)).toBe('ok');
    expect(g.blockedFor('203.0.113.7', t + 10 + 5 * MIN)).toBe(10 * MIN);
    expect(g.blockedFor('198.51.100.1', t + 11)).toBe(0);
  });

  it('forgets failures older than the window', () => {
    const g = guard();
    for (let i = 0; i < 9; i++) g.failure('203.0.113.7', 'x', i);
    expect(g.failure('203.0.113.7', 'x', 15 * MIN + 1)).toBe(false);
    expect(g.gate('203.0.113.7', 'x', 15 * MIN + 2)).toBe('ok');
  });

  it('counts IPv6 per /64 and IPv4-mapped addresses as IPv4', () => {
    expect(addressKey('2001:db8:1:2:aaaa::1')).toBe(addressKey('2001:db8:1:2:ffff::9'));
    expect(addressKey('2001:db8:1:3::1')).not.toBe(addressKey('2001:db8:1:2::1'));
    expect(addressKey('::ffff:192.0.2.1')).toBe('192.0.2.1');
    const g = guard({ failuresPerAddress: 2 });
    g.failure('2001:db8:1:2::1', 'a');
    g.failure('2001:db8:1:2::2', 'a');
    expect(g.gate('2001:db8:1:2:dead::beef', 'a')).toBe('address-blocked');
  });

  it('locks a guessed user name for new addresses only: its usual address keeps working', () => {
    const g = guard({ failuresPerUser: 5 });
    g.success('192.0.2.10', 'mailcow');
    for (let i = 0; i < 5; i++) g.failure(`203.0.113.${i}`, 'mailcow');
    expect(g.gate('192.0.2.10', 'mailcow')).toBe('ok');
    expect(g.gate('198.51.100.1', 'mailcow')).toBe('user-locked');
    expect(g.gate('198.51.100.1', 'listmonk')).toBe('ok');
    // Failures counted against the address only do not extend the user's lock.
    expect(g.failure('198.51.100.1')).toBe(false);
  });

  it('tracks a bounded number of addresses and user names', () => {
    const g = guard({ maxEntries: 100 });
    for (let i = 0; i < 5000; i++) g.failure(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, `user${i}-${'x'.repeat(1000)}`);
    expect(g.tracked()).toEqual({ addresses: 100, users: 100 });
  });
});
