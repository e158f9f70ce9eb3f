import { describe, it, expect, beforeAll, afterAll, afterEach } from 'vitest';
import { ListmonkClient } from '../../listmonk-bridge/client.js';
import { buildDraft, readDraftSource, escapeGoTemplate } from '../../listmonk-bridge/draft.js';
import { startFakeListmonk, type FakeListmonk } from './listmonk-server.js';
import { PNG_1X1, writeMessageFile } from './helpers.js';

describe('campaign draft from a message file', () => {
  let lm: FakeListmonk;
  let client: ListmonkClient;
  let listId: number;
  beforeAll(async () => {
    lm = await startFakeListmonk(); // accepts jpg, jpeg, png, gif, svg, pdf
    client = new ListmonkClient({ url: lm.url, user: lm.user, token: lm.token }, { backoffMs: 1, retries: 1 });
    listId = (await client.createList({ name: 'Relais – alice@laruche.example', optin: 'double' })).id;
  });
  afterEach(() => expect(lm.violations).toEqual([]));
  afterAll(() => lm.close());

  it('html + text, inline image rewritten to its media URL, attachments uploaded or noted', async () => {
    const msg = await writeMessageFile(
      {
        from: 'Alice <alice@laruche.example>',
        to: 'bob@example.org',
        subject: 'Assemblée générale — 12 juin',
        text: 'Bonjour à toutes et tous,\nvenez nombreux.',
        html: '<html><body><p>Bonjour à toutes et tous,</p><img src="cid:logo@laruche"><p>{{ pas un template }}</p></body></html>',
        attachments: [
          { filename: 'logo.png', content: PNG_1X1, contentType: 'image/png', cid: 'logo@laruche' },
          { filename: 'ordre-du-jour.pdf', content: Buffer.from('%PDF-1.4 fake'), contentType: 'application/pdf' },
          { filename: 'photos.zip', content: Buffer.from('PK\x03\x04zip'), contentType: 'application/zip' },
        ],
      },
      'RELAIS-SPOOL v1 some-header-bytes\n',
    );
    const src = await readDraftSource({ path: msg.path, offset: msg.offset });
    expect(src.subject).toBe('Assemblée générale — 12 juin');
    expect(src.attachments).toHaveLength(3);
    const built = await buildDraft(client, src, { listId, fromEmail: 'alice@laruche.example', tag: 'relais-t1' });
    const c = await client.createCampaign(built.campaign);

    expect(c).toMatchObject({ status: 'draft', subject: 'Assemblée générale — 12 juin', content_type: 'html', from_email: 'alice@laruche.example' });
    expect(c.lists).toEqual([{ id: listId, name: 'Relais – alice@laruche.example' }]);
    // stored names carry the job's tag and the attachment's rank (unique, found again after a lost reply)
    const logo = lm.media.find((m) => m.filename === 'relais-t1-1-logo.png');
    const pdf = lm.media.find((m) => m.filename === 'relais-t1-2-ordre-du-jour.pdf');
    expect(logo && pdf).toBeTruthy();
    expect(c.body).toContain(`<img src="${logo.url}">`);
    expect(c.body).not.toContain('cid:');
    expect(c.body).toContain(`<a href="${pdf.url}">ordre-du-jour.pdf</a>`);
    // the zip was refused by Listmonk's media settings: a bilingual note instead, at the end
    expect(c.body).toMatch(/La pièce jointe « photos\.zip » n'a pas pu être importée dans Listmonk \(POST \/api\/media: 400 Unsupported file type \(zip\)\)/);
    expect(c.body).toContain('The attachment &quot;photos.zip&quot; could not be uploaded to Listmonk');
    expect(c.body!.indexOf('photos.zip')).toBeGreaterThan(c.body!.indexOf('ordre-du-jour.pdf'));
    expect(built.notes).toHaveLength(1);
    // Go template syntax in the original is neutralised
    expect(c.body).toContain('{{ "{{" }} pas un template {{ "}}" }}');
    expect(c.altbody).toContain('venez nombreux.');
    expect(lm.calls('POST /api/campaigns').at(-1)!.body.tags).toEqual(['relais', 'relais-t1']);
  });

  it('text-only message gives a plain draft with attachment links', async () => {
    const msg = await writeMessageFile({
      from: 'alice@laruche.example',
      subject: 'Nouvelles',
      text: 'Juste du texte.',
      attachments: [{ filename: 'affiche.jpg', content: Buffer.from('ffd8ffe000104a464946', 'hex'), contentType: 'image/jpeg' }],
    });
    const built = await buildDraft(client, await readDraftSource({ path: msg.path }), { listId, fromEmail: 'alice@laruche.example', tag: 'relais-t2' });
    const c = await client.createCampaign(built.campaign);
    expect(c.content_type).toBe('plain');
    expect(c.body).toMatch(/^Juste du texte\.\n\nPièces jointes \/ Attachments :\n- affiche\.jpg : http:\/\/127\.0\.0\.1:\d+\/uploads\/relais-t2-1-affiche\.jpg$/);
  });

  it('an image Listmonk cannot decode (500) becomes a note, not a failure', async () => {
    const msg = await writeMessageFile({
      from: 'alice@laruche.example',
      subject: 'Cassé',
      html: '<p>Image : <img src="cid:broken@x"></p>',
      attachments: [{ filename: 'broken.png', content: Buffer.from('not a png'), contentType: 'image/png', cid: 'broken@x' }],
    });
    const built = await buildDraft(client, await readDraftSource({ path: msg.path }), { listId, fromEmail: 'alice@laruche.example', tag: 'relais-t3' });
    expect(built.notes[0]).toContain('broken.png');
    expect(built.campaign.body).toContain('cid:broken@x');
    expect(built.campaign.body).toContain('[Relais — à supprimer avant envoi / remove before sending]');
  });

  it('caps what it parses: a message over the cap keeps its head, drops attachments, says so', async () => {
    const msg = await writeMessageFile({
      from: 'alice@laruche.example',
      subject: 'Gros',
      text: 'Début du message.',
      attachments: [{ filename: 'big.pdf', content: Buffer.alloc(200_000, 1), contentType: 'application/pdf' }],
    });
    const src = await readDraftSource({ path: msg.path }, 50_000);
    expect(src).toMatchObject({ subject: 'Gros', truncated: true, attachments: [] });
    const built = await buildDraft(client, src, { listId, fromEmail: 'alice@laruche.example', tag: 'relais-t4' });
    expect(built.notes.join(' ')).toContain('The message exceeded 25 MiB');
  });

  it('v4.1 refuses non-ASCII file names (422): names are sent in ASCII; a lost upload reply leaves one file', async () => {
    const v4 = await startFakeListmonk({ version: 'v4.1' });
    try {
      const c4 = new ListmonkClient({ url: v4.url, user: v4.user, token: v4.token }, { backoffMs: 1, retries: 1 });
      const l4 = (await c4.createList({ name: 'l' })).id;
      const raw = await fetch(`${v4.url}/api/media`, { method: 'POST', headers: { Authorization: `token ${v4.user}:${v4.token}` }, body: (() => { const f = new FormData(); f.append('file', new Blob(['%PDF']), 'réunion.pdf'); return f; })() });
      expect(raw.status).toBe(422);
      expect((await raw.json()).message).toBe('Invalid filename réunion.pdf. Use only ASCII characters');
      const msg = await writeMessageFile({
        from: 'alice@laruche.example', subject: 'AG', text: 'Ordre du jour joint.',
        attachments: [{ filename: 'Réunion d’été.pdf', content: Buffer.from('%PDF-1.4 x'), contentType: 'application/pdf' }],
      });
      await v4.fail({ mode: 'drop-reply', match: 'POST /api/media', times: 1 });
      const built = await buildDraft(c4, await readDraftSource({ path: msg.path }), { listId: l4, fromEmail: 'alice@laruche.example', tag: 'relais-t5' });
      expect(built.notes).toEqual([]);
      expect(v4.calls('POST /api/media')).toHaveLength(2); // the probe above, then one upload
      expect(v4.media).toHaveLength(1);
      expect(v4.media[0].filename).toMatch(/^relais-t5-1-Reunion-d-ete_[0-9a-f]{6}\.pdf$/); // v4 always adds a suffix
      expect(built.campaign.body).toContain(`- Réunion d’été.pdf : ${v4.media[0].url}`);
      expect(v4.violations).toEqual([]);
    } finally {
      await v4.close();
    }
  });

  it('escapeGoTemplate', () => {
    expect(escapeGoTemplate('a {{ .Subscriber.Name }} b')).toBe('a {{ "{{" }} .Subscriber.Name {{ "}}" }} b');
  });
});
