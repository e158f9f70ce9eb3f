/** DMARC: a policy record exists (own or organisational domain), parsed by mailauth. */
import { createRequire } from 'node:module';
import { describeDnsError, type LookupFn } from './dns.js';
import { retry } from './check-dkim.js';
import type { Finding } from './types.js';

interface DmarcRecord {
  v?: string;
  p?: string;
  sp?: string;
  pct?: number;
  rua?: string;
  rr: string;
  isOrgRecord: boolean;
}

// mailauth's record lookup and parser (org-domain fallback included); not in its typed exports.
const getDmarcRecord = createRequire(import.meta.url)('mailauth/lib/dmarc/get-dmarc-record.js') as (
  domain: string,
  resolver: LookupFn,
) => Promise<DmarcRecord | false>;

/** `reportDomain`: Relais's bounce domain, whose dmarc@ reads the reports (else the domain's own). */
export async function checkDmarc(lookup: LookupFn, domain: string, reportDomain?: string): Promise<Finding> {
  const suggestion = `v=DMARC1; p=none; rua=mailto:dmarc@${reportDomain ?? domain}`;
  let rec: DmarcRecord | false;
  try {
    rec = await getDmarcRecord(domain, lookup);
  } catch (err) {
    return { check: 'dmarc', status: 'warn', detail: `_dmarc.${domain}: ${describeDnsError(err)} (temporary?)`, fix: retry() };
  }
  if (!rec) {
    return {
      check: 'dmarc',
      status: 'fail',
      detail: `_dmarc.${domain}: no DMARC record (Gmail and Yahoo require one for bulk mail such as newsletters).`,
      fix: {
        fr: `Publiez l'enregistrement TXT _dmarc.${domain} : ${suggestion} (puis passez à p=quarantine quand les rapports sont propres).`,
        en: `Publish the TXT record _dmarc.${domain}: ${suggestion} (then move to p=quarantine once reports are clean).`,
      },
    };
  }
  const where = rec.isOrgRecord ? `organisational domain record "${rec.rr}"` : `"${rec.rr}"`;
  const p = (rec.p ?? '').toLowerCase();
  if (!['none', 'quarantine', 'reject'].includes(p)) {
    return {
      check: 'dmarc',
      status: 'fail',
      detail: `_dmarc.${domain}: ${where} has no valid p= policy.`,
      fix: { fr: `Corrigez l'enregistrement, par exemple : ${suggestion}`, en: `Fix the record, for example: ${suggestion}` },
    };
  }
  if (p === 'none') {
    return {
      check: 'dmarc',
      status: 'warn',
      detail: `_dmarc.${domain}: ${where}: policy none (monitoring only, spoofing not blocked).`,
      fix: {
        fr: 'Quand les rapports DMARC montrent que tout votre courrier passe, passez à p=quarantine puis p=reject.',
        en: 'Once DMARC reports show all your mail passing, move to p=quarantine, then p=reject.',
      },
    };
  }
  return { check: 'dmarc', status: 'pass', detail: `_dmarc.${domain}: ${where}: policy ${p}.` };
}
