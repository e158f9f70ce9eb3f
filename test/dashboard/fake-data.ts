/** Fixture figures served by the in-test fake of the /api/v1 routes that do not exist yet. */

export interface FakeProvider {
  provider: string;
  name: string;
  usGiant: boolean;
  sent: number;
  delivered: number;
  deferred: number;
  bounced: number;
  topReasons: { reason: string; count: number; samples: string[] }[];
}

export const PROVIDERS: FakeProvider[] = [
  {
    provider: 'google', name: 'Google (Gmail)', usGiant: true, sent: 1240, delivered: 1180, deferred: 45, bounced: 15,
    topReasons: [
      { reason: 'rate_limited', count: 30, samples: ['421 4.7.28 Gmail has detected an unusual rate of unsolicited mail originating from your IP address. To protect our users from spam, mail sent from your IP address has been temporarily rate limited.'] },
      { reason: 'invalid_recipient', count: 12, samples: ['550 5.1.1 The email account that you tried to reach does not exist. Please try double-checking the recipient\'s email address for typos or unnecessary spaces.'] },
    ],
  },
  {
    provider: 'microsoft', name: 'Microsoft (Outlook, Hotmail, Microsoft 365)', usGiant: true, sent: 860, delivered: 790, deferred: 52, bounced: 18,
    topReasons: [
      { reason: 'rate_limited', count: 38, samples: ['451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited due to IP reputation. For e-mail delivery information, see https://postmaster.live.com (S775)'] },
      { reason: 'spam_block', count: 14, samples: ['550 5.7.1 Unfortunately, messages from [203.0.113.25] weren\'t sent. Please contact your Internet service provider since part of their network is on our block list (S3150).'] },
    ],
  },
  {
    provider: 'orange', name: 'Orange (Wanadoo)', usGiant: false, sent: 410, delivered: 372, deferred: 30, bounced: 8,
    topReasons: [
      { reason: 'rate_limited', count: 25, samples: ['421 mwinf5c27 ME Trop de connexions, veuillez verifier votre configuration. Too many connections, slow down. OFR004_104 [104]'] },
      { reason: 'invalid_recipient', count: 6, samples: ['550 5.1.1 Adresse d au moins un destinataire invalide. Invalid recipient. OFR_416 [416]'] },
    ],
  },
  { provider: 'free', name: 'Free', usGiant: false, sent: 220, delivered: 214, deferred: 4, bounced: 2, topReasons: [] },
  { provider: 'laposte', name: 'La Poste', usGiant: false, sent: 95, delivered: 93, deferred: 1, bounced: 1, topReasons: [] },
];

const pct = (n: number, d: number) => (d ? Math.round((n / d) * 1000) / 10 : 0);

export function providerRow(p: FakeProvider) {
  return { ...p, deliveredPct: pct(p.delivered, p.sent), deferredPct: pct(p.deferred, p.sent), bouncedPct: pct(p.bounced, p.sent) };
}

const WEIGHTS = [0.12, 0.14, 0.15, 0.16, 0.13, 0.15, 0.15];

/** Spreads the totals over 7 days; the last day takes the rounding remainder so sums match. */
export function dailySeries(ps: FakeProvider[], to: Date) {
  const sum = (k: 'delivered' | 'deferred' | 'bounced') => ps.reduce((s, p) => s + p[k], 0);
  const totals = { delivered: sum('delivered'), deferred: sum('deferred'), bounced: sum('bounced') };
  const day0 = Date.UTC(to.getUTCFullYear(), to.getUTCMonth(), to.getUTCDate()) - 6 * 86_400_000;
  const used = { delivered: 0, deferred: 0, bounced: 0 };
  return WEIGHTS.map((w, i) => {
    const point = { t: new Date(day0 + i * 86_400_000).toISOString(), delivered: 0, deferred: 0, bounced: 0 };
    for (const k of ['delivered', 'deferred', 'bounced'] as const) {
      point[k] = i === WEIGHTS.length - 1 ? totals[k] - used[k] : Math.floor(totals[k] * w);
      used[k] += point[k];
    }
    return point;
  });
}

export interface FakeLimit { name: string; limit: number; used: number; resetAt: string; hard: boolean; override: boolean }
export interface FakeQuota { address: string; level: 'mailbox' | 'domain' | 'tenant'; tenant: string; limits: FakeLimit[] }

export function quotas(now: Date): FakeQuota[] {
  const inH = (h: number) => new Date(now.getTime() + h * 3600_000).toISOString();
  const l = (name: string, limit: number, used: number, resetH: number, override = false): FakeLimit => ({ name, limit, used, resetAt: inH(resetH), hard: true, override });
  return [
    { address: 'collectif-a', level: 'tenant', tenant: 'collectif-a', limits: [l('messages_per_day', 5000, 1830, 9)] },
    { address: 'collectif-a.org', level: 'domain', tenant: 'collectif-a', limits: [l('messages_per_hour', 600, 212, 0.5)] },
    { address: 'contact@collectif-a.org', level: 'mailbox', tenant: 'collectif-a', limits: [l('messages_per_hour', 100, 87, 0.4), l('recipients_per_day', 500, 140, 11)] },
    { address: 'lettre@collectif-a.org', level: 'mailbox', tenant: 'collectif-a', limits: [l('messages_per_hour', 200, 30, 0.7, true)] },
    { address: 'bureau@amap-b.fr', level: 'mailbox', tenant: 'amap-b', limits: [l('messages_per_hour', 100, 12, 0.2)] },
  ];
}

export function redirects(now: Date) {
  const ago = (h: number) => new Date(now.getTime() - h * 3600_000).toISOString();
  return [
    { at: ago(2), tenant: 'collectif-a', sender: 'contact@collectif-a.org', messageId: '<assemblee-2026@collectif-a.org>', recipients: 312, status: 'draft-created', campaignId: 42, listmonkUrl: 'https://listes.collectif-a.org/admin/campaigns/42' },
    { at: ago(26), tenant: 'amap-b', sender: 'bureau@amap-b.fr', messageId: '<paniers-semaine@amap-b.fr>', recipients: 148, status: 'draft-created', campaignId: 7, listmonkUrl: 'https://listes.amap-b.fr/admin/campaigns/7' },
    { at: ago(50), tenant: 'collectif-a', sender: 'lettre@collectif-a.org', messageId: '<lettre-mars@collectif-a.org>', recipients: 95, status: 'failed', listmonkUrl: 'javascript:alert(1)', error: 'Listmonk injoignable (connexion refusée)' },
  ];
}

export const DOMAINS = [
  { domain: 'collectif-a.org', tenant: 'collectif-a' },
  { domain: 'amap-b.fr', tenant: 'amap-b' },
];

export function domainCheck(domain: string) {
  const pass = (check: string, detail: string) => ({ check, status: 'pass', detail, fix: { fr: '', en: '' } });
  if (domain === 'collectif-a.org') {
    return {
      domain,
      findings: [
        pass('dkim', 'relais2026._domainkey.collectif-a.org publie la clé RSA 2048 active.'),
        { check: 'spf', status: 'warn', detail: 'v=spf1 mx ~all : le relais 203.0.113.25 n’est pas autorisé.', fix: { fr: 'collectif-a.org. IN TXT "v=spf1 mx ip4:203.0.113.25 ~all"', en: 'collectif-a.org. IN TXT "v=spf1 mx ip4:203.0.113.25 ~all"' } },
        { check: 'dmarc', status: 'fail', detail: 'Aucun enregistrement _dmarc.collectif-a.org.', fix: { fr: '_dmarc.collectif-a.org. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@collectif-a.org"', en: '_dmarc.collectif-a.org. IN TXT "v=DMARC1; p=quarantine; rua=mailto:dmarc@collectif-a.org"' } },
        pass('mx', 'mx.collectif-a.org (10)'),
      ],
    };
  }
  return { domain, findings: [pass('dkim', 'relais2026._domainkey OK'), pass('spf', 'v=spf1 include:_spf.relais.example -all'), pass('dmarc', 'p=reject'), pass('mx', 'mx1.amap-b.fr (10)')] };
}

/** 12 months ending with the current one; the share of the US giants goes down over the year. */
export function demailnagement(now: Date) {
  const shares = [68, 66.5, 64, 63, 60.5, 58, 55, 52.5, 50, 47, 44.5, 41.2];
  return shares.map((share, i) => {
    const d = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth() - (11 - i), 1));
    const total = 3000 + i * 120;
    const usGiants = Math.round((total * share) / 100);
    return { month: d.toISOString().slice(0, 7), total, usGiants, usGiantsPct: share, others: total - usGiants, deliveredPctUsGiants: 94.1 + i * 0.2, deliveredPctOthers: 98.3 };
  });
}

export const TENANTS = [
  { id: 'collectif-a', name: 'Collectif A', domains: ['collectif-a.org'] },
  { id: 'amap-b', name: 'AMAP B', domains: ['amap-b.fr'] },
];
