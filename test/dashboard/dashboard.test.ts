/**
 * The web dashboard end to end, in a real headless Chromium (Debian's) driven by playwright-core,
 * against the admin API built by target.ts. Screenshots of the main pages go to docs/screenshots/.
 */
import { mkdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardTarget, type DashboardTarget } from './target.js';

const SHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url));
const norm = (s: string | null) => (s ?? '').replace(/[\s\u00a0\u202f]+/g, ' ').trim();

let target: DashboardTarget;
let browser: Browser;

beforeAll(async () => {
  mkdirSync(SHOTS, { recursive: true });
  target = await startDashboardTarget();
  browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
});

afterAll(async () => {
  await browser?.close();
  await target?.close();
});

/** A fresh browser session; collects page errors and CSP violations (there must be none). */
async function newSession(viewport = { width: 1280, height: 860 }): Promise<{ ctx: BrowserContext; page: Page; problems: string[] }> {
  const ctx = await browser.newContext({ viewport, locale: 'fr-FR', timezoneId: 'Europe/Paris', baseURL: target.baseUrl });
  const page = await ctx.newPage();
  const problems: string[] = [];
  page.on('pageerror', (e) => problems.push(`pageerror: ${e.message}`));
  page.on('console', (m) => {
    if (m.type() === 'error' && !/status of 40[134]/.test(m.text())) problems.push(`console: ${m.text()}`);
  });
  return { ctx, page, problems };
}

async function signIn(page: Page, token: string): Promise<void> {
  await page.goto('/');
  await page.getByLabel('Jeton d’API').fill(token);
  await page.getByRole('button', { name: 'Se connecter' }).click();
  await expect.poll(() => page.locator('h1').textContent()).toBe('Vue d’ensemble');
}

async function go(page: Page, hash: string, title: string): Promise<void> {
  await page.evaluate((h) => (location.hash = h), hash);
  await expect.poll(() => page.locator('h1').textContent()).toBe(title);
  await page.waitForFunction(() => document.getElementById('status')?.textContent !== 'Chargement…');
}

async function rowTexts(page: Page, selector: string): Promise<string[][]> {
  return page.$$eval(`${selector} tbody tr`, (trs) => trs.map((tr) => [...tr.querySelectorAll('th,td')].map((c) => c.textContent ?? '')));
}

describe('dashboard', () => {
  it('serves the page with a strict CSP, no-cache HTML, uPlot from node_modules, and nothing else', async () => {
    const root = await fetch(`${target.baseUrl}/`, { redirect: 'manual' });
    expect(root.status).toBe(302);
    expect(root.headers.get('location')).toBe('/dashboard/');
    const html = await fetch(`${target.baseUrl}/dashboard/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toMatch(/text\/html/);
    const csp = html.headers.get('content-security-policy') ?? '';
    expect(csp).toContain("default-src 'self'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    expect(html.headers.get('cache-control')).toBe('no-cache');
    const body = await html.text();
    expect(body).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/); // no inline script
    expect(body).not.toMatch(/\sstyle=/);
    const vendor = await fetch(`${target.baseUrl}/dashboard/vendor/uPlot.esm.js`);
    expect(vendor.status).toBe(200);
    expect(vendor.headers.get('content-type')).toMatch(/javascript/);
    expect(await vendor.text()).toContain('export { uPlot as default }');
    expect((await fetch(`${target.baseUrl}/dashboard/js/app.js`)).headers.get('content-security-policy')).toBe(csp);
    for (const path of ['/dashboard/../package.json', '/dashboard/%2e%2e/package.json', '/dashboard/vendor/../package.json', '/dashboard/plugin.ts']) {
      expect((await fetch(`${target.baseUrl}${path}`)).status, path).toBe(404);
    }
  });

  it('admin: signs in, reads the provider figures, adjusts a quota in place, retries a deferred message, switches to English', async () => {
    const { ctx, page, problems } = await newSession();
    await page.goto('/');
    expect(page.url()).toBe(`${target.baseUrl}/dashboard/`);
    await page.screenshot({ path: `${SHOTS}signin.png` });

    // A wrong token is refused with an announced message.
    await page.getByLabel('Jeton d’API').fill('rls_000000000000_nope');
    await page.getByRole('button', { name: 'Se connecter' }).click();
    await expect.poll(() => page.locator('#token-error').textContent()).toContain('Jeton refusé');
    await expect.poll(() => page.evaluate(() => document.activeElement?.id)).toBe('token');

    await page.getByLabel('Jeton d’API').fill(target.adminToken);
    await page.keyboard.press('Enter');
    await expect.poll(() => page.locator('h1').textContent()).toBe('Vue d’ensemble');
    // The token stays in this tab's sessionStorage only, never in a URL or localStorage.
    const storage = await page.evaluate(() => ({ session: Object.values(sessionStorage), local: Object.values(localStorage), url: location.href }));
    expect(storage.session).toContain(target.adminToken);
    expect(storage.local.join()).not.toContain(target.adminToken);
    expect(storage.url).not.toContain(target.adminToken);
    expect(await page.evaluate(() => document.activeElement?.tagName)).toBe('H1'); // focus moved to the new page
    await page.waitForSelector('#alerts li');
    expect(norm(await page.locator('#today-cards').textContent())).toContain('Acceptés1 342');
    expect(norm(await page.locator('#queue-cards').textContent())).toMatch(/Actifs1.*Différés2.*Suspendus1/);
    expect(await page.locator('#alerts').textContent()).toContain('Microsoft diffère 6 %');
    await page.screenshot({ path: `${SHOTS}overview.png`, fullPage: true });

    // Deliverability: the table beside the chart carries the figures.
    await page.getByRole('link', { name: 'Délivrabilité' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Délivrabilité');
    await page.waitForSelector('#provider-chart canvas');
    expect(await page.locator('#provider-chart').getAttribute('data-points')).toBe('7');
    const rows = (await rowTexts(page, '#provider-table')).map((r) => r.map(norm));
    expect(rows[0]).toEqual(['Google (Gmail)', '1 240', '1 180 (95,2 %)', '45 (3,6 %)', '15 (1,2 %)']);
    expect(rows[1]).toEqual(['Microsoft (Outlook, Hotmail, Microsoft 365)', '860', '790 (91,9 %)', '52 (6 %)', '18 (2,1 %)']);
    expect(rows.map((r) => r[0])).toEqual(['Google (Gmail)', 'Microsoft (Outlook, Hotmail, Microsoft 365)', 'Orange (Wanadoo)', 'Free', 'La Poste']);
    // uPlot's legend shows raw (not stacked) values: the last day of all providers.
    await page.screenshot({ path: `${SHOTS}providers.png`, fullPage: true });
    // Selecting a provider shows its chart and its reasons with sample replies.
    await page.getByRole('button', { name: 'Microsoft (Outlook, Hotmail, Microsoft 365)' }).click();
    await expect.poll(() => page.locator('#provider-chart').getAttribute('aria-label')).toContain('Microsoft');
    await page.waitForSelector('#provider-chart canvas');
    const reasons = page.locator('#reasons');
    await reasons.getByText('Débit limité par le destinataire — 38 fois').click();
    expect(await reasons.textContent()).toContain('451 4.7.650 The mail server [203.0.113.25] has been temporarily rate limited');

    // Quotas: adjust one limit in place; the PUT carries exactly the new limit.
    await go(page, '#/quotas', 'Expéditeurs et quotas');
    const adjust = page.getByRole('button', { name: 'Ajuster messages par heure de contact@collectif-a.org' });
    await adjust.click();
    const input = page.getByLabel('Nouvelle limite (messages par heure)');
    await expect.poll(() => input.evaluate((el) => el === document.activeElement)).toBe(true);
    await page.screenshot({ path: `${SHOTS}quotas.png`, fullPage: true });
    await input.fill('250');
    await input.press('Enter');
    await expect.poll(() => target.record.quotaPuts.length).toBe(1);
    expect(target.record.quotaPuts[0]).toEqual({ address: 'contact@collectif-a.org', body: { limits: { messages_per_hour: 250 } } });
    const contact = page.locator('tbody[data-address="contact@collectif-a.org"] tr').first();
    await expect.poll(async () => norm(await contact.textContent())).toMatch(/messages par heure 250 modifiée.*87 sur 250/);
    expect(norm(await page.locator('#status').textContent())).toBe('Quota de contact@collectif-a.org enregistré : messages par heure = 250.');
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Ajuster messages par heure de contact@collectif-a.org');

    // Queue: retry the deferred message; the API receives the POST and the spool moves it.
    await go(page, '#/queue?state=deferred', 'File d’attente');
    const row = page.locator(`tr[data-id="${target.deferredId}"]`);
    expect(norm(await row.textContent())).toContain('451 4.7.650');
    expect(await page.locator('#queue-table tbody tr[data-id]').count()).toBe(2);
    await page.screenshot({ path: `${SHOTS}queue.png`, fullPage: true });
    const [post] = await Promise.all([page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/api/v1/queue/${target.deferredId}/retry`)), row.getByRole('button', { name: `Réessayer ${target.deferredId}` }).click()]);
    expect(post.headers()['authorization']).toBe(`Bearer ${target.adminToken}`);
    await expect.poll(() => target.queueState(target.deferredId)).toBe('active');
    await expect.poll(async () => norm(await page.locator('#status').textContent())).toBe(`Nouvel essai demandé pour ${target.deferredId}.`);
    expect(await page.locator(`tr[data-id="${target.deferredId}"]`).count()).toBe(0); // no longer in the deferred filter

    // Listmonk redirects: an unsafe URL from the API never becomes a link.
    await go(page, '#/listmonk', 'Envois groupés → Listmonk');
    const redirectRows = (await rowTexts(page, '#redirect-table')).map((r) => r.map(norm));
    expect(redirectRows[0]).toEqual(expect.arrayContaining(['collectif-a', 'contact@collectif-a.org', '312', 'Brouillon créé', 'Ouvrir le brouillon n° 42 (nouvelle fenêtre)']));
    expect(await page.locator('#redirect-table a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['https://listes.collectif-a.org/admin/campaigns/42', 'https://listes.amap-b.fr/admin/campaigns/7']);
    await page.screenshot({ path: `${SHOTS}listmonk.png`, fullPage: true });

    // Domains: the fix to apply is shown for what fails.
    await go(page, '#/domains', 'Domaines');
    await page.waitForSelector('[data-domain="collectif-a.org"] [data-check="dmarc"]');
    const dmarc = norm(await page.locator('[data-domain="collectif-a.org"] [data-check="dmarc"]').textContent());
    expect(dmarc).toContain('À corriger');
    expect(dmarc).toContain('_dmarc.collectif-a.org. IN TXT "v=DMARC1; p=quarantine;');
    await page.waitForSelector('[data-domain="amap-b.fr"] .badge');
    expect(norm(await page.locator('[data-domain="amap-b.fr"] .domain-summary').textContent())).toBe('Tout est correct');
    await page.screenshot({ path: `${SHOTS}domains.png`, fullPage: true });

    await go(page, '#/demailnagement', 'Démailnagement');
    await page.waitForSelector('#dem-chart canvas');
    expect(norm(await page.locator('#dem-headline').textContent())).toMatch(/41,2 % du courrier est allé aux géants américains\. C’est 26,8 points de moins/);
    expect((await rowTexts(page, '#dem-table')).length).toBe(12);
    await page.screenshot({ path: `${SHOTS}demailnagement.png`, fullPage: true });

    // English, remembered across a reload; the session survives the reload too.
    await go(page, '#/overview', 'Vue d’ensemble');
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Overview');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await page.locator('#nav').textContent()).toContain('Queue');
    await page.reload();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Overview');
    await page.waitForSelector('#alerts li');
    expect(await page.locator('#alerts').textContent()).toContain('Microsoft defers 6%');
    await go(page, '#/providers', 'Deliverability');
    await page.waitForSelector('#provider-table');
    expect(norm((await rowTexts(page, '#provider-table'))[0]![2]!)).toBe('1,180 (95.2%)');
    await page.getByRole('button', { name: 'Passer en français' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Délivrabilité');

    // Sign out forgets the token.
    await page.getByRole('button', { name: 'Se déconnecter' }).click();
    expect(await page.evaluate(() => Object.values(sessionStorage))).not.toContain(target.adminToken);
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('tenant token: sees only its tenant and no admin action', async () => {
    const { ctx, page, problems } = await newSession();
    await signIn(page, target.tenantToken);
    expect(norm(await page.locator('#who').textContent())).toContain('locataire collectif-a (lecture seule)');
    expect(await page.locator('#tenant-filter').isVisible()).toBe(false);

    await go(page, '#/queue?state=', 'File d’attente');
    await page.waitForSelector('#queue-table');
    const senders = await page.$$eval('#queue-table tbody tr[data-id] td:nth-of-type(2)', (tds) => tds.map((td) => td.textContent ?? ''));
    expect(senders.length).toBeGreaterThan(0);
    for (const s of senders) expect(s).toContain('collectif-a.org');
    expect(await page.locator('#queue-table [data-action]').count()).toBe(0);
    expect(await page.getByRole('columnheader', { name: 'Actions' }).count()).toBe(0);

    await go(page, '#/quotas', 'Expéditeurs et quotas');
    await page.waitForSelector('#quota-table');
    expect(await page.getByRole('button', { name: /^Ajuster/ }).count()).toBe(0);
    const addresses = await page.$$eval('#quota-table tbody', (bs) => bs.map((b) => (b as HTMLElement).dataset.address));
    expect(addresses).not.toContain('bureau@amap-b.fr');
    expect(addresses).toContain('contact@collectif-a.org');

    await go(page, '#/listmonk', 'Envois groupés → Listmonk');
    const rows = await rowTexts(page, '#redirect-table');
    expect(rows.length).toBe(2);
    expect(rows.flat().join(' ')).not.toContain('amap-b');
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('is readable on a phone', async () => {
    const { ctx, page, problems } = await newSession({ width: 390, height: 844 });
    await signIn(page, target.adminToken);
    await page.waitForSelector('#alerts li');
    // No horizontal scrolling of the page itself (wide tables scroll inside their region).
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: `${SHOTS}mobile-overview.png`, fullPage: true });
    await go(page, '#/providers', 'Délivrabilité');
    await page.waitForSelector('#provider-chart canvas');
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await page.screenshot({ path: `${SHOTS}mobile-providers.png`, fullPage: true });
    expect(problems).toEqual([]);
    await ctx.close();
  });
});
