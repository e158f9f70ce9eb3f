/**
 * What an attempt's results tell the shaper: each distinct failed reply is classified once —
 * the single place delivery calls the reply classifier — and fed to the shaper; a delivery
 * tells it the provider accepts again.
 */
import type { Envelope } from '../spool/envelope.js';
import type { RecipientResult } from './session.js';
import type { Shaper } from './shaper.js';
import type { ProviderInfo, ReplyClassifier } from './types.js';

export function feedShaper(
  deps: { shaper: Shaper; classify: ReplyClassifier },
  env: Envelope,
  /** The provider as the shaper keys it (`other:<mx>` for unclaimed destinations). */
  provider: ProviderInfo,
  /** Its id in the catalogue, for the classifier. */
  providerId: string,
  domain: string,
  mx: string | undefined,
  results: RecipientResult[],
  startedAt: number,
): void {
  const now = Date.now();
  const seen = new Set<string>();
  let delivered = false;
  for (const r of results) {
    if (r.delivered) {
      delivered = true;
      continue;
    }
    const k = `${r.phase} ${r.reply.code} ${r.reply.enhanced} ${r.reply.text}`;
    if (seen.has(k)) continue;
    seen.add(k);
    const c = deps.classify({ reply: r.reply, phase: r.phase, domain, mx, provider: providerId });
    deps.shaper.onReply(env.pool, provider, c, r.reply, startedAt, now, mx);
  }
  if (delivered) deps.shaper.onDelivered(env.pool, provider, now);
}
