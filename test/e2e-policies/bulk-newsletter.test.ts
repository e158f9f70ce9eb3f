/**
 * Bulk detection across split transactions (Postfix splits a 120-recipient message into 50 + 50
 * + 20 with the same Message-ID), the same content sent as separate messages, and newsletter
 * pacing (over quota: accepted, delivered later).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dropRedisPrefix } from '../store/redis-cleanup.js';
import type { RelayProcess } from '../helpers/relay-process.js';
import { Session, line, passwordHash, recipients, sendOne, spoolEnvelopes, startPolicyRelay } from './helpers.js';

describe('bulk and newsletter clients over SMTP', () => {
  let relay: RelayProcess & { prefix?: string };
  beforeAll(async () => {
    const hash = await passwordHash();
    relay = await startPolicyRelay({
      store: 'redis',
      yaml: `
hostname: relais.test
tenants:
  - id: ruche
    domains: [a.example]
    bulk: { recipients_per_message: 100, action: reject }
    newsletter_limits: { tenant: { messages_per_hour: 3 } }
  - id: copie
    domains: [b.example]
    bulk: { fingerprint_recipients: 3, fingerprint_window_minutes: 60, action: reject }
clients:
  - name: mailcow
    password_hash: "${hash}"
    tenants: [ruche, copie]
  - name: listmonk
    password_hash: "${hash}"
    tenants: [ruche]
    newsletter: true
`,
    });
  });
  afterAll(async () => {
    await relay?.stop();
    if (relay?.prefix) await dropRedisPrefix([relay.prefix]);
  });

  it('sums split transactions of one Message-ID: 50 accepted, then 50 and 20 refused with the Listmonk hint', async () => {
    const all = recipients(120);
    const messageId = '<split-120@a.example>';
    // Postfix sends the parts over one connection, one transaction each.
    const s = await Session.open(relay.smtpPort, 'mailcow');
    const first = await s.send({ from: 'ag@a.example', to: all.slice(0, 50), messageId });
    const second = await s.send({ from: 'ag@a.example', to: all.slice(50, 100), messageId });
    const third = await s.send({ from: 'ag@a.example', to: all.slice(100), messageId });
    await s.close();
    expect(line(first.data)).toMatch(/^250 /);
    for (const r of [second, third]) {
      expect(line(r.data)).toMatch(/^550 5\.7\.1 Envoi en nombre refusé \(\d+ destinataires pour un message\) : utilisez la liste de diffusion Listmonk de votre collectif \/ Bulk sending refused \(\d+ recipients for one message\): please use your collective's Listmonk$/);
    }
    expect(second.data!.text).toContain('100 destinataires');
    expect(third.data!.text).toContain('120 destinataires');
    const queued = spoolEnvelopes(relay.dataDir).filter((e) => e.messageId === messageId);
    expect(queued.map((e) => e.recipients.length)).toEqual([50]);
    // Another message of the same sender is judged on its own. (Other words: the same ones would
    // be a copy already sent to 120 recipients, bulk by the content signal.)
    const another = { from: 'ag@a.example', to: recipients(20, 'other.example'), body: 'Un autre message, sans rapport avec le premier.' };
    expect((await sendOne(relay.smtpPort, 'mailcow', another)).data?.code).toBe(250);
  });

  it('sees one content sent as separate messages: refused once it has reached 3 distinct recipients', async () => {
    const body = (greeting: string, boundary: string) =>
      `--${boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${greeting},\r\nNotre assemblée générale a lieu le 12 mars à 18 h, salle des fêtes.\r\n--${boundary}--\r\n`;
    const mime = (boundary: string) => ['MIME-Version: 1.0', `Content-Type: multipart/mixed; boundary="${boundary}"`];
    const s = await Session.open(relay.smtpPort, 'mailcow');
    const send = (from: string, to: string, text: string, boundary: string) => s.send({ from, to: [to], body: body(text, boundary), extraHeaders: mime(boundary) });
    // Each copy has its own Message-ID, recipient and MIME boundary; same words.
    const first = await send('ag@b.example', 'alice@dest.example', 'Bonjour', 'b1-x7');
    const again = await send('ag@b.example', 'alice@dest.example', 'Bonjour', 'b2-k9');
    const second = await send('ag@b.example', 'bob@other.example', 'BONJOUR', 'b3-zz');
    const third = await send('ag@b.example', 'carol@dest.example', 'Bonjour', 'b4-qq');
    // Other words from the same mailbox, and the same words from another mailbox, are not copies.
    const other = await send('ag@b.example', 'dan@dest.example', 'Bonsoir, rien à voir', 'b5');
    const otherMailbox = await send('tresorier@b.example', 'erin@dest.example', 'Bonjour', 'b6');
    // Short replies are alike by nature: never fingerprinted.
    const short = [];
    for (const to of ['f@x.example', 'g@x.example', 'h@x.example', 'i@x.example']) short.push(await s.send({ from: 'ag@b.example', to: [to], body: 'Merci !' }));
    await s.close();
    for (const r of [first, again, second, other, otherMailbox, ...short]) expect(line(r.data)).toMatch(/^250 /);
    expect(line(third.data)).toMatch(/^550 5\.7\.1 Envoi en nombre refusé \(même message envoyé à 3 destinataires\) : .* \/ Bulk sending refused \(same message sent to 3 recipients\)/);
  });

  it('paces a newsletter client over its quota: every message accepted (250), the extra ones scheduled later', async () => {
    const s = await Session.open(relay.smtpPort, 'listmonk');
    const ids: string[] = [];
    const started = Date.now();
    for (let i = 0; i < 8; i++) {
      const r = await s.send({
        from: 'news@a.example',
        to: [`sub${i}@dest.example`],
        extraHeaders: ['List-Unsubscribe: <https://listes.a.example/u/1>', 'List-Unsubscribe-Post: List-Unsubscribe=One-Click'],
      });
      expect(line(r.data)).toMatch(/^250 /);
      ids.push(r.queueId!);
    }
    await s.close();
    const envs = ids.map((id) => spoolEnvelopes(relay.dataDir).find((e) => e.id === id)!);
    expect(envs.every((e) => e?.newsletter === true)).toBe(true);
    expect(envs.slice(0, 3).every((e) => e.notBefore === undefined)).toBe(true);
    const paced = envs.slice(3);
    for (const e of paced) {
      // 3 per hour: the 4th can only go once the first is an hour old.
      expect(e.notBefore!).toBeGreaterThan(started + 55 * 60_000);
      expect(e.nextAttemptAt).toBe(e.notBefore);
      expect(e.state).toBe('active');
      expect(e.attempts).toEqual([]); // not tried before its time
    }
    // Paced in order, and no hour ever holds more than 3 (a slot can free several at once: the
    // first three share a granule of the window).
    const times = paced.map((e) => e.notBefore!);
    expect([...times].sort((a, b) => a - b)).toEqual(times);
    const all = envs.map((e) => e.notBefore ?? e.receivedAt);
    for (const t of all) expect(all.filter((x) => x > t - 3_600_000 && x <= t).length).toBeLessThanOrEqual(3);
    expect(times.at(-1)!).toBeGreaterThan(started + 115 * 60_000); // the 7th and 8th wait a second hour
  });
});
