/**
 * Permanent versus temporary Listmonk failures, and what the admin should do about a permanent one.
 * Temporary (network, timeout, 5xx, 408, 429): the outbox retries with back-off. Permanent (400,
 * 401, 403, 404, 422 and other 4xx, or a reply we cannot read): retrying cannot help until someone
 * changes Listmonk's settings or the API user's role, so the job stops as `failed` with a fix, and
 * `relais listmonk retry JOB` restarts it.
 */
import { ListmonkError } from './client.js';

export interface Fix {
  fr: string;
  en: string;
}

/** Thrown by a job to stop it for good (until an admin retries it). */
export class FailJob extends Error {
  constructor(
    message: string,
    readonly fix?: Fix,
  ) {
    super(message);
    this.name = 'FailJob';
  }
}

const ROLE_FR = "dans Listmonk, Utilisateurs → Rôles utilisateur → le rôle de l'utilisateur API";
const ROLE_EN = "in Listmonk, Users → User roles → the API user's role";

/** The fix for a missing permission (also used by `relais listmonk check`). */
export function permissionFix(perm: string): Fix {
  return { fr: `${ROLE_FR} : cochez ${perm} puis enregistrez.`, en: `${ROLE_EN}: tick ${perm} and save.` };
}

export const WEBHOOKS_FIX: Fix = {
  fr: 'dans Listmonk, Paramètres → Rebonds : activez « Activer le traitement des rebonds » et « Activer les webhooks de rebond », puis enregistrez.',
  en: 'in Listmonk, Settings → Bounces: turn on "Enable bounce processing" and "Enable bounce webhooks", then save.',
};

const CREDENTIALS_FIX: Fix = {
  fr: "vérifiez listmonk.user et listmonk.token du tenant : l'utilisateur API doit exister dans Listmonk (Utilisateurs), être actif, avec ce jeton.",
  en: "check the tenant's listmonk.user and listmonk.token: the API user must exist in Listmonk (Users), be enabled, with this token.",
};

/** The permission a Listmonk 403/400 names: "permission denied: campaigns:get" (auth.go Perm), the
 * i18n "Permission denied: subscribers:sql_query", or v4's "Permission denied: list" (listPerm). */
export function deniedPermission(err: ListmonkError): string | null {
  const m = /permission denied(?::\s*([\w:]+))?/i.exec(err.message);
  if (!m) return null;
  const named = m[1];
  if (!named || named === 'list') return err.call.startsWith('GET') ? 'lists:get_all' : 'lists:manage_all';
  if (named === 'lists') return 'lists:manage_all';
  return named;
}

export function isPermanent(err: unknown): boolean {
  if (err instanceof FailJob) return true;
  if (err instanceof ListmonkError) return !err.retryable;
  // A programming error (e.g. an answer of an unexpected shape) does not heal by waiting.
  return err instanceof TypeError || err instanceof RangeError || err instanceof SyntaxError;
}

/** What to do about a permanent failure, French then English. */
export function fixFor(err: unknown): Fix {
  if (err instanceof FailJob && err.fix) return err.fix;
  if (err instanceof ListmonkError) {
    const perm = deniedPermission(err);
    if (perm) return permissionFix(perm);
    if (err.status === 403 || err.status === 401) return CREDENTIALS_FIX;
    if (err.status === 404 && err.call === 'POST /webhooks/bounce') return WEBHOOKS_FIX;
    if (err.status === 404) {
      return { fr: "vérifiez listmonk.url du tenant (l'adresse de l'API, sans /api) et que l'objet existe encore dans Listmonk.", en: "check the tenant's listmonk.url (the API address, without /api) and that the object still exists in Listmonk." };
    }
  }
  return {
    fr: "Listmonk a refusé la demande (voir l'erreur) : corrigez la cause dans Listmonk ou la configuration du tenant, puis relancez avec relais listmonk retry.",
    en: 'Listmonk refused the request (see the error): fix the cause in Listmonk or in the tenant configuration, then run relais listmonk retry.',
  };
}
