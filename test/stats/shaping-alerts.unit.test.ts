import { describe, expect, test } from 'vitest';
import type { RestrictionView } from '../../relay/delivery/index.js';
import { blocklistAlert } from '../../src/stats/shaping-alerts.js';

const restriction = (fix?: { fr: string; en: string }): RestrictionView => ({
  pool: 'lettres',
  provider: 'microsoft',
  mode: 'suspended',
  category: 'blocklisted_ip',
  level: 1,
  since: Date.UTC(2026, 11, 7, 10),
  until: Date.UTC(2026, 11, 7, 10, 30),
  limits: { maxConnections: 1, messagesPerConnection: 50, messagesPerMinute: 0 },
  triggers: 2,
  cause: {
    reply: { code: 550, enhanced: '5.7.1', text: 'part of their network is on our block list (S3150)' },
    at: Date.UTC(2026, 11, 7, 10),
    class: { category: 'blocklisted_ip', permanent: false, scope: 'provider', provider: 'microsoft', ...(fix ? { fix } : {}) },
  },
});

describe('block-list alert', () => {
  test('critical, names node, pool and provider, quotes the reply, carries the fix', () => {
    const fix = { fr: 'Demandez le retrait : https://sender.office.com', en: 'Request delisting: https://sender.office.com' };
    const a = blocklistAlert('relais-1', restriction(fix));
    expect(a).toMatchObject({
      id: 'blocklisted_ip:provider:relais-1/lettres/microsoft',
      type: 'blocklisted_ip',
      severity: 'critical',
      since: '2026-12-07T10:00:00.000Z',
      subject: { per: 'provider', id: 'microsoft' },
      value: 2,
      fix,
    });
    expect(a.message.en).toBe("Pool lettres's IP (node relais-1) block-listed by microsoft: sending suspended until 2026-12-07T10:30:00.000Z (\"550 5.7.1 part of their network is on our block list (S3150)\")");
    expect(a.message.fr).toContain('sur liste de blocage chez microsoft');
  });

  test('without a fix in the reply, a generic one that says how to resume', () => {
    expect(blocklistAlert('n', restriction()).fix!.en).toMatch(/spamhaus.*relais shaping clear/);
  });
});
