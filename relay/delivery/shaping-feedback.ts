/**
 * What an attempt's results tell the shaper: each distinct failed reply, with the class the
 * attempt gave it (relay/delivery/classify.ts, the one classification), is fed once; a delivery
 * tells it the provider accepts again.
 */
import type { Envelope } from '../spool/envelope.js';
import type { RecipientResult } from './session.js';
import type { Shaper } from './shaper.js';
import type { ProviderInfo } from './types.js';

export function feedShaper(
  shaper: Shaper,
  env: Envelope,
  /** The provider as the shaper keys it (`other:<mx>` for unclaimed destinations). */
  provider: ProviderInfo,
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
    if (!r.class || seen.has(k)) continue;
    seen.add(k);
    shaper.onReply(env.pool, provider, r.class, r.reply, startedAt, now, mx);
  }
  if (delivered) shaper.onDelivered(env.pool, provider, now);
}
