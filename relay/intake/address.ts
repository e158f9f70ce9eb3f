/**
 * Envelope address checks. An exit node only ever needs plain user@domain addresses, so the
 * old routing forms used to trick relays (source routes "@a:u@b", percent hack "u%b@a", bang
 * paths "b!u@a", quoted local parts hiding "@") are refused outright, whoever the client is.
 */
import { domainToASCII } from 'node:url';
import { smtpError, type SmtpErrorLike } from './replies.js';

const LOCAL_ATOM = /^[A-Za-z0-9!#$&'*+/=?^_`{|}~\-\u0080-\uFFFF]+(\.[A-Za-z0-9!#$&'*+/=?^_`{|}~\-\u0080-\uFFFF]+)*$/u;
const DOMAIN_LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export type AddressRole = 'sender' | 'recipient';

/** Returns an SMTP error for an unacceptable address, or null. '' (null sender) is valid for senders only. */
export function checkAddress(address: string, role: AddressRole): SmtpErrorLike | null {
  const code = role === 'sender' ? '5.1.7' : '5.1.3';
  const bad = (why: string) => smtpError(553, code, `Adresse ${role === 'sender' ? 'd’expéditeur' : 'de destinataire'} invalide <${address}> : ${why.split(' / ')[0]} / Invalid ${role} address: ${why.split(' / ')[1]}`);
  if (address === '') return role === 'sender' ? null : bad('adresse vide / empty address');
  if (address.length > 320) return bad('trop longue / too long');
  if (address.startsWith('@')) return bad('routage source interdit / source routes are not accepted');
  const at = address.lastIndexOf('@');
  if (at <= 0 || at === address.length - 1) return bad('il faut utilisateur@domaine / expected user@domain');
  const local = address.slice(0, at);
  const domain = address.slice(at + 1);
  if (local.startsWith('"')) return bad('partie locale entre guillemets refusée / quoted local parts are not accepted');
  if (local.includes('%') || local.includes('!') || local.includes('@'))
    return bad('routage par %, ! ou @ interdit / percent hack, bang paths and routing are not accepted');
  if (Buffer.byteLength(local) > 64 || !LOCAL_ATOM.test(local)) return bad('partie locale invalide / invalid local part');
  if (domain.startsWith('[')) return bad('littéral IP refusé / address literals are not accepted');
  const ascii = domainToASCII(domain.toLowerCase());
  if (!ascii || ascii.length > 253 || !ascii.includes('.') || !ascii.split('.').every((l) => DOMAIN_LABEL.test(l)))
    return bad('domaine invalide / invalid domain');
  return null;
}
