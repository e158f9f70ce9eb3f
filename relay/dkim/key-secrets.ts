/**
 * DKIM private keys at rest: AES-256-GCM with a key derived by scrypt (per-key salt) from the
 * operator's master key, the record's identity (domain + selector) bound as associated data so a
 * ciphertext cannot be moved to another selector; or, without a master key, a 0600 PEM file.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';

export interface EncryptedSecret {
  kind: 'aes-256-gcm';
  kdf: { name: 'scrypt'; salt: string; N: number; r: number; p: number };
  iv: string;
  tag: string;
  data: string;
}
export interface FileSecret {
  kind: 'file';
  path: string;
}

const SCRYPT = { N: 16384, r: 8, p: 1 };
const scryptAsync = promisify(scrypt) as (pw: string, salt: Buffer, len: number, o: object) => Promise<Buffer>;

export async function encrypt(pem: string, masterKey: string, ad: Buffer): Promise<EncryptedSecret> {
  const salt = randomBytes(16);
  const iv = randomBytes(12);
  const key = await scryptAsync(masterKey, salt, 32, SCRYPT);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(ad);
  const data = Buffer.concat([cipher.update(pem, 'utf8'), cipher.final()]);
  return {
    kind: 'aes-256-gcm',
    kdf: { name: 'scrypt', salt: salt.toString('base64'), ...SCRYPT },
    iv: iv.toString('base64'),
    tag: cipher.getAuthTag().toString('base64'),
    data: data.toString('base64'),
  };
}

export async function decrypt(s: EncryptedSecret, masterKey: string, ad: Buffer): Promise<string> {
  const { N, r, p } = s.kdf;
  const key = await scryptAsync(masterKey, Buffer.from(s.kdf.salt, 'base64'), 32, { N, r, p });
  const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(s.iv, 'base64'));
  decipher.setAAD(ad);
  decipher.setAuthTag(Buffer.from(s.tag, 'base64'));
  try {
    return Buffer.concat([decipher.update(Buffer.from(s.data, 'base64')), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('Cannot decrypt DKIM key: wrong RELAIS_DKIM_MASTER_KEY or tampered record');
  }
}

export async function writeKeyFile(dir: string, domain: string, selector: string, pem: string): Promise<FileSecret> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, `${selector}._domainkey.${domain}.pem`);
  await writeFile(path, pem, { mode: 0o600, flag: 'wx' });
  return { kind: 'file', path };
}
