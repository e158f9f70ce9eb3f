/**
 * DMARC reports to Relais: the record's rua= should name dmarc@<bounce domain> (Relais reads
 * them), and when the domain is outside the bounce domain's organisation the bounce domain must
 * say it accepts them (RFC 7489 §7.1: TXT "v=DMARC1" at <domain>._report._dmarc.<bounce domain>).
 * With 30 days of reports, a p=none policy is advised up to quarantine when ≥ 98 % of the mail
 * in the domain's name was aligned, and kept (with the figure) otherwise.
 */
import { getDomain } from 'tldts';
import { createRequire } from 'node:module';
import type { CheckDns } from './dns.js';
import type { DmarcReportsAdvice, Finding } from './types.js';

interface DmarcRecord {
  p?: string;
  rua?: string;
  rr: string;
}

const getDmarcRecord = createRequire(import.meta.url)('mailauth/lib/dmarc/get-dmarc-record.js') as (domain: string, resolver: CheckDns['lookup']) => Promise<DmarcRecord | false>;

/** Share of aligned mail needed before advising p=quarantine, and the reports it is judged on. */
export const QUARANTINE_SHARE = 0.98;
const MIN_MESSAGES = 100;

const orgOf = (d: string) => getDomain(d, { allowPrivateDomains: true }) ?? d;
const pct = (x: number) => Math.round(x * 1000) / 10;

export async function checkDmarcReports(dns: CheckDns, domain: string, a: DmarcReportsAdvice): Promise<Finding[]> {
  const rec = await getDmarcRecord(domain, dns.lookup).catch(() => false as const);
  if (!rec) return []; // the dmarc finding already asks for a record (with this rua= in it)
  const out: Finding[] = [];
  const rua = `mailto:dmarc@${a.bounceDomain}`;
  const listed = (rec.rua ?? '').toLowerCase().split(',').map((u) => u.trim().replace(/!.*$/, ''));
  const external = orgOf(domain) !== orgOf(a.bounceDomain);
  const authName = `${domain}._report._dmarc.${a.bounceDomain}`;
  if (!listed.includes(rua)) {
    const next = rec.rr.replace(/;?\s*$/, '').replace(/\brua=([^;]*)/i, (_m, v: string) => `rua=${v.trim()},${rua}`);
    const record = /\brua=/i.test(next) ? next : `${rec.rr.replace(/;?\s*$/, '')}; rua=${rua}`;
    const auth = external ? { fr: ` L'opérateur de Relais publie aussi le TXT ${authName} : "v=DMARC1".`, en: ` Relais's operator also publishes the TXT ${authName}: "v=DMARC1".` } : { fr: '', en: '' };
    out.push({
      check: 'dmarc-reports',
      status: 'warn',
      detail: `_dmarc.${domain}: rua= does not include ${rua}: Relais gets no aggregate reports for this domain.`,
      fix: { fr: `Ajoutez ${rua} à rua= : ${record}.${auth.fr}`, en: `Add ${rua} to rua=: ${record}.${auth.en}` },
    });
  } else if (external) {
    const txt = await dns.txt(authName).catch(() => [] as string[]);
    if (!txt.some((t) => /^v=DMARC1\b/i.test(t.trim()))) {
      out.push({
        check: 'dmarc-reports',
        status: 'warn',
        detail: `${authName}: missing, so reporters drop rua=${rua} (RFC 7489 §7.1: ${domain} is outside ${orgOf(a.bounceDomain)}).`,
        fix: { fr: `Publiez le TXT ${authName} : "v=DMARC1" (zone de ${a.bounceDomain}).`, en: `Publish the TXT ${authName}: "v=DMARC1" (in ${a.bounceDomain}'s zone).` },
      });
    } else {
      out.push({ check: 'dmarc-reports', status: 'pass', detail: `rua= includes ${rua}; ${authName} authorises it.` });
    }
  } else {
    out.push({ check: 'dmarc-reports', status: 'pass', detail: `rua= includes ${rua}.` });
  }
  const p = (rec.p ?? '').toLowerCase();
  const r = a.last30Days;
  if (p === 'none' && r && r.messages >= MIN_MESSAGES && r.share !== null) {
    const figures = `${r.messages} messages reported in 30 days, ${pct(r.share)} % aligned`;
    out.push(
      r.share >= QUARANTINE_SHARE
        ? {
          check: 'dmarc-reports',
          status: 'warn',
          detail: `${figures}: p=none can move to quarantine.`,
          fix: {
            fr: `Passez à p=quarantine : ${rec.rr.replace(/\bp=none\b/i, 'p=quarantine')}`,
            en: `Move to p=quarantine: ${rec.rr.replace(/\bp=none\b/i, 'p=quarantine')}`,
          },
        }
        : {
          check: 'dmarc-reports',
          status: 'warn',
          detail: `${figures} (under ${pct(QUARANTINE_SHARE)} %): keep p=none for now.`,
          fix: {
            fr: `Gardez p=none : voyez \`relais dmarc show ${domain}\` pour les sources non alignées (formulaire de site, ancien service d'envoi) et faites-les passer par Relais ou signer.`,
            en: `Keep p=none: see \`relais dmarc show ${domain}\` for the unaligned sources (a website form, an old mailing service) and route them through Relais or have them sign.`,
          },
        },
    );
  }
  return out;
}
