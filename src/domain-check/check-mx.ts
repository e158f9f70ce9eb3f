/** MX: the domain can receive replies, bounces and DMARC/TLS reports. */
import { describeDnsError, isAbsent, type LookupFn } from './dns.js';
import { retry } from './check-dkim.js';
import type { Finding } from './types.js';

export async function checkMx(lookup: LookupFn, domain: string): Promise<Finding> {
  let mx: Array<{ exchange: string; priority: number }>;
  try {
    mx = await lookup(domain, 'MX');
  } catch (err) {
    if (!isAbsent(err)) return { check: 'mx', status: 'warn', detail: `${domain}: ${describeDnsError(err)} (temporary?)`, fix: retry() };
    mx = [];
  }
  const noMail = {
    fr: `Publiez un enregistrement MX pour ${domain} : sans lui, réponses et avis de non-remise sont perdus.`,
    en: `Publish an MX record for ${domain}: without it, replies and bounces are lost.`,
  };
  if (mx.length === 0) return { check: 'mx', status: 'warn', detail: `${domain}: no MX record.`, fix: noMail };
  if (mx.length === 1 && (mx[0].exchange === '' || mx[0].exchange === '.'))
    return { check: 'mx', status: 'warn', detail: `${domain}: null MX (RFC 7505): the domain receives no mail.`, fix: noMail };
  const sorted = [...mx].sort((a, b) => a.priority - b.priority);
  for (const { exchange } of sorted) {
    for (const type of ['A', 'AAAA']) {
      try {
        if ((await lookup(exchange, type)).length) {
          return { check: 'mx', status: 'pass', detail: `${domain}: MX ${sorted.map((m) => `${m.priority} ${m.exchange}`).join(', ')}.` };
        }
      } catch {
        /* try the next type / host */
      }
    }
  }
  return {
    check: 'mx',
    status: 'fail',
    detail: `${domain}: MX ${sorted.map((m) => m.exchange).join(', ')} but no host has an address.`,
    fix: { fr: "Donnez une adresse (A/AAAA) au serveur MX ou corrigez son nom.", en: 'Give the MX host an address (A/AAAA) or fix its name.' },
  };
}
