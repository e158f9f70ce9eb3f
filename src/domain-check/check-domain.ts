/**
 * checkDomain: is this sender domain ready to send through the exit node? DKIM records match the
 * keys Relais signs with, SPF authorises the exit node's IPs, DMARC exists, the domain has MX,
 * and (optional) MTA-STS / TLS-RPT. Read-only DNS queries against the configured servers.
 */
import { checkDkim } from './check-dkim.js';
import { checkDmarc } from './check-dmarc.js';
import { checkDmarcReports } from './check-dmarc-reports.js';
import { checkMx } from './check-mx.js';
import { checkSpf } from './check-spf.js';
import { checkMtaSts, checkTlsRpt } from './check-tls-policies.js';
import { makeCheckDns } from './dns.js';
import type { DomainCheckOptions, Finding } from './types.js';

export async function checkDomain(domainIn: string, opts: DomainCheckOptions): Promise<Finding[]> {
  const domain = domainIn.trim().toLowerCase().replace(/\.$/, '');
  const dns = makeCheckDns(opts.servers, opts.timeoutMs);
  const [dkim, spf, dmarc, reports, mx, mtaSts, tlsRpt] = await Promise.all([
    checkDkim(dns, domain, opts),
    checkSpf(dns, domain, opts),
    checkDmarc(dns.lookup, domain, opts.dmarcReports?.bounceDomain),
    opts.dmarcReports ? checkDmarcReports(dns, domain, opts.dmarcReports) : [],
    checkMx(dns.lookup, domain),
    checkMtaSts(dns, domain),
    checkTlsRpt(dns, domain, opts.dmarcReports?.bounceDomain),
  ]);
  return [...dkim, spf, dmarc, ...reports, mx, mtaSts, tlsRpt];
}

/** Worst status of a set of findings. */
export function overallStatus(findings: Finding[]): 'pass' | 'warn' | 'fail' {
  if (findings.some((f) => f.status === 'fail')) return 'fail';
  return findings.some((f) => f.status === 'warn') ? 'warn' : 'pass';
}
