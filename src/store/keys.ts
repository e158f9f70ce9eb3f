/**
 * Key helpers shared by both stores. Redis Cluster only runs a multi-key script when every key
 * hashes to one slot, so all counters charged together (mailbox + domain + tenant of one message)
 * carry the same hash tag `{...}`; the policy service tags them with the tenant (or the domain).
 */
/** The Redis hash tag of a key: the text between the first `{` and the next `}`, if non-empty. */
export function hashTagOf(key: string): string | undefined {
  const open = key.indexOf('{');
  if (open < 0) return undefined;
  const close = key.indexOf('}', open + 1);
  if (close < 0 || close === open + 1) return undefined;
  return key.slice(open + 1, close);
}

/** Build a limit key under a hash tag: limitKey("t:la-ruche", "mailbox:a@x:messages_per_hour"). */
export function limitKey(tag: string, rest: string): string {
  return `{${tag.replace(/[{}]/g, '_')}}${rest}`;
}

/** Tag used for limit keys that carry none, so one consume call still maps to one slot. */
export const DEFAULT_LIMIT_TAG = 'q';
