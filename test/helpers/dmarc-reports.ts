/**
 * DMARC aggregate reports shaped like the big reporters' (element order, namespaces, extra
 * elements and file names as in real samples, e.g. domainaware/parsedmarc samples/aggregate:
 * Google's zip of "google.com!<domain>!<begin>!<end>.xml", Microsoft's gzip with xsd/xsi
 * namespaces and <version>, Yahoo's plain layout), the mail carrying them, TLS reports
 * (RFC 8460 §4.4) and the hostile variants (gzip bomb, external entity).
 */
import { gzipSync } from 'node:zlib';
import { zipSync, strToU8 } from 'fflate';

export interface Row {
  ip: string;
  count: number;
  disposition?: 'none' | 'quarantine' | 'reject';
  /** policy_evaluated (aligned) results. */
  dkim: 'pass' | 'fail';
  spf: 'pass' | 'fail';
  headerFrom?: string;
  dkimDomain?: string;
  spfDomain?: string;
}

export type Reporter = 'google' | 'microsoft' | 'yahoo';

export interface ReportSpec {
  reporter: Reporter;
  domain: string;
  reportId: string;
  /** Epoch seconds; the report covers [begin, begin + 86399]. */
  begin: number;
  rows: Row[];
  p?: 'none' | 'quarantine' | 'reject';
}

const ORG: Record<Reporter, { org: string; email: string; head: string; feedbackAttrs: string; version: string; extra: string }> = {
  google: { org: 'google.com', email: 'noreply-dmarc-support@google.com', head: '<?xml version="1.0" encoding="UTF-8" ?>', feedbackAttrs: '', version: '', extra: '<extra_contact_info>https://support.google.com/a/answer/2466580</extra_contact_info>' },
  microsoft: { org: 'Enterprise Outlook', email: 'dmarcreport@microsoft.com', head: '<?xml version="1.0"?>', feedbackAttrs: ' xmlns:xsd="http://www.w3.org/2001/XMLSchema" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"', version: '<version>1.0</version>', extra: '' },
  yahoo: { org: 'Yahoo', email: 'dmarchelp@yahooinc.com', head: '<?xml version="1.0"?>', feedbackAttrs: '', version: '', extra: '' },
};

export function aggregateXml(s: ReportSpec): string {
  const o = ORG[s.reporter];
  const records = s.rows.map((r) => {
    const from = r.headerFrom ?? s.domain;
    const dkimAuth = r.dkimDomain ? `<dkim><domain>${r.dkimDomain}</domain><selector>relais</selector><result>${r.dkim === 'pass' ? 'pass' : 'fail'}</result></dkim>` : '';
    const envTo = s.reporter === 'microsoft' ? '<envelope_to>hotmail.com</envelope_to>' : '';
    return `
  <record>
    <row>
      <source_ip>${r.ip}</source_ip>
      <count>${r.count}</count>
      <policy_evaluated>
        <disposition>${r.disposition ?? 'none'}</disposition>
        <dkim>${r.dkim}</dkim>
        <spf>${r.spf}</spf>
      </policy_evaluated>
    </row>
    <identifiers>${envTo}
      <header_from>${from}</header_from>
    </identifiers>
    <auth_results>
      ${dkimAuth}<spf><domain>${r.spfDomain ?? from}</domain>${s.reporter === 'microsoft' ? '<scope>mfrom</scope>' : ''}<result>${r.spf === 'pass' ? 'pass' : 'softfail'}</result></spf>
    </auth_results>
  </record>`;
  });
  return `${o.head}
<feedback${o.feedbackAttrs}>
  ${o.version}
  <report_metadata>
    <org_name>${o.org}</org_name>
    <email>${o.email}</email>
    ${o.extra}
    <report_id>${s.reportId}</report_id>
    <date_range>
      <begin>${s.begin}</begin>
      <end>${s.begin + 86_399}</end>
    </date_range>
  </report_metadata>
  <policy_published>
    <domain>${s.domain}</domain>
    <adkim>r</adkim>
    <aspf>r</aspf>
    <p>${s.p ?? 'none'}</p>
    <sp>${s.p ?? 'none'}</sp>
    <pct>100</pct>
  </policy_published>${records.join('')}
</feedback>
`;
}

export interface Attachment {
  filename: string;
  contentType: string;
  data: Buffer;
}

/** Packed as each reporter sends it: Google zip, Microsoft gzip, Yahoo (here) plain XML. */
export function packReport(s: ReportSpec): Attachment {
  const xml = aggregateXml(s);
  const base = `${ORG[s.reporter].org.toLowerCase().replace(/\s+/g, '.')}!${s.domain}!${s.begin}!${s.begin + 86_399}`;
  if (s.reporter === 'google') return { filename: `${base}.zip`, contentType: 'application/zip', data: Buffer.from(zipSync({ [`${base}.xml`]: strToU8(xml) })) };
  if (s.reporter === 'microsoft') return { filename: `${base}.xml.gz`, contentType: 'application/gzip', data: gzipSync(xml) };
  return { filename: `${base}.xml`, contentType: 'text/xml', data: Buffer.from(xml) };
}

/** A report mail: a short text part, then the attachment in base64 (76-column lines). */
export function reportMessage(o: { from: string; to: string; subject: string; attachment: Attachment }): string {
  const boundary = `----=_Part_${Math.random().toString(36).slice(2)}`;
  const b64 = o.attachment.data.toString('base64').replace(/.{76}/g, '$&\r\n');
  return [
    `From: ${o.from}`,
    `To: ${o.to}`,
    `Subject: ${o.subject}`,
    `Date: ${new Date().toUTCString()}`,
    `Message-ID: <${Math.random().toString(36).slice(2)}@reports.example>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/mixed; boundary="${boundary}"`,
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=UTF-8',
    'Content-Transfer-Encoding: 7bit',
    '',
    'This is an aggregate report.',
    '',
    `--${boundary}`,
    `Content-Type: ${o.attachment.contentType}; name="${o.attachment.filename}"`,
    `Content-Disposition: attachment; filename="${o.attachment.filename}"`,
    'Content-Transfer-Encoding: base64',
    '',
    b64,
    `--${boundary}--`,
    '',
  ].join('\r\n');
}

export function aggregateMail(s: ReportSpec, to: string): string {
  const o = ORG[s.reporter];
  return reportMessage({ from: o.email, to, subject: `Report domain: ${s.domain} Submitter: ${o.org} Report-ID: ${s.reportId}`, attachment: packReport(s) });
}

/** RFC 8460 §4.4 shaped TLS report, gzip as application/tlsrpt+gzip. */
export function tlsReportMail(o: { domain: string; reportId: string; begin: number; ok: number; failed: number; to: string }): string {
  const day = new Date(o.begin * 1000).toISOString().slice(0, 10);
  const json = JSON.stringify({
    'organization-name': 'Google Inc.',
    'date-range': { 'start-datetime': `${day}T00:00:00Z`, 'end-datetime': `${day}T23:59:59Z` },
    'contact-info': 'smtp-tls-reporting@google.com',
    'report-id': o.reportId,
    policies: [
      {
        policy: { 'policy-type': 'sts', 'policy-string': ['version: STSv1', 'mode: enforce', `mx: mx.${o.domain}`, 'max_age: 86400'], 'policy-domain': o.domain },
        summary: { 'total-successful-session-count': o.ok, 'total-failure-session-count': o.failed },
        'failure-details': o.failed ? [{ 'result-type': 'certificate-expired', 'sending-mta-ip': '209.85.220.41', 'receiving-mx-hostname': `mx.${o.domain}`, 'failed-session-count': o.failed }] : [],
      },
    ],
  });
  return reportMessage({ from: 'noreply-smtp-tls-reporting@google.com', to: o.to, subject: `Report Domain: ${o.domain} Submitter: google.com Report-ID: <${o.reportId}>`, attachment: { filename: `google.com!${o.domain}!${o.begin}!${o.begin + 86_399}!001.json.gz`, contentType: 'application/tlsrpt+gzip', data: gzipSync(json) } });
}

/**
 * A gzip file that inflates to `gib` GiB of a report that stays well-formed XML as far as it is
 * read (<feedback> then spaces, so only the size cap can stop it), about 1 MiB per GiB on the
 * wire: 1,024 gzip members of 1 MiB each (RFC 1952 §2.2 allows any number; gunzip reads them
 * all), built from one compressed member so generating it costs nothing.
 */
export function gzipBomb(gib = 1): Buffer {
  const member = gzipSync(Buffer.alloc(1 << 20, 0x20), { level: 9 });
  return Buffer.concat([gzipSync('<?xml version="1.0"?>\n<feedback>'), ...Array.from({ length: 1024 * gib }, () => member)]);
}

/** A report whose DOCTYPE declares an external entity (XXE), used in the org name. */
export function xxeXml(domain: string): string {
  return `<?xml version="1.0"?>
<!DOCTYPE feedback [ <!ENTITY xxe SYSTEM "file:///etc/passwd"> ]>
<feedback><report_metadata><org_name>&xxe;</org_name><email>x@evil.example</email><report_id>xxe-1</report_id>
<date_range><begin>1700000000</begin><end>1700086399</end></date_range></report_metadata>
<policy_published><domain>${domain}</domain><p>none</p></policy_published>
<record><row><source_ip>192.0.2.66</source_ip><count>5</count><policy_evaluated><disposition>none</disposition><dkim>pass</dkim><spf>pass</spf></policy_evaluated></row>
<identifiers><header_from>${domain}</header_from></identifiers><auth_results><spf><domain>${domain}</domain><result>pass</result></spf></auth_results></record>
</feedback>`;
}
