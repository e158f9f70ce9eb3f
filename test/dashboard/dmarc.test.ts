/**
 * The dashboard's DMARC page and the overview's block-list state, in headless Chromium against a
 * relay that received real-shaped reports over SMTP (French, then English; a tenant token sees
 * only its domains). With SCREENSHOTS_DIR set (`npm run screenshots`), the page is photographed
 * as dmarc.png.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, BOUNCE_DOMAIN, api, dialogue, startE2eRelay, transaction } from '../e2e-listmonk/helpers.js';
import { aggregateMail, type Row } from '../helpers/dmarc-reports.js';
import { ptrName, startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import type { RelayProcess } from '../helpers/relay-process.js';

const SHOTS = process.env.SCREENSHOTS_DIR ? resolve(process.env.SCREENSHOTS_DIR) : undefined;
const DMARC = `dmarc@${BOUNCE_DOMAIN}`;
const DAY = 86_400;
const TODAY = Math.floor(Date.now() / 1000 / DAY) * DAY;
const norm = (s: string | null) => (s ?? '').replace(/[\s\u00a0\u202f]+/g, ' ').trim();

let relay: RelayProcess;
let dns: TestDnsServer;
let browser: Browser;
let tenantToken: string;

async function send(message: string): Promise<void> {
  const c = await dialogue(relay.smtpPorts[1]!);
  const t = await transaction(c, 'noreply-dmarc-support@google.com', [DMARC], message);
  expect(t.final?.code, t.final?.text).toBe(250);
  await c.command('QUIT').catch(() => undefined);
}

beforeAll(async () => {
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
  dns = await startDnsServer({ [ptrName('192.0.2.80')]: { PTR: ['site.collectif-a.org'] }, '10.100.51.198.bl.spamcop.net': { A: ['127.0.0.2'] } });
  relay = await startE2eRelay(
    ['public_ips: [198.51.100.10]', 'tenants:', '  - id: collectif-a', '    domains: [collectif-a.org]', '  - id: amap-b', '    domains: [amap-b.fr]'].join('\n'),
    { RELAIS_BOUNCE_DOMAIN: BOUNCE_DOMAIN, RELAIS_INBOUND_LISTEN: '127.0.0.1:0', RELAIS_POSTMASTER_FORWARD: 'admin@relais.test', RELAIS_DNS_SERVERS: dns.server },
  );
  for (let d = 1; d <= 3; d++) {
    const rows: Row[] = [
      { ip: '198.51.100.10', count: 200 + d * 10, dkim: 'pass', spf: 'pass', dkimDomain: 'collectif-a.org' },
      { ip: '198.51.100.10', count: d === 2 ? 30 : 1, dkim: 'fail', spf: 'fail' },
      { ip: '192.0.2.80', count: 12, dkim: 'fail', spf: 'fail' },
    ];
    await send(aggregateMail({ reporter: 'google', domain: 'collectif-a.org', reportId: `g-${d}`, begin: TODAY - d * DAY, rows }, DMARC));
  }
  await send(aggregateMail({ reporter: 'microsoft', domain: 'amap-b.fr', reportId: 'm-1', begin: TODAY - DAY, rows: [{ ip: '198.51.100.10', count: 40, dkim: 'pass', spf: 'pass' }] }, DMARC));
  expect((await api(relay, 'GET', '/dnsbl?refresh=true')).json.listed).toBe(1);
  const tok = await api(relay, 'POST', '/tokens', { name: `amap-${randomBytes(3).toString('hex')}`, scopes: ['tenant:amap-b'] });
  tenantToken = tok.json.token;
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  await relay?.stop();
  await dns?.close();
});

async function session(token: string): Promise<{ page: Page; problems: string[]; close(): Promise<void> }> {
  const ctx = await browser.newContext({ viewport: { width: 1280, height: 900 }, locale: 'fr-FR', timezoneId: 'Europe/Paris', baseURL: `http://127.0.0.1:${relay.apiPort}` });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  await page.goto('/');
  await page.getByLabel('Jeton d’API').fill(token);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await expect.poll(() => page.locator('h1').textContent()).toBe('Vue d’ensemble');
  return { page, problems, close: () => ctx.close() };
}

const rows = (page: Page, sel: string) => page.$$eval(`${sel} tbody tr`, (trs) => trs.map((tr) => [...tr.querySelectorAll('th,td')].map((c) => (c.textContent ?? '').replace(/[\s\u00a0\u202f]+/g, ' ').trim())));

describe('dashboard: DMARC and block lists', () => {
  it('admin: block-list state on the overview, per-domain alignment over time and outside sources', async () => {
    const { page, problems, close } = await session(ADMIN_TOKEN);
    await page.waitForSelector('#dnsbl');
    const bl = await rows(page, '#dnsbl');
    expect(bl).toEqual([['198.51.100.10', 'bl.spamcop.net', 'listé', expect.any(String), 'https://www.spamcop.net/bl.shtml (nouvelle fenêtre)']]);

    await page.getByRole('link', { name: 'DMARC' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('DMARC');
    await page.waitForSelector('[data-domain="amap-b.fr"] .chart canvas');
    expect(await rows(page, '#dmarc-domains')).toEqual([
      ['amap-b.fr', '40', '100 %', '0', '0'],
      ['collectif-a.org', '692', '95,4 %', '36', '1'],
    ]);
    const section = page.locator('[data-domain="collectif-a.org"]');
    expect(norm(await section.locator('p').first().textContent())).toBe('Relais : 692 messages, 95,4 % alignés. Autres : 36 messages de 1 sources, 0 % alignés.');
    expect((await rows(page, '#dmarc-days-collectif-a-org')).map((r) => r.slice(1))).toEqual([
      ['231', '99,6 %', '12'],
      ['250', '88 %', '12'],
      ['211', '99,5 %', '12'],
    ]);
    expect(await rows(page, '#dmarc-sources-collectif-a-org')).toEqual([['192.0.2.80', 'Ailleurs', 'site.collectif-a.org', '36', '0 %', 'google.com']]);
    if (SHOTS) await page.screenshot({ path: `${SHOTS}/dmarc.png`, fullPage: true });

    await page.getByRole('button', { name: 'English' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('DMARC');
    await expect.poll(async () => norm(await section.locator('p').first().textContent())).toBe('Relais: 692 messages, 95.4% aligned. Others: 36 messages from 1 sources, 0% aligned.');
    expect(problems).toEqual([]);
    await close();
  });

  it('tenant token: only its own domains', async () => {
    const { page, problems, close } = await session(tenantToken);
    await page.evaluate(() => (location.hash = '#/dmarc'));
    await page.waitForSelector('#dmarc-domains');
    expect((await rows(page, '#dmarc-domains')).map((r) => r[0])).toEqual(['amap-b.fr']);
    expect(await page.locator('[data-domain="collectif-a.org"]').count()).toBe(0);
    expect(problems).toEqual([]);
    await close();
  });
});
