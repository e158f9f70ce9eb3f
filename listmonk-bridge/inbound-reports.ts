/**
 * Reports coming back to the VERP return path bounces+<ref>@<bounce domain>: RFC 3464 DSNs and
 * RFC 5965 complaints from remote MTAs (on an inbound listener) or forwarded by a client. The ref
 * names the tenant, campaign, subscriber and recipients (stored at intake); only those are posted,
 * whatever the report's text says (its UUIDs and addresses are the sender's); the event goes to the
 * tenant's Listmonk through the durable bounce-feedback outbox, keyed so a repeated report is
 * posted once. The message itself is consumed (answered 250, never queued): reports about unknown
 * refs, auto-replies and anything unparseable are logged and dropped, never bounced back.
 * postmaster@<bounce domain> (RFC 5321 §4.5.1) is accepted too and forwarded, unchanged, to the
 * configured address (listmonk.postmaster_forward): that is where people write about our mail.
 */
import { createReadStream } from 'node:fs';
import type { Logger } from 'pino';
import { PostmasterLimit } from './postmaster-limit.js';
import { parseReport, type DsnRecipient } from './reports.js';
import { parseReturnPath } from './verp.js';
import type { BounceFeedback } from './bounce-feedback.js';
import type { Decision, ReportTaker } from '../relay/intake/hooks.js';
import type { Verdict } from '../policies/types.js';
import { StoreUnavailableError, type Store } from '../src/store/types.js';
import { verpKey, verpRecipients, type VerpRef } from '../policies/verp.js';

export interface InboundReportsDeps {
  store: Store;
  feedback: BounceFeedback;
  log: Logger;
  bounceDomain: string;
  /** smtp.max_report_size: the intake refuses larger reports, so this reads one whole. */
  maxReportSize?: number;
  /** Where mail to postmaster@<bounce domain> goes (required with a bounce domain). */
  postmasterForward?: string;
}

/** Its addresses are the VERP return paths and postmaster@ (forwarded); handle() queues the Listmonk events, answers 250 or 451. */
export type InboundReports = ReportTaker;

const forwarded: Verdict = { action: 'accept', reason: 'postmaster', smtp: { code: 250, enhanced: '2.0.0', text: 'Transmis au postmaster / Forwarded to the postmaster' } };
const postmasterBusy: Verdict = {
  action: 'defer',
  reason: 'postmaster_rate',
  smtp: { code: 450, enhanced: '4.7.1', text: 'Trop de messages au postmaster, réessayez plus tard / Too much mail to the postmaster, try again later' },
};
const received: Verdict = { action: 'accept', reason: 'report', smtp: { code: 250, enhanced: '2.0.0', text: 'Rapport reçu / Report received' } };
const storeDown: Verdict = {
  action: 'defer',
  reason: 'store_unavailable',
  smtp: { code: 451, enhanced: '4.3.0', text: 'Erreur locale, rapport non accepté, réessayez plus tard / Local error in processing, try again later' },
};

const same = (a: string | undefined, b: string) => a?.toLowerCase() === b.toLowerCase();

/**
 * The stored recipients a DSN is about, each with its DSN entries. The report only selects among
 * the envelope's recipients (as stored at sending); when it names none of them, a one-recipient
 * message is still about that recipient (forwarding renamed it), a multi-recipient one about nobody.
 */
function attribute(rcpts: DsnRecipient[], stored: string[]): Map<string, DsnRecipient[]> {
  const out = new Map<string, DsnRecipient[]>();
  for (const address of stored) {
    const own = rcpts.filter((r) => same(r.finalRecipient, address) || same(r.originalRecipient, address));
    if (own.length) out.set(address, own);
  }
  if (!out.size && stored.length === 1) out.set(stored[0]!, rcpts);
  return out;
}

/** The stored recipient a complaint is about (same rule as for DSNs), or undefined. */
function complainant(named: Array<string | undefined>, stored: string[]): string | undefined {
  return stored.find((address) => named.some((n) => same(n, address))) ?? (stored.length === 1 ? stored[0] : undefined);
}

export function createInboundReports(d: InboundReportsDeps): InboundReports {
  const domain = d.bounceDomain.toLowerCase();
  const log = d.log.child({ component: 'inbound-reports' });
  const postmasterLimit = new PostmasterLimit();
  const refOf = (address: string) => parseReturnPath(address, domain);
  // The local part "postmaster" is case-insensitive, and "RCPT TO:<Postmaster>" without a domain
  // must be accepted too (RFC 5321 §4.5.1).
  const isPostmaster = (address: string) => {
    const a = address.toLowerCase();
    return !!d.postmasterForward && (a === 'postmaster' || a === `postmaster@${domain}`);
  };

  return {
    recipientKind(address) {
      if (refOf(address)) return 'report';
      if (isPostmaster(address)) return 'postmaster';
      return address.toLowerCase().endsWith(`@${domain}`) ? 'unknown' : null;
    },

    isReport(recipients) {
      return recipients.length > 0 && recipients.every((r) => refOf(r) !== null || isPostmaster(r));
    },

    async handle(ctx) {
      const f = ctx.facts;
      const base = { queueId: ctx.queueId, from: f.mailFrom || '<>', client: f.client.name ?? f.client.address };
      const refs = new Set(f.recipients.map((r) => refOf(r)).filter((r): r is string => r !== null));
      // Mail to postmaster@ is queued for its forward address; reports to VERP refs are consumed.
      const done = (): Decision => (f.recipients.some(isPostmaster) ? { verdict: forwarded, recipients: [d.postmasterForward!] } : { verdict: received, consume: true });
      if (!refs.size) {
        if (!postmasterLimit.take(f.client.address)) {
          log.warn({ ...base }, 'mail to postmaster deferred: too much from this address or in all this hour');
          return { verdict: postmasterBusy };
        }
        log.info({ ...base, to: d.postmasterForward }, 'mail to postmaster forwarded');
        return done();
      }
      try {
        await ctx.flushBody();
        // Parsed once, as whichever it is (plus the Received line Relais put at its head).
        const report = await parseReport(createReadStream(ctx.bodyPath), d.maxReportSize && d.maxReportSize + 16 * 1024);
        const dsn = report?.kind === 'dsn' ? report.dsn : null;
        const arf = report?.kind === 'arf' ? report.arf : null;
        if (!dsn && !arf) {
          log.info({ ...base, subject: f.headers.subject }, 'inbound report: neither a DSN nor a complaint, dropped');
          return done();
        }
        for (const ref of refs) {
          const stored = await d.store.getValue(verpKey(ref));
          if (!stored) {
            log.warn({ ...base, ref }, 'inbound report for an unknown VERP ref, dropped');
            continue;
          }
          const rec = JSON.parse(stored) as VerpRef;
          if (!rec.tenant) {
            log.warn({ ...base, ref }, 'inbound report: VERP ref without a tenant, dropped');
            continue;
          }
          const known = verpRecipients(rec);
          // Only what was stored at sending: a UUID written in the report is the sender's text.
          // The subscriber UUID identifies one recipient, so it is posted for single-recipient mail only.
          const ids = (email: string) => ({ tenantId: rec.tenant!, email, campaign_uuid: rec.campaign, subscriber_uuid: known.length === 1 ? rec.subscriber : undefined });
          if (dsn) {
            const about = attribute(dsn.recipients, known);
            if (!about.size) log.warn({ ...base, ref }, 'inbound DSN about none of the message\'s recipients, dropped');
            for (const [email, rs] of about) {
              // delayed → nothing yet; failed 4.x.x (given up) → soft; failed 5.x.x → hard.
              const hard = rs.find((r) => r.type === 'hard');
              const worst = hard ?? rs.find((r) => r.type === 'soft' && r.action === 'failed');
              if (!worst) {
                log.info({ ...base, ref, actions: rs.map((r) => r.action) }, 'inbound DSN without a failure, ignored');
                continue;
              }
              const r = await d.feedback.report({
                ...ids(email),
                key: `${ref}:${email}:dsn`,
                type: hard ? 'hard' : 'soft',
                meta: { source: 'dsn', action: worst.action, status: worst.status, diagnostic_code: worst.diagnosticCode, remote_mta: worst.remoteMta, reporting_mta: dsn.reportingMta, queue_id: rec.queueId },
              });
              log.info({ ...base, ref, tenant: rec.tenant, type: hard ? 'hard' : 'soft', status: worst.status, queued: r.queued }, 'inbound DSN reported to Listmonk');
            }
          } else if (arf) {
            if (arf.feedbackType === 'not-spam') {
              log.info({ ...base, ref }, 'inbound feedback report "not-spam", ignored');
              continue;
            }
            const email = complainant([arf.recipient, ...arf.originalRcptTo], known);
            if (!email) {
              log.warn({ ...base, ref }, 'inbound complaint about none of the message\'s recipients, dropped');
              continue;
            }
            const r = await d.feedback.report({
              ...ids(email),
              key: `${ref}:${email}:arf`,
              type: 'complaint',
              meta: { source: 'arf', feedback_type: arf.feedbackType, user_agent: arf.userAgent, reporting_mta: arf.reportingMta, source_ip: arf.sourceIp, queue_id: rec.queueId },
            });
            log.info({ ...base, ref, tenant: rec.tenant, feedbackType: arf.feedbackType, queued: r.queued }, 'inbound complaint reported to Listmonk');
          }
        }
        return done();
      } catch (err) {
        if (err instanceof StoreUnavailableError) {
          log.error({ ...base, err: err.message }, 'inbound report: store unavailable');
          return { verdict: storeDown };
        }
        throw err;
      }
    },
  };
}
