/**
 * VERP return paths for newsletter mail: MAIL FROM becomes bounces+<ref>@<bounce domain>, so an
 * asynchronous bounce or a complaint names, through <ref>, the tenant, campaign, subscriber and
 * recipient it is about (the mapping ref → facts is kept by the caller, in the store).
 * Refs are restricted to [a-z0-9_-] so no MTA rewrites or case-folds them in transit.
 */
const REF = /^[a-z0-9_-]{1,64}$/;

export function makeReturnPath(ref: string, bounceDomain: string): string {
  if (!REF.test(ref)) throw new Error(`invalid VERP ref "${ref}": use 1-64 characters a-z 0-9 _ -`);
  if (!/^[a-z0-9.-]+$/i.test(bounceDomain)) throw new Error(`invalid bounce domain "${bounceDomain}"`);
  return `bounces+${ref}@${bounceDomain.toLowerCase()}`;
}

/** The ref of a VERP address ("<bounces+ref@domain>" or bare), or null when it is not one. */
export function parseReturnPath(addr: string, bounceDomain?: string): string | null {
  const m = /^<?bounces\+([^@\s>]+)@([^\s>]+)>?$/i.exec(addr.trim());
  if (!m) return null;
  if (bounceDomain && m[2].toLowerCase() !== bounceDomain.toLowerCase()) return null;
  const ref = m[1].toLowerCase();
  return REF.test(ref) ? ref : null;
}
