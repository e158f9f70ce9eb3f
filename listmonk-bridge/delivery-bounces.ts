/**
 * Newsletter recipients that bounce at delivery are reported to their tenant's Listmonk through the bounce-feedback outbox, keyed so a
 * recipient's bounce is posted once.
 */
import type { RecipientEvent } from '../relay/delivery/index.js';
import type { BounceFeedback } from './bounce-feedback.js';
import type { Logger } from './redirect.js';

export function reportDeliveryBounce(feedback: BounceFeedback, log: Logger, e: RecipientEvent): void {
  const env = e.env;
  if (!env.newsletter || !env.tenant || !env.listmonk) return;
  // The reply's class decides (relay/delivery/classify.ts): permanent → hard; retried until the
  // message expired → soft.
  const type = e.class?.permanent ? 'hard' : 'soft';
  void feedback
    .report({
      tenantId: env.tenant,
      key: `${env.id}:${e.recipient}:delivery`,
      email: e.recipient,
      subscriber_uuid: env.listmonk.subscriber,
      campaign_uuid: env.listmonk.campaign,
      type,
      meta: { source: 'delivery', status: e.reply.enhanced, category: e.class?.category, remote_reply: `${e.reply.code} ${e.reply.text}`, remote_mta: e.mx },
    })
    .catch((err: unknown) => log.error({ err: (err as Error).message, queueId: env.id }, 'bounce feedback not queued'));
}
