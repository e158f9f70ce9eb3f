/**
 * What the report intake reads out of an inbound message: DMARC aggregate reports (RFC 7489
 * §7.2, XML) and SMTP TLS reports (RFC 8460, JSON). Only the fields Relais stores are kept;
 * rows are already summed by what is stored (reporter, source IP, results), so a report's size
 * in memory is bounded by its distinct rows, not by its bytes.
 */

export type Disposition = 'none' | 'quarantine' | 'reject' | 'other';
/** policy_evaluated dkim/spf: the DMARC-aligned verdicts. */
export type EvalResult = 'pass' | 'fail' | 'other';
/** auth_results spf/dkim: the raw results, whatever the alignment. */
export type AuthResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror' | 'policy' | 'other';

export interface AggregateRow {
  /** header_from (lower-case), else the policy's domain. */
  domain: string;
  sourceIp: string;
  count: number;
  disposition: Disposition;
  dkim: EvalResult;
  spf: EvalResult;
  dkimAuth: AuthResult;
  spfAuth: AuthResult;
}

export interface AggregateReport {
  kind: 'dmarc';
  org: string;
  reportId: string;
  /** Epoch seconds of date_range. */
  begin: number;
  end: number;
  policyDomain: string;
  /** Published policy (p=) as reported. */
  policy?: string;
  rows: AggregateRow[];
}

export interface TlsPolicyResult {
  domain: string;
  policyType: string;
  successful: number;
  failed: number;
  /** result-type → failed session count. */
  failures: Record<string, number>;
}

export interface TlsReport {
  kind: 'tlsrpt';
  org: string;
  reportId: string;
  begin: number;
  end: number;
  policies: TlsPolicyResult[];
}

export type InboundReport = AggregateReport | TlsReport;

/** Why an attachment was refused: a label for the metric, a text for the log. */
export class ReportRejected extends Error {
  /** What the part looked like (XML → dmarc, JSON → tlsrpt), once known. */
  kind?: InboundReport['kind'];
  constructor(
    readonly reason: 'too_large' | 'doctype' | 'malformed' | 'too_many_rows',
    message: string,
  ) {
    super(message);
    this.name = 'ReportRejected';
  }
}
