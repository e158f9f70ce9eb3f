/** Domain health check results: one finding per check (per selector for DKIM). */

export type CheckName = 'dkim' | 'spf' | 'dmarc' | 'dmarc-reports' | 'mx' | 'mta-sts' | 'tls-rpt';
export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface Finding {
  check: CheckName;
  status: CheckStatus;
  /** Technical description of what was found (record values, per-IP results). */
  detail: string;
  /** What the domain owner should do, French first. Absent when status is 'pass'. */
  fix?: { fr: string; en: string };
}

export interface ExpectedDkimRecord {
  selector: string;
  /** The TXT value Relais expects, e.g. DkimKeyInfo.dns.value ("v=DKIM1; k=rsa; p=..."). */
  value: string;
}

export interface DomainCheckOptions {
  /** DNS servers as "ip" or "ip:port" ("[v6]:port"); default: the system's resolvers. */
  servers?: string[];
  /** Public IPs of the exit node(s): SPF must authorise each of them. */
  publicIps: string[];
  /** Selectors that must be published (e.g. all keys of the domain in the key store). */
  dkimSelectors?: string[];
  /** Exact records expected for selectors (p= and k= must match). */
  expectedDkimRecords?: ExpectedDkimRecord[];
  /** Include the operator recommends in SPF (e.g. "_spf.relais.example.net"); else ip4:/ip6: terms. */
  spfInclude?: string;
  /** Per DNS query, default 3000 ms. */
  timeoutMs?: number;
  /** When Relais takes DMARC reports (a bounce domain is set): rua= and policy advice. */
  dmarcReports?: DmarcReportsAdvice;
}

export interface DmarcReportsAdvice {
  bounceDomain: string;
  /** All mail in the domain's name, as the last 30 days of reports saw it. */
  last30Days?: { messages: number; share: number | null };
}
