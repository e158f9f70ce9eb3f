/**
 * The web dashboard end to end, in a real headless Chromium (Debian's) driven by playwright-core,
 * against a running relay that delivered real traffic to test MXs (target.ts). The walk-through is
 * also what `npm run screenshots` photographs: with SCREENSHOTS_DIR set (docs/screenshots/), each
 * main page is saved there at the point the test reaches it. `npm test` leaves it unset, so tests
 * never rewrite tracked files.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDashboardTarget, type DashboardTarget } from './target.js';

const SHOTS = process.env.SCREENSHOTS_DIR ? resolve(process.env.SCREENSHOTS_DIR) : undefined;
/** Saves a screenshot of the page for the docs (`npm run screenshots`); nothing otherwise. */
async function shot(page: Page, name: string, fullPage = true): Promise<void> {
  if (SHOTS) await page.screenshot({ path: `${SHOTS}/${name}.png`, fullPage });
}
const norm = (s: string | null) => (s ?? '').replace(/[\s\u00a0\u202f]+/g, ' ').trim();

let target: DashboardTarget;
let browser: Browser;

beforeAll(async () => {
  if (SHOTS) mkdirSync(SHOTS, { recursive: true });
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
    await shot(page, 'signin', false);

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
    await expect.poll(() => page.evaluate(() => document.activeElement?.tagName)).toBe('H1'); // focus moved to the new page
    await page.waitForSelector('#alerts li');
    const x = target.expected;
    expect(norm(await page.locator('#today-cards').textContent())).toContain(`Acceptés${x.accepted}`);
    expect(norm(await page.locator('#today-cards').textContent())).toContain('Redirigés vers Listmonk3');
    expect(norm(await page.locator('#queue-cards').textContent())).toMatch(new RegExp(`Actifs${x.queue.active}.*Différés${x.queue.deferred}.*Suspendus${x.queue.hold}`));
    // Real alerts from the refusals: Microsoft's block list and reputation deferral (critical), Gmail's spam blocks.
    const alerts = norm(await page.locator('#alerts').textContent());
    expect(alerts).toContain('Adresse IP d\'envoi sur liste de blocage : 2 refus pour spam ou blocage (le fournisseur microsoft, 1h)');
    expect(alerts).toContain('Courrier refusé comme spam ou pour mauvaise réputation : 2 refus (le fournisseur google, 1h)');
    await shot(page, 'overview');

    // Deliverability: the table beside the chart carries the figures.
    await page.getByRole('link', { name: 'Délivrabilité' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Délivrabilité');
    await page.waitForSelector('#provider-chart canvas');
    // 7 days by day: one point per day touched by the range (today's included).
    const series = await fetch(`${target.baseUrl}/api/v1/stats/timeseries?step=day&from=${new Date(Date.now() - 7 * 86_400_000).toISOString()}&to=${new Date().toISOString()}`, { headers: { authorization: `Bearer ${target.adminToken}` } }).then((r) => r.json());
    expect(Number(await page.locator('#provider-chart').getAttribute('data-points'))).toBe(series.points.length);
    expect(series.points.at(-1)).toMatchObject({ delivered: 10, deferred: 3, bounced: 2 });
    const rows = (await rowTexts(page, '#provider-table')).map((r) => r.map(norm));
    const pct = (n: number, d: number) => `${String(Math.round((n / d) * 1000) / 10).replace('.', ',')} %`;
    expect(rows).toEqual(x.providers.map((p) => [p.name, String(p.sent), `${p.delivered} (${pct(p.delivered, p.sent)})`, `${p.deferred} (${pct(p.deferred, p.sent)})`, `${p.bounced} (${pct(p.bounced, p.sent)})`]));
    expect(rows[0]).toEqual(['Google (Gmail)', '5', '3 (60 %)', '1 (20 %)', '1 (20 %)']);
    // Microsoft's block-list refusal restricted it for this node's default pool (suspended, or
    // slowed once a probe got through): shown with its cause.
    const shaping = (await rowTexts(page, '#shaping-table')).map((r) => r.map(norm));
    const microsoft = shaping.find((r) => r[0] === 'microsoft');
    expect(microsoft?.[1]).toBe('default');
    expect(['suspendu', 'ralenti']).toContain(microsoft?.[2]);
    expect(microsoft?.[3]).toBe('Adresse IP sur liste de blocage');
    expect(microsoft?.[7]).toContain('block list (S3150)');
    // Lifting it from the page: the row goes, the relay no longer restricts Microsoft.
    await page.getByRole('button', { name: 'Lever la restriction de microsoft (pool default)' }).click();
    await expect.poll(async () => norm(await page.locator('#status').textContent())).toBe('Restriction levée : microsoft (pool default)');
    const after = await fetch(`${target.baseUrl}/api/v1/delivery/shaping`, { headers: { authorization: `Bearer ${target.adminToken}` } }).then((r) => r.json());
    expect(after.restrictions.map((r: { provider: string }) => r.provider)).not.toContain('microsoft');
    // uPlot's legend shows raw (not stacked) values: the last day of all providers.
    await shot(page, 'providers');
    // Selecting a provider shows its chart and its reasons with sample replies.
    await page.getByRole('button', { name: 'Microsoft (Outlook, Hotmail, Microsoft 365)' }).click();
    await expect.poll(() => page.locator('#provider-chart').getAttribute('aria-label')).toContain('Microsoft');
    await page.waitForSelector('#provider-chart canvas');
    const reasons = page.locator('#reasons');
    await reasons.getByText('Adresse IP sur liste de blocage — 1 fois').click();
    expect(await reasons.textContent()).toContain('(S3150)');
    await reasons.getByText('Réputation de l’expéditeur — 1 fois').click();
    expect(await reasons.textContent()).toContain('451 4.7.650 The mail server [127.0.0.1] has been temporarily rate limited due to IP reputation');

    // Quotas: lower the sender's hourly limit to what it already sent; its next message is deferred.
    await go(page, '#/quotas', 'Expéditeurs et quotas');
    const contact = page.locator('tbody[data-address="contact@collectif-a.org"] tr').first();
    expect(norm(await contact.textContent())).toMatch(new RegExp(`^contact@collectif-a.org.*messages par heure 200 .*${x.senderUsed} sur 200 `));
    expect(await target.send('contact@collectif-a.org', 'ami@autre.test')).toBe(250);
    const used = x.senderUsed + 1;
    const adjust = page.getByRole('button', { name: 'Ajuster messages par heure de contact@collectif-a.org' });
    await adjust.click();
    const input = page.getByLabel('Nouvelle limite (messages par heure)');
    await expect.poll(() => input.evaluate((el) => el === document.activeElement)).toBe(true);
    await shot(page, 'quotas');
    const [put] = await Promise.all([page.waitForRequest((r) => r.method() === 'PUT' && r.url().endsWith('/api/v1/quotas/contact%40collectif-a.org')), input.fill(String(used)).then(() => input.press('Enter'))]);
    expect(put.postDataJSON()).toEqual({ limits: { messages_per_hour: used } });
    await expect.poll(async () => norm(await contact.textContent())).toMatch(new RegExp(`messages par heure ${used} modifiée.*${used} sur ${used}`));
    expect(norm(await page.locator('#status').textContent())).toBe(`Quota de contact@collectif-a.org enregistré : messages par heure = ${used}.`);
    await expect.poll(() => page.evaluate(() => document.activeElement?.getAttribute('aria-label'))).toBe('Ajuster messages par heure de contact@collectif-a.org');
    // The relay applies it at the next SMTP transaction; other senders are not affected.
    expect(await target.send('contact@collectif-a.org', 'ami@autre.test')).toBe(451);
    expect(await target.send('bureau@amap-b.fr', 'ami@autre.test')).toBe(250);

    // Queue: Microsoft lifts its block; retrying the deferred message delivers it at once.
    await go(page, '#/queue?state=deferred', 'File d’attente');
    const row = page.locator(`tr[data-id="${target.deferredId}"]`);
    expect(norm(await row.textContent())).toContain('451 4.7.650');
    expect(await page.locator('#queue-table tbody tr[data-id]').count()).toBe(x.queue.deferred);
    await shot(page, 'queue');
    target.release(target.deferredRecipient);
    const [post] = await Promise.all([page.waitForRequest((r) => r.method() === 'POST' && r.url().endsWith(`/api/v1/queue/${target.deferredId}/retry`)), row.getByRole('button', { name: `Réessayer ${target.deferredId}` }).click()]);
    expect(post.headers()['authorization']).toBe(`Bearer ${target.adminToken}`);
    await expect.poll(async () => norm(await page.locator('#status').textContent())).toBe(`Nouvel essai demandé pour ${target.deferredId}.`);
    await expect.poll(() => target.queueState(target.deferredId)).toBe(null);
    expect(target.delivered()).toContain(target.deferredRecipient);
    expect(await page.locator(`tr[data-id="${target.deferredId}"]`).count()).toBe(0); // no longer in the deferred filter

    // Listmonk redirects: the three bulk messages became drafts in the tenants' Listmonk.
    await go(page, '#/listmonk', 'Envois groupés → Listmonk');
    const redirectRows = (await rowTexts(page, '#redirect-table')).map((r) => r.map(norm));
    expect(redirectRows).toHaveLength(3);
    x.redirects.forEach((want, i) => expect(redirectRows[i]).toEqual(expect.arrayContaining([want.tenant, want.sender, String(want.recipients), 'Brouillon créé'])));
    expect(await page.locator('#redirect-table a').evaluateAll((as) => as.map((a) => a.getAttribute('href')))).toEqual(['https://listes.amap-b.fr/', 'https://listes.collectif-a.org/', 'https://listes.collectif-a.org/']);
    // The same checks as `relais listmonk check`, per tenant (both stand-ins: Super Admin, webhooks on).
    await expect.poll(() => page.locator('#listmonk-checks [data-check="bounce-webhooks"]').count()).toBe(2);
    const checks = norm(await page.locator('#listmonk-checks').textContent());
    expect(checks).toContain('PASS');
    expect(checks).toContain('lists:get_all');
    expect(checks).not.toContain('FAIL');
    await shot(page, 'listmonk');

    // Domains: the fix to apply is shown for what fails.
    await go(page, '#/domains', 'Domaines');
    await page.waitForSelector('[data-domain="collectif-a.org"] [data-check="dmarc"]');
    const dmarc = norm(await page.locator('[data-domain="collectif-a.org"] [data-check="dmarc"]').textContent());
    // Checked against the test DNS: the sender domains have an MX and nothing else.
    expect(dmarc).toContain('À corriger');
    expect(dmarc).toContain('_dmarc.collectif-a.org');
    expect(norm(await page.locator('[data-domain="collectif-a.org"] [data-check="mx"]').textContent())).toContain('mx.autre.test');
    await page.waitForSelector('[data-domain="amap-b.fr"] .badge');
    expect(norm(await page.locator('[data-domain="amap-b.fr"] .domain-summary').textContent())).toBe('À corriger');
    await shot(page, 'domains');

    // Wait for the stats of the deliveries made since the first load (flushed every second).
    const dem = () => fetch(`${target.baseUrl}/api/v1/stats/demailnagement?months=1`, { headers: { authorization: `Bearer ${target.adminToken}` } }).then(async (r) => (await r.json()).months[0].total);
    await expect.poll(dem, { timeout: 20_000 }).toBe(15);
    await go(page, '#/demailnagement', 'Démailnagement');
    await page.waitForSelector('#dem-chart canvas');
    // Since the first load: stuck-1 delivered to Microsoft, two more to "other" (quota test):
    // giants 4 + 4, others 1 + 6 → 8 of 15.
    const headline = norm(await page.locator('#dem-headline').textContent());
    expect(headline).toContain('53,3 % du courrier est allé aux géants américains.');
    // The eleven months before had no mail: nothing to compare with, and their shares are empty.
    expect(headline).not.toContain('points');
    const demRows = await rowTexts(page, '#dem-table');
    expect(demRows.length).toBe(12);
    expect(demRows[0]!.slice(1).map(norm)).toEqual(['0', '0', '–', '0', '–', '–']);
    await shot(page, 'demailnagement');

    // English, remembered across a reload; the session survives the reload too.
    await go(page, '#/overview', 'Vue d’ensemble');
    await page.getByRole('button', { name: 'Switch to English' }).click();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Overview');
    expect(await page.evaluate(() => document.documentElement.lang)).toBe('en');
    expect(await page.locator('#nav').textContent()).toContain('Queue');
    await page.reload();
    await expect.poll(() => page.locator('h1').textContent()).toBe('Overview');
    await page.waitForSelector('#alerts li');
    expect(await page.locator('#alerts').textContent()).toContain('Sending IP block-listed: 2 spam/block-list refusals (provider microsoft, 1h)');
    await go(page, '#/providers', 'Deliverability');
    await page.waitForSelector('#provider-table');
    const google = (await rowTexts(page, '#provider-table')).find((r) => r[0] === 'Google (Gmail)')!;
    expect(norm(google[2]!)).toBe('3 (60%)');
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
    await expect.poll(() => page.locator('#listmonk-checks [data-check="bounce-webhooks"]').count()).toBe(1);
    expect(await page.locator('#listmonk-checks [data-tenant]').count()).toBe(1);
    expect(problems).toEqual([]);
    await ctx.close();
  });

  it('is readable on a phone', async () => {
    const { ctx, page, problems } = await newSession({ width: 390, height: 844 });
    await signIn(page, target.adminToken);
    await page.waitForSelector('#alerts li');
    // No horizontal scrolling of the page itself (wide tables scroll inside their region).
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(page, 'mobile-overview');
    await go(page, '#/providers', 'Délivrabilité');
    await page.waitForSelector('#provider-chart canvas');
    expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
    await shot(page, 'mobile-providers');
    expect(problems).toEqual([]);
    await ctx.close();
  });
});
