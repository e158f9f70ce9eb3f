/** MTA-STS (RFC 8461) and TLS-RPT (RFC 8460) records: optional hardening, so a warning when absent. */
import { describeDnsError, type CheckDns } from './dns.js';
import { retry } from './check-dkim.js';
import type { Finding } from './types.js';

export async function checkMtaSts(dns: CheckDns, domain: string): Promise<Finding> {
  const name = `_mta-sts.${domain}`;
  let recs: string[];
  try {
    recs = (await dns.txt(name)).filter((r) => /^v=STSv1\s*;/i.test(r.trim()));
  } catch (err) {
    return { check: 'mta-sts', status: 'warn', detail: `${name}: ${describeDnsError(err)} (temporary?)`, fix: retry() };
  }
  if (recs.length === 1 && /(^|;)\s*id=[A-Za-z0-9]{1,32}\s*(;|$)/.test(recs[0]))
    return { check: 'mta-sts', status: 'pass', detail: `${name}: "${recs[0]}" (the policy file at https://mta-sts.${domain}/ is not fetched by this check).` };
  return {
    check: 'mta-sts',
    status: 'warn',
    detail: recs.length ? `${name}: invalid or multiple records: ${recs.join(' | ')}` : `${name}: no MTA-STS record.`,
    fix: {
      fr: `Optionnel : publiez ${name} TXT "v=STSv1; id=AAAAMMJJ01" et la politique sur https://mta-sts.${domain}/.well-known/mta-sts.txt pour imposer TLS au courrier entrant.`,
      en: `Optional: publish ${name} TXT "v=STSv1; id=YYYYMMDD01" and the policy at https://mta-sts.${domain}/.well-known/mta-sts.txt to require TLS for incoming mail.`,
    },
  };
}

/** bounceDomain: set when Relais takes TLS reports (at tlsrpt@ that domain), so rua= should point there. */
export async function checkTlsRpt(dns: CheckDns, domain: string, bounceDomain?: string): Promise<Finding> {
  const name = `_smtp._tls.${domain}`;
  const rua = bounceDomain ? `tlsrpt@${bounceDomain}` : `tls-rpt@${domain}`;
  let recs: string[];
  try {
    recs = (await dns.txt(name)).filter((r) => /^v=TLSRPTv1\s*;/i.test(r.trim()));
  } catch (err) {
    return { check: 'tls-rpt', status: 'warn', detail: `${name}: ${describeDnsError(err)} (temporary?)`, fix: retry() };
  }
  if (recs.length === 1 && /rua=\s*(mailto:|https:)/i.test(recs[0])) return { check: 'tls-rpt', status: 'pass', detail: `${name}: "${recs[0]}".` };
  return {
    check: 'tls-rpt',
    status: 'warn',
    detail: recs.length ? `${name}: invalid or multiple records: ${recs.join(' | ')}` : `${name}: no TLS-RPT record.`,
    fix: {
      fr: `Optionnel : publiez ${name} TXT "v=TLSRPTv1; rua=mailto:${rua}" pour recevoir les rapports d'échec TLS${bounceDomain ? ' (Relais les lit)' : ''}.`,
      en: `Optional: publish ${name} TXT "v=TLSRPTv1; rua=mailto:${rua}" to receive TLS failure reports${bounceDomain ? ' (Relais reads them)' : ''}.`,
    },
  };
}
