/**
 * The Listmonk bridge in the running relay: the redirector (drafts for bulk senders), bounce
 * feedback (webhook outbox), and the delivery observer that reports newsletter recipients which
 * bounce at delivery (5xx at once, 4xx on expiry) to their tenant's Listmonk.
 */
import type { Logger } from 'pino';
import { createBounceFeedback, createRedirector, reportDeliveryBounce, type BounceFeedback, type Redirector } from '../../listmonk-bridge/index.js';
import type { DeliveryObserver } from '../../relay/delivery/index.js';
import type { Store } from '../store/types.js';
import { REDIRECTS_NS, type RedirectRecord } from '../../policies/redirect.js';
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
  // The redirect record (policies/redirect.ts) keeps the campaign id once its job is done.
  const onDrafted = async (id: string, campaignId: number) => {
    const rec = await deps.store.getDoc<RedirectRecord>(REDIRECTS_NS, id);
    if (rec) await deps.store.putDoc(REDIRECTS_NS, id, { ...rec, campaignId });
  };
  const redirector = createRedirector({ store: deps.store, log, dataDir: deps.dataDir, resolveTenant, retry, pollMs, onDrafted });
  const feedback = createBounceFeedback({ store: deps.store, log, resolveTenant, retry, pollMs });
  const observer: DeliveryObserver = { onFinalBounce: (e) => reportDeliveryBounce(feedback, log, e) };
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
