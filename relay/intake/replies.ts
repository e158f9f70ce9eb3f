/**
 * SMTP answers of the intake. Texts meant for humans are French first, then English, and carry
 * an RFC 3463 enhanced status code (smtp-patches.ts sends it as is).
 */
export interface SmtpErrorLike extends Error {
  responseCode: number;
}

export function smtpError(code: number, enhanced: string, text: string): SmtpErrorLike {
  const err = new Error(`${enhanced} ${text}`) as SmtpErrorLike;
  err.responseCode = code;
  return err;
}

export const REPLIES = {
  authRequired: () => smtpError(530, '5.7.0', 'Authentification requise : ce relais n’accepte que ses clients / Authentication required: relay access denied'),
  authFailed: () => smtpError(535, '5.7.8', 'Identifiants refusés / Authentication credentials invalid'),
  authTempFail: () => smtpError(454, '4.7.0', 'Vérification des identifiants impossible pour le moment, réessayez / Temporary authentication failure, try again later'),
  /** 421 closes the connection (smtp-server does on any 421). */
  authBlocked: (minutes: number) => smtpError(421, '4.7.0', `Trop d’échecs d’authentification depuis cette adresse, réessayez dans ${minutes} min / Too many authentication failures from this address, try again in ${minutes} min`),
  authTooManyOnConnection: () => smtpError(421, '4.7.0', 'Trop d’échecs d’authentification, connexion fermée / Too many authentication failures, closing connection'),
  authUserLocked: () => smtpError(454, '4.7.0', 'Authentification de cet utilisateur suspendue depuis cette adresse, réessayez plus tard / Authentication for this user temporarily refused from this address, try again later'),
  encryptionRequired: () => smtpError(538, '5.7.11', 'Chiffrement requis avant AUTH : utilisez STARTTLS / Encryption required for requested authentication mechanism'),
  otherTaker: () => smtpError(452, '4.5.3', 'Destinataire à envoyer dans un message séparé, réessayez / Recipient must go in a separate message, try again'),
  tooManyRecipients: (max: number) => smtpError(452, '4.5.3', `Trop de destinataires (maximum ${max} par message) / Too many recipients (at most ${max} per message)`),
  tooBig: (max: number) => smtpError(552, '5.3.4', `Message trop volumineux (maximum ${max} octets) / Message size exceeds fixed limit of ${max} bytes`),
  headerTooBig: (max: number) => smtpError(552, '5.3.4', `En-têtes trop volumineux (maximum ${max} octets) / Header section exceeds fixed limit of ${max} bytes`),
  reportTooBig: (max: number) => smtpError(552, '5.3.4', `Rapport trop volumineux (maximum ${max} octets) / Report size exceeds fixed limit of ${max} bytes`),
  spoolFull: () => smtpError(452, '4.3.1', 'Espace de stockage insuffisant, réessayez plus tard / Insufficient system storage, try again later'),
  spoolError: () => smtpError(451, '4.3.0', 'Erreur locale, message non accepté, réessayez plus tard / Local error in processing, try again later'),
  bareNewline: () => smtpError(550, '5.5.2', 'Fin de ligne invalide (LF ou CR seul) dans le message / Message contains bare <LF> or <CR>'),
  shuttingDown: () => smtpError(421, '4.3.2', 'Relais en cours d’arrêt, réessayez plus tard / Service shutting down, try again later'),
  relayDenied: () => smtpError(554, '5.7.1', 'Relais refusé : seuls les rapports de remise sont acceptés ici / Relay access denied'),
  unknownRecipient: () => smtpError(550, '5.1.1', 'Destinataire inconnu / No such recipient here'),
  noRecipients: () => smtpError(503, '5.5.1', 'Aucun destinataire valide / No valid recipients'),
};
