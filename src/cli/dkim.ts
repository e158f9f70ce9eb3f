/** `relais dkim generate|list|activate|dns|remove`: DKIM keys and the DNS records to publish. */
import type { Command } from 'commander';
import { adminCommand } from './common.js';
import { apiAction, out, printJson, progress, shortTime, table } from './output.js';

interface DnsRecord {
  name: string;
  type: string;
  value: string;
  strings?: string[];
  zoneLine: string;
}

interface Key {
  domain: string;
  selector: string;
  algo: string;
  status: string;
  createdAt: number;
  activatedAt?: number;
  retiredAt?: number;
  storage: 'encrypted' | 'file';
  dns: DnsRecord;
}

export function printDnsRecord(dns: DnsRecord): void {
  out('Publish this DNS record / Publiez cet enregistrement DNS :');
  out(`  name:  ${dns.name}`);
  out(`  type:  ${dns.type}`);
  out(`  value: ${dns.value}`);
  out('Zone file line / Ligne de fichier de zone :');
  out(`  ${dns.zoneLine}`);
}

const STORAGE = { encrypted: 'private key encrypted in the store (master key)', file: 'private key in a 0600 file (no master key set)' } as const;

export function registerDkim(program: Command): void {
  const dkim = program.command('dkim').description('DKIM keys of the sending domains');

  adminCommand(dkim.command('generate <domain>').description('create a key and print the DNS TXT record to publish'))
    .option('-s, --selector <selector>', 'selector (default: generated from the date)')
    .option('-a, --algo <algo>', 'rsa (2048 bits) or ed25519', 'rsa')
    .option('--stage', 'keep the key staged for a rotation; activate it once the DNS record is published')
    .action(
      apiAction<[string]>(async (api, [domain], o) => {
        if (o.algo !== 'rsa' && o.algo !== 'ed25519') throw new Error(`--algo: expected rsa or ed25519, got ${JSON.stringify(o.algo)}`);
        const body: Record<string, unknown> = { algo: o.algo, stage: Boolean(o.stage) };
        if (o.selector) body.selector = o.selector;
        const p = progress(`generating ${o.algo} key for ${domain}`);
        const r = await api.call<{ key: Key; dns: DnsRecord }>('POST', `/dkim/${encodeURIComponent(domain)}/keys`, body).finally(() => p.done());
        if (o.json) return printJson(r);
        const k = r.key;
        out(`DKIM key ${k.selector} (${k.algo}) for ${k.domain}: ${k.status}; ${STORAGE[k.storage] ?? k.storage}`);
        printDnsRecord(r.dns);
        if (k.status === 'staged') out(`Then / Ensuite : relais dkim activate ${k.domain} ${k.selector}`);
      }),
    );

  adminCommand(dkim.command('list [domain]').description('keys (public parts only), all domains or one')).action(
    apiAction<[string | undefined]>(async (api, [domain], o) => {
      const r = await api.call<{ items: Key[] }>('GET', `/dkim/keys${domain ? `?domain=${encodeURIComponent(domain)}` : ''}`);
      if (o.json) return printJson(r);
      out(
        table(
          ['DOMAIN', 'SELECTOR', 'ALGO', 'STATUS', 'CREATED', 'ACTIVATED', 'STORAGE', 'DNS NAME'],
          r.items.map((k) => [k.domain, k.selector, k.algo, k.status, shortTime(k.createdAt), shortTime(k.activatedAt), k.storage, k.dns.name]),
          '(no DKIM key)',
        ),
      );
    }),
  );

  adminCommand(dkim.command('activate <domain> <selector>').description('activate a staged key (the active key of that algorithm is retired)')).action(
    apiAction<[string, string]>(async (api, [domain, selector], o) => {
      const k = await api.call<Key>('POST', `/dkim/${encodeURIComponent(domain)}/keys/${encodeURIComponent(selector)}/activate`);
      if (o.json) return printJson(k);
      out(`DKIM key ${k.selector} (${k.algo}) for ${k.domain} is now ${k.status}`);
    }),
  );

  adminCommand(dkim.command('dns <domain>').description('DNS records to publish for the domain (staged and active keys)')).action(
    apiAction<[string]>(async (api, [domain], o) => {
      const r = await api.call<{ items: DnsRecord[] }>('GET', `/dkim/${encodeURIComponent(domain)}/dns`);
      if (o.json) return printJson(r);
      if (!r.items.length) return out(`(no DKIM key for ${domain}: relais dkim generate ${domain})`);
      for (const d of r.items) out(d.zoneLine);
    }),
  );

  adminCommand(dkim.command('remove <domain> <selector>').description('delete a key')).action(
    apiAction<[string, string]>(async (api, [domain, selector], o) => {
      const r = await api.call('DELETE', `/dkim/${encodeURIComponent(domain)}/keys/${encodeURIComponent(selector)}`);
      if (o.json) return printJson(r);
      out(`DKIM key ${selector} of ${domain} removed`);
    }),
  );
}
