import { open } from 'node:fs/promises';
import { parseStrictJSON } from '../crypto/json.js';
import { InMemorySigner, type PublicKeyJSON } from '../crypto/signer.js';
import { isSupportedKey } from '../crypto/verify.js';
import { KeyError, TufError } from '../errors.js';
import { Key } from '../models/key.js';

// Key files as the repository tools read them: a private key is PKCS#8 PEM (encrypted or not), a
// public key is the key's TUF JSON ({"keytype", "scheme", "keyval": {"public"}}), which is what
// `tufkit key generate` writes next to the private key as FILE.pub.

const MAX_KEY_FILE = 64 * 1024;

export type KeyFile =
  | { kind: 'public'; file: string; key: Key }
  | { kind: 'private'; file: string; key: Key; pem: string; signer: InMemorySigner };

async function readKeyText(file: string): Promise<string> {
  let handle;
  try {
    handle = await open(file, 'r');
  } catch (e) {
    const code = e instanceof Error && 'code' in e ? String(e.code) : '';
    const why = code === 'ENOENT' ? 'no such file' : code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a folder' : (e as Error).message;
    throw new KeyError(`key file "${file}": ${why}`, { cause: e });
  }
  try {
    const info = await handle.stat();
    if (!info.isFile()) throw new KeyError(`key file "${file}": not a regular file`);
    const size = info.size;
    if (size > MAX_KEY_FILE) throw new KeyError(`key file "${file}": ${size} bytes is too large for a key`);
    return await handle.readFile('utf8');
  } catch (e) {
    if (e instanceof TufError) throw e;
    throw new KeyError(`key file "${file}": ${(e as Error).message}`, { cause: e });
  } finally {
    await handle.close();
  }
}

/** The public key in TUF JSON form; KeyError unless tufkit can verify with it. */
export function keyFromPublicJSON(json: unknown, what: string): Key {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new KeyError(`${what}: expected a JSON object`);
  let key: Key;
  try {
    key = Key.fromPublicJSON(json as Record<string, unknown>);
  } catch (e) {
    throw new KeyError(`${what}: not a TUF public key (${(e as Error).message})`, { cause: e });
  }
  if (!isSupportedKey(key.toJSON() as unknown as PublicKeyJSON)) throw new KeyError(`${what}: unsupported or malformed ${key.keytype}/${key.scheme} key`);
  return key;
}

/**
 * Reads a key file: PEM private key (needs `passphrase` when encrypted) or TUF JSON public key.
 * Every problem is a one-line KeyError naming the file. With `onlyIfEncrypted`, a passphrase is
 * not held against an unencrypted key (one passphrase option for several key files).
 */
export async function readKeyFile(file: string, passphrase?: string, onlyIfEncrypted = false): Promise<KeyFile> {
  const text = await readKeyText(file);
  const isJSON = text.trimStart().startsWith('{');
  if (!isJSON && /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(text)) {
    let signer: InMemorySigner;
    const encrypted = text.includes('ENCRYPTED PRIVATE KEY') || /Proc-Type:\s*4,ENCRYPTED/.test(text);
    try {
      signer = InMemorySigner.fromPem(text, { passphrase: onlyIfEncrypted && !encrypted ? undefined : passphrase });
    } catch (e) {
      if (e instanceof TufError) throw new KeyError(`key file "${file}": ${e.message}`, { cause: e });
      throw e;
    }
    return { kind: 'private', file, key: keyFromPublicJSON(signer.publicKey, `key file "${file}"`), pem: text, signer };
  }
  if (!isJSON && /-----BEGIN [A-Z0-9 ]*PUBLIC KEY-----/.test(text)) {
    throw new KeyError(`key file "${file}": PEM public keys are not read; use the key's TUF JSON (the .pub file tufkit key generate writes)`);
  }
  let json: unknown;
  try {
    json = parseStrictJSON(Buffer.from(text, 'utf8'), file);
  } catch {
    throw new KeyError(`key file "${file}": neither a PEM private key nor a JSON public key`);
  }
  return { kind: 'public', file, key: keyFromPublicJSON(json, `key file "${file}"`) };
}

/** The public key of a key file of either kind. */
export async function readPublicKey(file: string, passphrase?: string): Promise<Key> {
  return (await readKeyFile(file, passphrase, true)).key;
}

/**
 * A signer from a private key file. When the key is listed in metadata under another form (an RSA
 * key with a PKCS#1 v1.5 scheme, legacy fields that change the keyid), pass the listed keys: the
 * one whose public half matches the private key is used as is.
 */
export async function readSigner(file: string, passphrase?: string, listedKeys: Iterable<Key> = []): Promise<InMemorySigner> {
  const kf = await readKeyFile(file, passphrase);
  if (kf.kind !== 'private') throw new KeyError(`key file "${file}" holds a public key; signing needs the private key (or --signer-command)`);
  const listed = [...listedKeys];
  if (listed.some((k) => k.keyid === kf.signer.keyid)) return kf.signer;
  for (const k of listed) {
    if (k.keytype !== kf.key.keytype) continue;
    try {
      return InMemorySigner.fromPem(kf.pem, { passphrase, publicKey: k.toJSON() as PublicKeyJSON, keyid: k.keyid });
    } catch {
      // not this one
    }
  }
  return kf.signer;
}

/** The public key file text tufkit writes: the key's TUF JSON, one line. */
export function publicKeyFileText(key: Key): string {
  return JSON.stringify(key.toJSON()) + '\n';
}
