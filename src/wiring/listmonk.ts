/**
 * The Listmonk bridge in the running relay: the redirector (drafts for bulk senders), bounce
 * feedback (webhook outbox), and the delivery observer that reports newsletter recipients which
 * bounce at delivery (5xx at once, 4xx on expiry) to their tenant's Listmonk.
 */
import type { Logger } from 'pino';
import { createBounceFeedback, createRedirector, type BounceFeedback, type Redirector } from '../../listmonk-bridge/index.js';
import type { DeliveryObserver } from '../../relay/delivery/index.js';
import type { Store } from '../store/types.js';
import type { TenantDirectory } from '../tenants/directory.js';

export interface ListmonkBridge {
  redirector: Redirector;
  feedback: BounceFeedback;
  observer: DeliveryObserver;
  start(): void;
  stop(): Promise<void>;
}

export function createListmonkBridge(deps: {
  store: Store;
  tenants: TenantDirectory;
  log: Logger;
  dataDir: string;
  /** Outbox back-off while Listmonk is unreachable (listmonk.retry_first / retry_max). */
  retry?: { firstMs: number; maxMs: number };
}): ListmonkBridge {
  const log = deps.log.child({ component: 'listmonk' });
  const resolveTenant = async (id: string) => (await deps.tenants.get(id))?.listmonk ?? null;
  const retry = deps.retry && { backoffMs: deps.retry.firstMs, maxBackoffMs: deps.retry.maxMs };
  // The workers poll at least as often as the first retry, so a short back-off is honoured.
  const pollMs = deps.retry ? Math.min(5_000, deps.retry.firstMs) : undefined;
  const redirector = createRedirector({ store: deps.store, log, dataDir: deps.dataDir, resolveTenant, retry, pollMs });
  const feedback = createBounceFeedback({ store: deps.store, log, resolveTenant, retry, pollMs });
  const observer: DeliveryObserver = {
    onFinalBounce(e) {
      const env = e.env;
      if (!env.newsletter || !env.tenant || !env.listmonk) return;
      // The reply's class decides: permanent → hard; retried until the message expired → soft.
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
    },
  };
  return {
    redirector,
    feedback,
    observer,
    start() {
      redirector.worker.start();
      feedback.worker.start();
    },
    async stop() {
      await Promise.all([redirector.worker.stop(), feedback.worker.stop()]);
    },
  };
}
