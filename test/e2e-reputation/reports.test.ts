/**
 * DMARC and TLS reports from outside: Google (zip), Microsoft (gzip) and Yahoo (XML) shaped
 * aggregate reports sent over SMTP to the inbound listener of a real relay process show up in
 * the API with the right counts per source IP (labelled relais / mailcow / elsewhere with its
 * reverse DNS) and alignment; a report sent twice counts once; a 1 GiB gzip bomb and an XML
 * external entity are refused while the relay keeps answering; a tenant token sees only its
 * domains. Block lists are looked up in a DNS server the test starts.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aggregateMail, gzipBomb, reportMessage, tlsReportMail, xxeXml, type ReportSpec, type Row } from '../helpers/dmarc-reports.js';
import { ptrName, startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { ADMIN_TOKEN, BOUNCE_DOMAIN, api, dialogue, startE2eRelay, transaction, waitUntil } from '../e2e-listmonk/helpers.js';
import { ok, relais } from '../cli/run-cli.js';

const RELAIS_IP = '198.51.100.10';
const RELAIS_IP2 = '198.51.100.11';
const MAILCOW_IP = '203.0.113.5';
const OUTSIDE_IP = '203.0.113.77';
const DMARC = `dmarc@${BOUNCE_DOMAIN}`;
const DAY = 86_400;
/** Yesterday 00:00 UTC: the day reporters send about. */
const BEGIN = Math.floor(Date.now() / 1000 / DAY) * DAY - DAY;
const isoDay = new Date(BEGIN * 1000).toISOString().slice(0, 10);

const rows: Row[] = [
  { ip: RELAIS_IP, count: 120, dkim: 'pass', spf: 'pass', dkimDomain: 'laruche.example' },
  { ip: RELAIS_IP, count: 3, dkim: 'fail', spf: 'fail' },
  { ip: MAILCOW_IP, count: 10, dkim: 'pass', spf: 'fail', dkimDomain: 'laruche.example' },
  { ip: OUTSIDE_IP, count: 9, dkim: 'fail', spf: 'fail', disposition: 'quarantine' },
];

describe('DMARC and TLS reports on the inbound listener', () => {
  let dns: TestDnsServer;
  let relay: RelayProcess;
  let inbound: number;
  let autreToken: string;

  async function send(to: string, message: string, from = 'noreply-dmarc-support@google.com') {
    const c = await dialogue(inbound);
    const t = await transaction(c, from, [to], message);
    await c.command('QUIT').catch(() => undefined);
    return t;
  }

  const view = async (domain: string, token?: string) => {
    const res = await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/dmarc/domains/${domain}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return token ? { status: res.status, json: (await res.json()) as any } : undefined;
  };

  beforeAll(async () => {
    dns = await startDnsServer({
      [ptrName(OUTSIDE_IP)]: { PTR: ['www.formulaire-contact.example'] },
      // 198.51.100.10 listed in Spamhaus ZEN; 198.51.100.11 asked through a "public resolver".
      [`10.100.51.198.zen.spamhaus.org`]: { A: ['127.0.0.2'], TXT: ['Listed by SBL, see https://check.spamhaus.org/'] },
      [`11.100.51.198.zen.spamhaus.org`]: { A: ['127.255.255.254'] },
      ['laruche.example.dbl.spamhaus.org']: { A: ['127.0.1.2'] },
      [`10.100.51.198.b.barracudacentral.org`]: { servfail: true },
    });
    const yaml = [
      `public_ips: [${RELAIS_IP}, ${RELAIS_IP2}]`,
      'dmarc:',
      '  report_addresses: [rua@laruche.example]',
      'alerts:',
      '  interval: 1s',
      'tenants:',
      '  - id: laruche',
      '    domains: [laruche.example]',
      '  - id: autre',
      '    domains: [autre.example]',
      'clients:',
      '  - name: mailcow',
      `    networks: [${MAILCOW_IP}/32]`,
      '    tenants: [laruche, autre]',
    ].join('\n');
    relay = await startE2eRelay(yaml, { RELAIS_BOUNCE_DOMAIN: BOUNCE_DOMAIN, RELAIS_INBOUND_LISTEN: '127.0.0.1:0', RELAIS_POSTMASTER_FORWARD: 'admin@relais.test', RELAIS_DNS_SERVERS: dns.server });
    inbound = relay.smtpPorts[1]!;
    const tok = await api(relay, 'POST', '/tokens', { name: `autre-${randomBytes(3).toString('hex')}`, scopes: ['tenant:autre'] });
    expect(tok.status, JSON.stringify(tok.json)).toBe(201);
    autreToken = tok.json.token;
  });
  afterAll(async () => {
    await relay?.stop();
    await dns?.close();
  });

  const spec = (reporter: ReportSpec['reporter'], domain: string, reportId: string, r: Row[] = rows): ReportSpec => ({ reporter, domain, reportId, begin: BEGIN, rows: r });

  it('takes Google (zip), Microsoft (gzip) and Yahoo (XML) reports, at dmarc@ and at report_addresses', async () => {
    const google = await send(DMARC, aggregateMail(spec('google', 'laruche.example', '949348866075514174'), DMARC));
    expect(google.rcpts[0]!.code).toBe(250);
    expect(google.final?.code, google.final?.text).toBe(250);
    const ms = await send('rua@laruche.example', aggregateMail(spec('microsoft', 'laruche.example', 'cfeafefe4129445e8c81018bd9177197'), 'rua@laruche.example'), 'dmarcreport@microsoft.com');
    expect(ms.final?.code, ms.final?.text).toBe(250);
    const yahoo = await send(DMARC, aggregateMail(spec('yahoo', 'autre.example', '1711922432.178411', [{ ip: RELAIS_IP, count: 40, dkim: 'pass', spf: 'pass' }]), DMARC), 'dmarchelp@yahooinc.com');
    expect(yahoo.final?.code, yahoo.final?.text).toBe(250);

    const v = (await api(relay, 'GET', '/dmarc/domains/laruche.example')).json;
    const src = (ip: string) => v.bySource.find((s: any) => s.ip === ip);
    // Two reporters, each saw every row.
    expect(src(RELAIS_IP)).toMatchObject({ label: 'relais', messages: 246, aligned: 240, dkimAligned: 240, spfAligned: 240, dispositions: { none: 246 }, reporters: ['Enterprise Outlook', 'google.com'], firstSeen: isoDay });
    expect(src(MAILCOW_IP)).toMatchObject({ label: 'mailcow', messages: 20, aligned: 20, dkimAligned: 20, spfAligned: 0 });
    expect(src(OUTSIDE_IP)).toMatchObject({ label: 'elsewhere', ptr: 'www.formulaire-contact.example', messages: 18, aligned: 0, dispositions: { quarantine: 18 } });
    expect(v.relais).toMatchObject({ messages: 246, aligned: 240 });
    expect(v.relais.share).toBeCloseTo(240 / 246, 6);
    expect(v.others).toMatchObject({ messages: 38, aligned: 20, sources: 2 });
    expect(v.byReporter.map((r: any) => [r.org, r.reports, r.messages])).toEqual([['Enterprise Outlook', 1, 142], ['google.com', 1, 142]]);
    const day = v.byDay.find((d: any) => d.day === isoDay);
    expect(day).toMatchObject({ relais: { messages: 246, aligned: 240 }, mailcow: { messages: 20, aligned: 20 }, elsewhere: { messages: 18, aligned: 0 } });
  });

  it('counts the same report (org + report id) once', async () => {
    const again = await send(DMARC, aggregateMail(spec('google', 'laruche.example', '949348866075514174'), DMARC));
    expect(again.final?.code).toBe(250);
    const v = (await api(relay, 'GET', '/dmarc/domains/laruche.example')).json;
    expect(v.relais.messages).toBe(246);
    expect(v.byReporter.find((r: any) => r.org === 'google.com').reports).toBe(1);
    const metrics = await (await fetch(`http://127.0.0.1:${relay.apiPort}/metrics`)).text();
    expect(metrics).toMatch(/relais_reports_total\{kind="dmarc",outcome="duplicate"\} 1/);
    expect(metrics).toMatch(/relais_reports_total\{kind="dmarc",outcome="stored"\} 3/);
  });

  it('drops reports about domains that are no tenant’s', async () => {
    const r = await send(DMARC, aggregateMail(spec('google', 'inconnu.example', 'other-1'), DMARC));
    expect(r.final?.code).toBe(250);
    const list = (await api(relay, 'GET', '/dmarc/domains')).json.items.map((i: any) => i.domain);
    expect(list).toEqual(['autre.example', 'laruche.example']);
    expect((await api(relay, 'GET', '/dmarc/domains/inconnu.example')).status).toBe(404);
    // Upper-case and Unicode (IDN) names are the same domains: reports are kept under the ASCII form.
    expect((await api(relay, 'GET', '/dmarc/domains/LaRuche.Example')).json.domain).toBe('laruche.example');
    const idn = await api(relay, 'GET', `/dmarc/domains/${encodeURIComponent('inconnu-é.example')}`);
    expect(idn.status, JSON.stringify(idn.json)).toBe(404);
    expect(idn.json.message).toContain('xn--inconnu--i1a.example');
    const tooLong = await api(relay, 'GET', '/dmarc/domains?days=200');
    expect(tooLong.status).toBe(400);
    expect(tooLong.json.message).toContain('querystring/days: at most 90 (stats.retention_days)');
  });

  it('refuses a 1 GiB gzip bomb and an external entity, and keeps answering', async () => {
    const bomb = gzipBomb(1);
    const b = await send(DMARC, reportMessage({ from: 'x@evil.example', to: DMARC, subject: 'Report domain: laruche.example', attachment: { filename: 'evil!laruche.example!1!2.xml.gz', contentType: 'application/gzip', data: bomb } }), 'x@evil.example');
    expect(b.final?.code, b.final?.text).toBe(550);
    expect(b.final?.text).toMatch(/5\.6\.0 .*décompressé.*decompressed report larger than 20971520 bytes/);
    const x = await send(DMARC, reportMessage({ from: 'x@evil.example', to: DMARC, subject: 'r', attachment: { filename: 'r.xml', contentType: 'text/xml', data: Buffer.from(xxeXml('laruche.example')) } }), 'x@evil.example');
    expect(x.final?.code, x.final?.text).toBe(550);
    expect(x.final?.text).toMatch(/DOCTYPE/);
    // Still answering, and a good report right after is taken.
    const ok = await send(DMARC, aggregateMail(spec('yahoo', 'autre.example', 'after-bomb', [{ ip: OUTSIDE_IP, count: 2, dkim: 'fail', spf: 'fail' }]), DMARC));
    expect(ok.final?.code).toBe(250);
    const metrics = await (await fetch(`http://127.0.0.1:${relay.apiPort}/metrics`)).text();
    expect(metrics).toMatch(/relais_reports_total\{kind="dmarc",outcome="too_large"\} 1/);
    expect(metrics).toMatch(/relais_reports_total\{kind="dmarc",outcome="doctype"\} 1/);
    expect(relay.child.exitCode).toBeNull();
  });

  it('refuses other recipients of the inbound listener (no open relay)', async () => {
    const c = await dialogue(inbound);
    c.send('MAIL FROM:<x@evil.example>\r\nRCPT TO:<someone@elsewhere.example>\r\n');
    expect((await c.reply()).code).toBe(250);
    expect((await c.reply()).code).toBeGreaterThanOrEqual(500);
    await c.command('QUIT').catch(() => undefined);
  });

  it('takes a report and postmaster@ in separate messages: the second taker\'s recipient waits (452 4.5.3)', async () => {
    const c = await dialogue(inbound);
    c.send(`MAIL FROM:<>\r\nRCPT TO:<${DMARC}>\r\nRCPT TO:<postmaster@${BOUNCE_DOMAIN}>\r\nRCPT TO:<tlsrpt@${BOUNCE_DOMAIN}>\r\n`);
    expect((await c.reply()).code).toBe(250);
    expect((await c.reply()).code).toBe(250);
    const other = await c.reply();
    expect(other.code).toBe(452);
    expect(other.text).toMatch(/^4\.5\.3 .*message séparé.* \/ .*separate message/);
    // Same taker (DMARC and TLS reports are both read by the report intake): accepted together.
    expect((await c.reply()).code).toBe(250);
    await c.command('QUIT').catch(() => undefined);
  });

  it('stores TLS reports (RFC 8460) sent to tlsrpt@', async () => {
    const r = await send(`tlsrpt@${BOUNCE_DOMAIN}`, tlsReportMail({ domain: 'laruche.example', reportId: `${isoDay}T00:00:00Z_laruche.example`, begin: BEGIN, ok: 500, failed: 4, to: `tlsrpt@${BOUNCE_DOMAIN}` }), 'noreply-smtp-tls-reporting@google.com');
    expect(r.final?.code, r.final?.text).toBe(250);
    const v = (await api(relay, 'GET', '/dmarc/domains/laruche.example')).json;
    expect(v.tls).toEqual([{ org: 'Google Inc.', successful: 500, failed: 4, failures: { 'certificate-expired': 4 } }]);
  });

  it('relais dmarc show / list print the same figures', async () => {
    const env = { RELAIS_DATA_DIR: relay.dataDir, RELAIS_API_TOKEN: ADMIN_TOKEN };
    const text = await ok(['dmarc', 'show', 'laruche.example'], env);
    expect(text).toMatch(/Relais: 246 messages, 97\.6% aligned/);
    expect(text).toMatch(new RegExp(`${OUTSIDE_IP.replace(/\./g, '\\.')}\\s+elsewhere\\s+www\\.formulaire-contact\\.example\\s+18\\s+0\\.0%`));
    expect(text).toMatch(/Google Inc\.\s+500\s+4\s+certificate-expired 4/);
    const list = await ok(['dmarc', 'list', '--json'], env);
    expect(JSON.parse(list).items.map((i: any) => i.domain)).toEqual(['autre.example', 'laruche.example']);
  });

  it('shows a tenant token only its own domains', async () => {
    const list = await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/dmarc/domains`, { headers: { authorization: `Bearer ${autreToken}` } });
    const items = ((await list.json()) as any).items;
    expect(items.map((i: any) => i.domain)).toEqual(['autre.example']);
    expect(items[0]).toMatchObject({ tenant: 'autre', relais: { messages: 40, aligned: 40, share: 1 }, others: { messages: 2, sources: 1 } });
    expect((await view('laruche.example', autreToken))!.status).toBe(404);
    const own = await view('autre.example', autreToken);
    expect(own!.status).toBe(200);
    expect(own!.json.relais.messages).toBe(40);
  });

  it('raises an alert when Relais’s own mail is less than 98 % aligned', async () => {
    const alerts = await waitUntil(async () => {
      const a = (await api(relay, 'GET', '/alerts')).json.items as any[];
      return a.find((x) => x.type === 'dmarc_alignment') ? a : undefined;
    }, 'dmarc_alignment alert');
    expect(alerts.find((x) => x.type === 'dmarc_alignment')).toMatchObject({ tenant: 'laruche', subject: { id: 'laruche.example' }, severity: 'warning' });
    expect(alerts.find((x) => x.type === 'dmarc_alignment' && x.subject.id === 'autre.example')).toBeUndefined();
  });

  it('watches block lists: listings, refusals told apart, delisting alerts, tenant view', async () => {
    const r = await api(relay, 'GET', '/dnsbl?refresh=true');
    expect(r.status).toBe(200);
    const entry = (zone: string, name: string) => r.json.items.find((e: any) => e.zone === zone && e.name === name);
    expect(entry('zen.spamhaus.org', RELAIS_IP)).toMatchObject({ status: 'listed', listed: true, codes: ['127.0.0.2'], delist: 'https://check.spamhaus.org/', text: expect.stringContaining('SBL') });
    expect(entry('zen.spamhaus.org', RELAIS_IP2)).toMatchObject({ status: 'refused', listed: false, codes: ['127.255.255.254'] });
    expect(entry('bl.spamcop.net', RELAIS_IP)).toMatchObject({ status: 'clear', listed: false });
    expect(entry('dbl.spamhaus.org', 'laruche.example')).toMatchObject({ status: 'listed', tenant: 'laruche' });
    expect(entry('multi.uribl.com', 'autre.example')).toMatchObject({ status: 'clear', tenant: 'autre' });
    expect(r.json.listed).toBe(2);
    expect(dns.queries).toContain('A 10.100.51.198.b.barracudacentral.org');

    const mine = await fetch(`http://127.0.0.1:${relay.apiPort}/api/v1/dnsbl`, { headers: { authorization: `Bearer ${autreToken}` } });
    const items = ((await mine.json()) as any).items as any[];
    expect(items.length).toBeGreaterThan(0);
    expect(items.every((e) => e.kind === 'domain' && e.name === 'autre.example')).toBe(true);

    await waitUntil(async () => ((await api(relay, 'GET', '/alerts')).json.items as any[]).find((a) => a.id === `dnsbl_listing:zen.spamhaus.org:${RELAIS_IP}`), 'listing alert');
    const cli = await relais(['dnsbl', 'check'], { RELAIS_DATA_DIR: relay.dataDir, RELAIS_API_TOKEN: ADMIN_TOKEN });
    expect(cli.code, cli.stderr).toBe(2);
    expect(cli.stdout).toMatch(/198\.51\.100\.10\s+zen\.spamhaus\.org\s+LISTED\s+127\.0\.0\.2/);
    expect(cli.stdout).toMatch(/198\.51\.100\.10\s+b\.barracudacentral\.org\s+ERROR/);
    expect(cli.stdout).toMatch(/2 listed, 1 refused .*, 1 unanswered \(DNS error: not checked\)/);
    delete dns.zones['10.100.51.198.zen.spamhaus.org'];
    const after = await api(relay, 'GET', '/dnsbl?refresh=true');
    expect(after.json.items.find((e: any) => e.zone === 'zen.spamhaus.org' && e.name === RELAIS_IP)).toMatchObject({ status: 'clear', listed: false });
    const del = await waitUntil(async () => ((await api(relay, 'GET', '/alerts')).json.items as any[]).find((a) => a.id === `dnsbl_delisting:zen.spamhaus.org:${RELAIS_IP}`), 'delisting alert');
    expect(del).toMatchObject({ type: 'dnsbl_delisting', severity: 'warning', subject: { per: 'ip', id: RELAIS_IP } });
    await relay.waitForLog((e) => typeof e.msg === 'string' && e.msg.includes(`${RELAIS_IP} delisted from zen.spamhaus.org`));
  });
});
