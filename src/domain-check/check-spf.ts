/**
 * SPF: evaluated by mailauth for each public IP of the exit node, as a receiver would (includes,
 * redirects, the 10-lookup and 2-void-lookup limits), against the configured DNS servers.
 */
import { describeDnsError, type CheckDns } from './dns.js';
import { retry } from './check-dkim.js';
import type { DomainCheckOptions, Finding } from './types.js';

const ipTerm = (ip: string): string => (ip.includes(':') ? `ip6:${ip}` : `ip4:${ip}`);

/** Mechanisms that authorise the exit node: the operator's include, or its (refused) IPs. */
function wantedTerms(opts: DomainCheckOptions, ips = opts.publicIps): string {
  return opts.spfInclude ? `include:${opts.spfInclude}` : ips.map(ipTerm).join(' ');
}

/** The record with the terms inserted before its "all" (or redirect), for copy-paste. */
export function suggestSpf(record: string | undefined, terms: string): string {
  if (!record) return `v=spf1 ${terms} ~all`;
  const m = record.match(/\s([-~?+]?all|redirect=\S+)(\s|$)/i);
  if (!m || m.index === undefined) return `${record} ${terms}`;
  return `${record.slice(0, m.index)} ${terms}${record.slice(m.index)}`;
}

export async function checkSpf(dns: CheckDns, domain: string, opts: DomainCheckOptions): Promise<Finding> {
  let records: string[];
  try {
    records = (await dns.txt(domain)).filter((r) => /^v=spf1(\s|$)/i.test(r.trim()));
  } catch (err) {
    return { check: 'spf', status: 'warn', detail: `${domain}: ${describeDnsError(err)} (temporary?)`, fix: retry() };
  }
  const terms = wantedTerms(opts);
  if (records.length === 0) {
    const rec = suggestSpf(undefined, terms);
    return {
      check: 'spf',
      status: 'fail',
      detail: `${domain}: no SPF record; receivers cannot tell that the exit node (${opts.publicIps.join(', ')}) may send for it.`,
      fix: { fr: `Publiez sur ${domain} l'enregistrement TXT : ${rec}`, en: `Publish on ${domain} the TXT record: ${rec}` },
    };
  }
  if (records.length > 1) {
    return {
      check: 'spf',
      status: 'fail',
      detail: `${domain}: ${records.length} SPF records (permerror): ${records.join(' | ')}`,
      fix: {
        fr: `Fusionnez-les en un seul enregistrement SPF qui contient ${terms}.`,
        en: `Merge them into a single SPF record that contains ${terms}.`,
      },
    };
  }
  const record = records[0];
  const results = await Promise.all(
    opts.publicIps.map(async (ip) => {
      // Loaded on first use (a domain check): mailauth whole is ~30 MiB the relay need not carry.
      const { spf } = await import('mailauth');
      const r = await spf({ sender: `postmaster@${domain}`, ip, helo: domain, mta: 'relais', resolver: dns.lookup });
      return { ip, result: r.status.result, comment: r.status.comment ?? '', lookups: r.lookups?.count ?? 0 };
    }),
  );
  const detail = `${domain}: "${record}"; ` + results.map((r) => `${r.ip} → ${r.result} (${r.lookups} DNS lookups)`).join(', ');
  const perm = results.find((r) => r.result === 'permerror');
  if (perm) {
    return {
      check: 'spf',
      status: 'fail',
      detail: `${detail}. ${perm.comment}`,
      fix: {
        fr: `Corrigez l'enregistrement SPF (erreur permanente, souvent plus de 10 requêtes DNS via include:) : ${perm.comment}`,
        en: `Fix the SPF record (permanent error, often more than 10 DNS lookups through include:): ${perm.comment}`,
      },
    };
  }
  if (results.some((r) => r.result === 'temperror')) return { check: 'spf', status: 'warn', detail, fix: retry() };
  const refused = results.filter((r) => r.result !== 'pass');
  if (refused.length) {
    const add = wantedTerms(opts, refused.map((r) => r.ip));
    const rec = suggestSpf(record, add);
    const already = opts.spfInclude && record.toLowerCase().includes(`include:${opts.spfInclude.toLowerCase()}`);
    return {
      check: 'spf',
      status: 'fail',
      detail,
      fix: already
        ? {
            fr: `L'include ${opts.spfInclude} ne couvre pas ${refused.map((r) => r.ip).join(', ')} : prévenez l'hébergeur.`,
            en: `The include ${opts.spfInclude} does not cover ${refused.map((r) => r.ip).join(', ')}: tell the hoster.`,
          }
        : {
            fr: `Ajoutez ${add} à l'enregistrement SPF de ${domain} : ${rec}`,
            en: `Add ${add} to the SPF record of ${domain}: ${rec}`,
          },
    };
  }
  if (/(^|\s)\+?all(\s|$)/i.test(record)) {
    return {
      check: 'spf',
      status: 'warn',
      detail: `${detail}. "+all" lets anyone send as ${domain}.`,
      fix: { fr: 'Remplacez « +all » par « ~all » ou « -all ».', en: 'Replace "+all" with "~all" or "-all".' },
    };
  }
  return { check: 'spf', status: 'pass', detail };
}
