/** The `dmarc:` and `dnsbl:` sections: defaults, overrides, errors naming the key. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/config.js';
import { queryName } from '../../src/dnsbl/check.js';

function load(yaml: string) {
  const file = join(mkdtempSync(join(tmpdir(), 'relais-cfg-')), 'relais.yaml');
  writeFileSync(file, yaml);
  return loadConfig({ file, env: {} });
}

describe('dmarc and dnsbl config', () => {
  it('defaults', () => {
    const c = load('hostname: relais.test\n');
    expect(c.dmarc).toEqual({ report_addresses: [], max_report_size: 20 * 1024 * 1024, max_rows: 10_000, max_rows_per_day: 50_000 });
    expect(c.dnsbl.interval_ms).toBe(30 * 60_000);
    expect(c.dnsbl.ip_lists.map((l) => l.zone)).toEqual(['zen.spamhaus.org', 'b.barracudacentral.org', 'bl.spamcop.net', 'dnsbl-1.uceprotect.net']);
    expect(c.dnsbl.domain_lists.map((l) => l.zone)).toEqual(['dbl.spamhaus.org', 'multi.surbl.org', 'multi.uribl.com']);
    expect(c.dnsbl.ip_lists[0]!.refused).toContain('127.255.255.254');
  });

  it('overrides: addresses lower-cased, lists as names (known ones keep their terms) or mappings', () => {
    const c = load(['dmarc:', '  report_addresses: [Rua@LaRuche.example]', '  max_report_size: 1048576', 'dnsbl:', '  interval: 1h', '  ip_lists: [zen.spamhaus.org, { zone: bl.example.net, delist: https://bl.example.net/, refused: [127.0.0.255] }]', '  domain_lists: []'].join('\n'));
    expect(c.dmarc.report_addresses).toEqual(['rua@laruche.example']);
    expect(c.dmarc.max_report_size).toBe(1_048_576);
    expect(c.dnsbl.interval_ms).toBe(3_600_000);
    expect(c.dnsbl.ip_lists[0]).toMatchObject({ zone: 'zen.spamhaus.org', delist: 'https://check.spamhaus.org/' });
    expect(c.dnsbl.ip_lists[1]).toEqual({ zone: 'bl.example.net', delist: 'https://bl.example.net/', refused: ['127.0.0.255'] });
    expect(c.dnsbl.domain_lists).toEqual([]);
    expect(load('dnsbl:\n  interval: false\n').dnsbl.interval_ms).toBe(0);
  });

  it('errors name the key', () => {
    expect(() => load('dmarc:\n  max_report_size: 10\n')).toThrow(/dmarc\.max_report_size/);
    expect(() => load('dmarc:\n  report_addresses: [not-an-address]\n')).toThrow(/dmarc\.report_addresses/);
    expect(() => load('dmarc:\n  typo: 1\n')).toThrow(/dmarc\.typo/);
    expect(() => load('dnsbl:\n  interval: 10s\n')).toThrow(/dnsbl\.interval/);
    expect(() => load('dnsbl:\n  ip_lists: [{ zone: "bad zone" }]\n')).toThrow(/dnsbl\.ip_lists\[0\]\.zone/);
    expect(() => load('dnsbl:\n  ip_lists: [{ zone: x.example, refused: [nope] }]\n')).toThrow(/dnsbl\.ip_lists\[0\]\.refused/);
    expect(() => load('alerts:\n  dmarc_alignment: { threshold: 1.5 }\n')).not.toThrow(); // validated where it is used (src/dmarc/alerts.ts)
  });

  it('block-list query names (RFC 5782)', () => {
    expect(queryName('198.51.100.10', 'zen.spamhaus.org')).toBe('10.100.51.198.zen.spamhaus.org');
    expect(queryName('2001:db8::1', 'zen.spamhaus.org')).toBe(`1.0.0.0.${'0.'.repeat(20)}8.b.d.0.1.0.0.2.zen.spamhaus.org`);
    expect(queryName('laruche.example', 'dbl.spamhaus.org')).toBe('laruche.example.dbl.spamhaus.org');
  });
});
