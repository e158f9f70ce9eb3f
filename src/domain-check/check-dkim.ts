/** DKIM: each selector's TXT record is published and carries the key Relais signs with. */
import { describeDnsError, type CheckDns } from './dns.js';
import type { DomainCheckOptions, Finding } from './types.js';

export function parseTags(record: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of record.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    tags.set(part.slice(0, eq).trim().toLowerCase(), part.slice(eq + 1).replace(/\s+/g, ''));
  }
  return tags;
}

export async function checkDkim(dns: CheckDns, domain: string, opts: DomainCheckOptions): Promise<Finding[]> {
  const expected = new Map<string, string | undefined>();
  for (const s of opts.dkimSelectors ?? []) expected.set(s.toLowerCase(), undefined);
  for (const r of opts.expectedDkimRecords ?? []) expected.set(r.selector.toLowerCase(), r.value);
  if (expected.size === 0) {
    return [
      {
        check: 'dkim',
        status: 'warn',
        detail: `No DKIM key is configured in Relais for ${domain}: its mail leaves unsigned.`,
        fix: {
          fr: `Créez une clé DKIM pour ${domain} dans Relais, puis publiez l'enregistrement TXT indiqué.`,
          en: `Create a DKIM key for ${domain} in Relais, then publish the TXT record it shows.`,
        },
      },
    ];
  }
  return Promise.all([...expected].map(([selector, value]) => checkSelector(dns, domain, selector, value)));
}

async function checkSelector(dns: CheckDns, domain: string, selector: string, want: string | undefined): Promise<Finding> {
  const name = `${selector}._domainkey.${domain}`;
  const publish = want
    ? { fr: `Publiez l'enregistrement TXT ${name} avec la valeur : ${want}`, en: `Publish the TXT record ${name} with the value: ${want}` }
    : { fr: `Publiez l'enregistrement TXT ${name} affiché par Relais.`, en: `Publish the TXT record ${name} shown by Relais.` };
  let records: string[];
  try {
    records = await dns.txt(name);
  } catch (err) {
    return { check: 'dkim', status: 'warn', detail: `${name}: ${describeDnsError(err)} (temporary?)`, fix: retry() };
  }
  const keys = records.map(parseTags).filter((t) => t.has('p'));
  if (keys.length === 0) return { check: 'dkim', status: 'fail', detail: `${name}: no DKIM record published.`, fix: publish };
  if (keys.length > 1) return { check: 'dkim', status: 'fail', detail: `${name}: ${keys.length} DKIM records; verifiers need exactly one.`, fix: publish };
  const got = keys[0];
  if (!got.get('p')) return { check: 'dkim', status: 'fail', detail: `${name}: the key is revoked (empty p=).`, fix: publish };
  if (want) {
    const w = parseTags(want);
    const kGot = got.get('k') || 'rsa';
    const kWant = w.get('k') || 'rsa';
    if (got.get('p') !== w.get('p') || kGot !== kWant) {
      return {
        check: 'dkim',
        status: 'fail',
        detail: `${name}: published key (k=${kGot}) differs from the key Relais signs with (k=${kWant}); signatures will fail.`,
        fix: publish,
      };
    }
  }
  return { check: 'dkim', status: 'pass', detail: `${name}: ${want ? 'matches the key Relais signs with' : 'published'}.` };
}

export function retry(): { fr: string; en: string } {
  return {
    fr: 'Erreur DNS temporaire : relancez la vérification dans quelques minutes.',
    en: 'Temporary DNS error: run the check again in a few minutes.',
  };
}
