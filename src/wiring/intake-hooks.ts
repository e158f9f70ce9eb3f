/**
 * The intake's hooks, wired: the end-of-DATA checks (policies/end-of-data.ts) with their store,
 * Listmonk bridge, DKIM keys and counters, and the DKIM body hasher that sees the message while
 * it streams into the spool.
 */
import type { Logger } from 'pino';
import { BodyHasher, activeSigningKeys, signMessage, type DkimKey } from '../../relay/dkim/index.js';
import type { IntakeHooks, ReportTaker } from '../../relay/intake/hooks.js';
import type { Redirector } from '../../listmonk-bridge/index.js';
import { createEndOfData } from '../../policies/end-of-data.js';
import { createRedirect } from '../../policies/redirect.js';
import { assignReturnPath } from '../../policies/verp.js';
import type { PolicyService } from '../../policies/service/index.js';
import type { Metrics } from '../metrics.js';
import type { StatsRecorder } from '../stats/recorder.js';
import type { Store } from '../store/types.js';
import type { TenantDirectory } from '../tenants/directory.js';

export interface IntakeHooksDeps {
  policy: PolicyService;
  tenants: TenantDirectory;
  store: Store;
  redirector?: Redirector;
  recorder: StatsRecorder;
  metrics: Metrics;
  log: Logger;
  dkim: { masterKey?: string; operatorDomain?: string };
  bounceDomain?: string;
  /** Reports sent to our own addresses (VERP bounces and complaints, DMARC/TLS reports): consumed. */
  reports?: ReportTaker;
  /** Sends a notice (hold of a compromised account) through the queue. */
  sendNotice?: (to: string[], subject: string, text: string) => Promise<void>;
  /** SMTP sessions open on this thread (the intake's count): 1 means this client alone waits on it. */
  sessions?: () => number;
}

export function createIntakeHooks(d: IntakeHooksDeps): IntakeHooks {
  const keys = async (fromDomain: string): Promise<DkimKey[]> => {
    const found = fromDomain ? await activeSigningKeys(d.store, fromDomain, d.dkim.masterKey) : [];
    if (d.dkim.operatorDomain && d.dkim.operatorDomain !== fromDomain) found.push(...(await activeSigningKeys(d.store, d.dkim.operatorDomain, d.dkim.masterKey)));
    return found;
  };
  const bounceDomain = d.bounceDomain;
  const decide = createEndOfData({
    policy: d.policy,
    tenants: d.tenants,
    reports: d.reports,
    redirect: createRedirect({ tenants: d.tenants, store: d.store, redirector: d.redirector, log: d.log }),
    dkim: {
      keys,
      sign: async (ctx, signing) => {
        const bodyHashes = (ctx.observer as BodyHasher).digest();
        const lines = await signMessage({ headerBlock: ctx.headerBlock, bodyHashes, keys: signing }, { inline: (d.sessions?.() ?? 2) <= 1 });
        return lines.join('');
      },
    },
    returnPath: bounceDomain ? (ctx, v) => assignReturnPath(d.store, bounceDomain, ctx.facts, v, ctx.queueId) : undefined,
    sendNotice: d.sendNotice,
    recorder: d.recorder,
    metrics: d.metrics,
    log: d.log,
  });

  return {
    checkSender: (client, mailFrom) => d.policy.checkSender(client, mailFrom),
    createObserver: () => new BodyHasher(['relaxed']),
    fingerprint: (client) => d.policy.usesFingerprint(client),
    reportRecipient: d.reports ? (address) => d.reports!.recipientKind(address) : undefined,
    reportTaker: d.reports?.takerOf ? (address) => d.reports!.takerOf!(address) : undefined,
    decide,
  };
}
