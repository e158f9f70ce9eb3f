/**
 * One background draft job: find or create the sender's list, create the campaign draft from the
 * saved message (once: a unique tag lets a retry find a campaign an interrupted attempt created),
 * and, only when the tenant opted in, import the recipients as *unconfirmed* subscribers of a
 * double opt-in list (they receive nothing until they confirm). Progress is saved after each
 * step so a retry resumes where the last attempt stopped.
 */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { ListmonkClient, ListmonkError, type ClientOptions, type ListmonkList } from './client.js';
import { buildDraft, emptyDraftSource, readDraftSource } from './draft.js';
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
  const found = await client.findListByName(name);
  if (found) return found;
  return client.createList({
    name,
    type: 'private',
    optin: 'double',
    tags: ['relais'],
    description: `Liste créée par Relais pour ${sender} / List created by Relais for ${sender}`,
  });
}

/** Adds recipients as unconfirmed subscribers of a double opt-in list; never preconfirms. */
export async function importRecipients(client: ListmonkClient, listId: number, recipients: string[], log: DraftJobContext['log']): Promise<number> {
  const list = await client.getList(listId);
  if (list.optin !== 'double') {
    throw new Error(`list ${listId} "${list.name}" is not double opt-in; refusing to import recipients without their consent`);
  }
  let added = 0;
  for (const email of recipients) {
    try {
      const { created, subscriber } = await client.createSubscriber({ email, status: 'enabled', lists: [listId], preconfirm_subscriptions: false });
      if (!created && !subscriber.lists?.some((l) => l.id === listId)) {
        await client.addSubscribersToLists([subscriber.id], [listId], 'unconfirmed');
      }
      added++;
    } catch (err) {
      // A refused address (400: invalid e-mail) must not block the others; outages retry the job.
      if (err instanceof ListmonkError && err.status !== undefined && err.status >= 400 && err.status < 500 && err.status !== 403) {
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
    const existing = await client.findCampaignByTag(p.tag);
    if (existing) {
      p.campaignId = existing.id;
      p.campaignUuid = existing.uuid;
    } else {
      if (p.file && !existsSync(p.file)) {
        if (p.node !== ctx.node) throw new SkipJob(`message copy is on node ${p.node}`);
        ctx.log.warn({ file: p.file }, 'listmonk draft: message copy missing, drafting without content');
        p.file = undefined;
      }
      const src = p.file ? await readDraftSource({ path: p.file }) : emptyDraftSource();
      const built = await buildDraft(client, src, { listId: p.listId, fromEmail: p.sender, tag: p.tag });
      const campaign = await client.createCampaign(built.campaign);
      p.campaignId = campaign.id;
      p.campaignUuid = campaign.uuid;
      p.notes = built.notes;
      ctx.log.info({ tenant: p.tenantId, sender: p.sender, campaign: campaign.id, notes: built.notes.length }, 'listmonk draft created');
    }
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
