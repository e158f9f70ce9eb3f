/** DKIM for Relais: streamed body hashing, signing, key management. */
export { BodyHasher, DkimBodyHasher, type BodyHashes, type DkimHashResult, type DkimBodyHasherOptions } from './body-hasher.js';
export { signMessage, DEFAULT_SIGNED_HEADERS, type DkimKey, type DkimAlgo, type SignInput } from './sign.js';
export {
  generateKey,
  activateKey,
  removeKey,
  listKeys,
  activeSigningKeys,
  invalidateKeyCache,
  watchKeyChanges,
  DKIM_CHANNEL,
  dnsRecord,
  DKIM_NS,
  type DkimKeyInfo,
  type DkimDnsRecord,
  type DkimKeyStatus,
  type GenerateKeyOptions,
  type SigningKeyOptions,
} from './keys.js';
