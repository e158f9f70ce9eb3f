import { describe, it, expect } from 'vitest';
import { DEFAULT_BULK, bulkVerdict, detectBulk, hasNewsletterMarkers } from '../../policies/bulk.js';
import { DEFAULT_GUARD, holdNotice, hourKey, judgeGuard, usualHourlyVolume } from '../../policies/guard.js';
import { formatClock, quotaAnswer } from '../../policies/answers.js';
import { selectLimits } from '../../policies/limits.js';

describe('bulk detection', () => {
  const h = { from: [], fromRaw: [] };
  it('fires at the recipients-per-message threshold (>=)', () => {
    expect(detectBulk({ messageRecipients: 49, headers: h }, DEFAULT_BULK)).toBeNull();
    expect(detectBulk({ messageRecipients: 50, headers: h }, DEFAULT_BULK)).toEqual({ signal: 'recipients_per_message', count: 50, threshold: 50 });
  });
  it('sees newsletter headers, distinct recipients and fingerprints', () => {
    expect(hasNewsletterMarkers({ from: [], fromRaw: [], precedence: 'Bulk' })).toBe(true);
    expect(hasNewsletterMarkers({ from: [], fromRaw: [], precedence: 'junk' })).toBe(false);
    expect(detectBulk({ messageRecipients: 1, headers: { from: [], fromRaw: [], listId: '<x.list>' } }, DEFAULT_BULK)?.signal).toBe('newsletter_headers');
    expect(detectBulk({ messageRecipients: 1, headers: { from: [], fromRaw: [], listId: '<x>' } }, { ...DEFAULT_BULK, newsletter_headers: false })).toBeNull();
    expect(detectBulk({ messageRecipients: 1, distinctRecipientsToday: 300, headers: h }, DEFAULT_BULK)?.signal).toBe('distinct_recipients_per_day');
    expect(detectBulk({ messageRecipients: 1, fingerprintRecipients: 100, headers: h }, DEFAULT_BULK)?.signal).toBe('fingerprint');
  });
  it('answers per action, with the Listmonk hint', () => {
    const hit = { signal: 'recipients_per_message' as const, count: 120, threshold: 100 };
    expect(bulkVerdict(hit, 'allow')).toBeNull();
    expect(bulkVerdict(hit, 'defer')?.smtp).toMatchObject({ code: 451, enhanced: '4.7.1' });
    const rej = bulkVerdict(hit, 'reject', 'la-ruche', 'https://listes.laruche.example')!;
    expect(rej).toMatchObject({ action: 'reject', reason: 'bulk', tenant: 'la-ruche', smtp: { code: 550, enhanced: '5.7.1' } });
    expect(rej.smtp!.text).toContain('https://listes.laruche.example');
    expect(rej.smtp!.text).toMatch(/Listmonk.* \/ Bulk sending refused/);
    expect(bulkVerdict(hit, 'redirect')).toMatchObject({ action: 'redirect', smtp: { code: 550 } });
  });
});

describe('compromised-account guard', () => {
  it('learns the usual hourly volume from active hours', () => {
    expect(usualHourlyVolume({ '2026112608': 4, '2026112609': 6, '2026112610': 0, '2026112614': 99 }, '2026112614')).toBe(5);
    expect(hourKey(Date.UTC(2026, 10, 26, 14, 5))).toBe('2026112614');
  });
  it('holds on 10x the usual volume (above a floor) or a burst of new domains', () => {
    const base = { currentHour: 10, usualHourly: 5, newDomainsLastHour: 0, knownDomains: 50 };
    expect(judgeGuard(base, DEFAULT_GUARD)).toBeNull();
    expect(judgeGuard({ ...base, currentHour: 49 }, DEFAULT_GUARD)).toBeNull();
    expect(judgeGuard({ ...base, currentHour: 50 }, DEFAULT_GUARD)?.signal).toBe('volume');
    expect(judgeGuard({ ...base, currentHour: 60, usualHourly: 8 }, DEFAULT_GUARD)).toBeNull();
    expect(judgeGuard({ ...base, newDomainsLastHour: 20 }, DEFAULT_GUARD)?.signal).toBe('new_domains');
    expect(judgeGuard({ ...base, newDomainsLastHour: 20, knownDomains: 3 }, DEFAULT_GUARD)).toBeNull();
    expect(judgeGuard({ ...base, currentHour: 500 }, { ...DEFAULT_GUARD, enabled: false })).toBeNull();
  });
  it('writes a bilingual notice to the mailbox and admins', () => {
    const n = holdNotice('a@x.org', { signal: 'volume', text: { fr: '500 messages', en: '500 messages' } }, ['admin@host.example', 'a@x.org']);
    expect(n.to).toEqual(['a@x.org', 'admin@host.example']);
    expect(n.subject).toMatch(/mis en attente \/ Relais: mail from a@x.org held/);
    expect(n.text.indexOf('Bonjour')).toBeLessThan(n.text.indexOf('Hello'));
  });
});

describe('quota answers', () => {
  const [l] = selectLimits({ defaults: { mailbox: { messages_per_hour: 200 } } });
  it('says French then English with the retry time', () => {
    const now = Date.UTC(2026, 10, 26, 13, 0);
    const a = quotaAnswer(l, { level: 'mailbox', id: 'alice@example.org' }, Date.UTC(2026, 10, 26, 13, 4, 10), now, 'UTC');
    expect(a).toEqual({
      code: 451, enhanced: '4.7.1',
      text: 'Quota dépassé : 200 messages/heure pour alice@example.org, réessai possible à 13:05 / Quota exceeded: 200 messages/hour for alice@example.org, retry after 13:05',
    });
    expect(quotaAnswer({ ...l, hard: true }, { level: 'domain', id: 'x.org' }, now, now, 'UTC')).toMatchObject({ code: 550, enhanced: '5.7.1' });
  });
  it('names the day when the retry is not today', () => {
    expect(formatClock(Date.UTC(2026, 10, 27, 9, 30), Date.UTC(2026, 10, 26, 22, 0), 'Europe/Paris')).toBe('27/11 10:30');
  });
});
