/**
 * One background draft job: find or create the sender's list, create the campaign draft from the
 * saved message, and, only when the tenant opted in, import the recipients as *unconfirmed*
 * subscribers of a double opt-in list. Every create is preceded, and after a lost reply followed,
 * by a look-up of the unique name or tag it makes (findOrCreate), so nothing is made twice.
 * Progress is saved after each step so a retry resumes where the last attempt stopped.
 *
 * Imported recipients receive nothing, in every Listmonk version: the subscriber is created without
 * lists (InsertSubscriber's opt-in hook only mails for the unconfirmed double opt-in lists given
 * with it), then added as `unconfirmed` with PUT /api/subscribers/lists, which sends no mail
 * (internal/core/subscriptions.go AddSubscriptions). On a double opt-in list unconfirmed people get
 * no campaign; the sender asks them with an opt-in campaign when they choose to.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ListmonkClient, ListmonkError, findOrCreate, type ClientOptions, type ListmonkList } from './client.js';
import { buildDraft, emptyDraftSource, readDraftSource } from './draft.js';
import { FailJob, permissionFix } from './errors.js';
import { SkipJob } from './outbox.js';

export interface TenantListmonkConfig {
  /** API base URL Relais uses (internal), e.g. "http://listmonk:9000". */
  url: string;
  /** URL users open in their browser, shown in the SMTP reply (default: url). */
  public_url?: string;
  user: string;
  token: string;
  /** Import the refused message's recipients as unconfirmed subscribers (default false: consent). */
  import_recipients?: boolean;
  /** Double opt-in list to import them into; default: the sender's own (double opt-in) list. */
  optin_list_id?: number;
}

export interface DraftJobPayload {
  kind: 'draft' | 'import';
  tenantId: string;
  /** Snapshot of the tenant's Listmonk settings when the job was made (used if resolveTenant is absent). */
  listmonk: TenantListmonkConfig;
  sender: string;
  messageId: string;
  recipientCount: number;
  /** Recipients to import (only stored when import_recipients is on). */
  recipients: string[];
  /** Copy of the message, on the node named below. */
  file?: string;
  node: string;
  tag: string;
  /** The redirect this job belongs to (its draft job's id); import jobs of later transactions share it. */
  redirect?: string;
  listId?: number;
  campaignId?: number;
  campaignUuid?: string;
  imported?: boolean;
  notes?: string[];
}

export interface DraftJobContext {
  node: string;
  clientOptions?: ClientOptions;
  resolveTenant?: (tenantId: string) => Promise<TenantListmonkConfig | null>;
  log: { info(o: object, msg?: string): void; warn(o: object, msg?: string): void };
}

export function senderListName(sender: string): string {
  return `Relais – ${sender.toLowerCase()}`;
}

/** The sender's own list: private and double opt-in, so imported (unconfirmed) people get nothing. */
export async function ensureSenderList(client: ListmonkClient, sender: string): Promise<ListmonkList> {
  const name = senderListName(sender);
  const find = () => client.findListByName(name);
  const list = await findOrCreate(find, () =>
    client.createList({
      name,
      type: 'private',
      optin: 'double',
      tags: ['relais'],
      description: `Liste créée par Relais pour ${sender} / List created by Relais for ${sender}`,
    }),
  );
  // Without lists:get_all Listmonk hides every list, even one this user just made: each job would
  // make another. Stop here instead (the list made now is found once the role is fixed).
  if (!(await find())) throw new FailJob(`list "${name}" (id ${list.id}) is not visible to the API user: lists:get_all missing`, permissionFix('lists:get_all'));
  return list;
}

/** Adds recipients as unconfirmed subscribers of a double opt-in list, without any mail to them. */
export async function importRecipients(client: ListmonkClient, listId: number, recipients: string[], log: DraftJobContext['log']): Promise<number> {
  const list = await client.getList(listId);
  if (list.optin !== 'double') {
    throw new FailJob(`list ${listId} "${list.name}" is not double opt-in; refusing to import recipients without their consent`, {
      fr: "choisissez pour listmonk.optin_list_id une liste à double opt-in (ou retirez-le pour utiliser la liste de l'expéditeur).",
      en: "set listmonk.optin_list_id to a double opt-in list (or remove it to use the sender's own list).",
    });
  }
  let added = 0;
  for (const email of recipients) {
    try {
      // No lists here: InsertSubscriber would mail an opt-in confirmation for them.
      const { subscriber } = await client.createSubscriber({ email, status: 'enabled', lists: [], preconfirm_subscriptions: false });
      // An existing subscription keeps its status (the add would overwrite a confirmed one).
      if (!subscriber.lists?.some((l) => l.id === listId)) await client.addSubscribersToLists([subscriber.id], [listId], 'unconfirmed');
      added++;
    } catch (err) {
      // A refused address (400: invalid e-mail) must not block the others; outages retry the job,
      // a missing permission fails it.
      if (err instanceof ListmonkError && err.status === 400 && !/permission denied/i.test(err.message)) {
        log.warn({ email, err: err.message }, 'listmonk refused a recipient');
        continue;
      }
      throw err;
    }
  }
  return added;
}

export async function runDraftJob(p: DraftJobPayload, save: (p: DraftJobPayload) => Promise<void>, ctx: DraftJobContext): Promise<void> {
  const cfg = ctx.resolveTenant ? await ctx.resolveTenant(p.tenantId) : p.listmonk;
  if (!cfg) throw new Error(`tenant ${p.tenantId} has no Listmonk configuration`);
  const client = new ListmonkClient(cfg, ctx.clientOptions);

  if (p.listId === undefined) {
    p.listId = (await ensureSenderList(client, p.sender)).id;
    await save(p);
  }
  if (p.kind === 'draft' && p.campaignId === undefined) {
    const find = () => client.findCampaignByTag(p.tag);
    let campaign = await find();
    if (!campaign) {
      if (p.file && !existsSync(p.file)) {
        if (p.node !== ctx.node) throw new SkipJob(`message copy is on node ${p.node}`);
        ctx.log.warn({ file: p.file }, 'listmonk draft: message copy missing, drafting without content');
        p.file = undefined;
      }
      const src = p.file ? await readDraftSource({ path: p.file }) : emptyDraftSource();
      const built = await buildDraft(client, src, { listId: p.listId, fromEmail: p.sender, tag: p.tag });
      campaign = await findOrCreate(find, () => client.createCampaign(built.campaign), { alreadyLooked: true });
      p.notes = built.notes;
      ctx.log.info({ tenant: p.tenantId, sender: p.sender, campaign: campaign.id, notes: built.notes.length }, 'listmonk draft created');
    }
    p.campaignId = campaign.id;
    p.campaignUuid = campaign.uuid;
    await save(p);
  }
  if (cfg.import_recipients && p.recipients.length && !p.imported) {
    const n = await importRecipients(client, cfg.optin_list_id ?? p.listId, p.recipients, ctx.log);
    ctx.log.info({ tenant: p.tenantId, sender: p.sender, imported: n }, 'listmonk recipients imported as unconfirmed');
    p.imported = true;
    await save(p);
  }
  if (p.file) await rm(p.file, { force: true });
}
