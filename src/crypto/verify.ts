import { constants, createPublicKey, verify as nodeVerify, type KeyObject, type VerifyKeyObjectInput } from 'node:crypto';
import { KeyError, UnsupportedAlgorithmError } from '../errors.js';
import { ed25519Verifier } from './ed25519.js';
import { bytesToHex } from './hash.js';
import { ed25519CanonicalKey, ED25519_PUBLIC_KEY_LENGTH, ED25519_SPKI_PREFIX } from './ed25519-encoding.js';

// Signature verification for the key types and schemes securesystemslib (python-tuf) verifies:
//   ed25519 / ed25519                                 keyval.public = 64 hex chars (raw key)
//   ecdsa | ecdsa-sha2-nistp256 / ecdsa-sha2-nistp256  PEM SubjectPublicKeyInfo, DER signature
//   ecdsa | ecdsa-sha2-nistp384 / ecdsa-sha2-nistp384  PEM SubjectPublicKeyInfo, DER signature
//   rsa / rsassa-pss-sha{224,256,384,512}              PEM public key, any salt length
//   rsa / rsa-pkcs1v15-sha{224,256,384,512}            PEM public key
// A key whose curve or type contradicts its scheme (a P-384 key under ecdsa-sha2-nistp256) is a
// KeyError, like any other public key that cannot be used: it is the key that is wrong, not a signature.

export interface PublicKeyInfo {
  keytype: string;
  scheme: string;
  keyval: { public: string } & Record<string, unknown>;
}

interface ParsedKey {
  verify(signature: Uint8Array, data: Uint8Array): boolean;
  /** SubjectPublicKeyInfo DER (hex) of the key: equal for one key however its JSON writes it. */
  identity: string;
}

type Scheme =
  | { kind: 'ed25519' }
  | { kind: 'ecdsa'; hash: string; curve: string }
  | { kind: 'rsa'; hash: string; padding: 'pss' | 'pkcs1v15' };

function lookupScheme(keytype: string, scheme: string): Scheme | undefined {
  switch (scheme) {
    case 'ed25519':
      return keytype === 'ed25519' ? { kind: 'ed25519' } : undefined;
    case 'ecdsa-sha2-nistp256':
    case 'ecdsa-sha2-nistp384': {
      // The scheme name doubling as keytype is deprecated but still written by older tools.
      if (keytype !== 'ecdsa' && keytype !== scheme) return undefined;
      const p256 = scheme === 'ecdsa-sha2-nistp256';
      return { kind: 'ecdsa', hash: p256 ? 'sha256' : 'sha384', curve: p256 ? 'prime256v1' : 'secp384r1' };
    }
  }
  const rsa = /^(rsassa-pss|rsa-pkcs1v15)-(sha224|sha256|sha384|sha512)$/.exec(scheme);
  if (rsa && keytype === 'rsa') return { kind: 'rsa', hash: rsa[2]!, padding: rsa[1] === 'rsassa-pss' ? 'pss' : 'pkcs1v15' };
  return undefined;
}

function describe(key: PublicKeyInfo): string {
  return `${String(key.keytype)}/${String(key.scheme)} key`;
}

// pyca's load_pem_public_key reads SubjectPublicKeyInfo and PKCS#1 RSA public keys. node:crypto's
// createPublicKey would also take a private key or a certificate and derive a public key from
// it, so the PEM label is checked first.
const PUBLIC_PEM = /^\s*-----BEGIN (PUBLIC KEY|RSA PUBLIC KEY)-----\r?\n[A-Za-z0-9+/=\r\n]+-----END \1-----\s*$/;

function pemIdentity(k: KeyObject): string {
  return k.export({ type: 'spki', format: 'der' }).toString('hex');
}

function nodeVerifier(hash: string, input: VerifyKeyObjectInput): ParsedKey['verify'] {
  return (signature, data) => nodeVerify(hash, data, input, signature);
}

function parsePem(key: PublicKeyInfo, pem: string): KeyObject {
  const label = PUBLIC_PEM.exec(pem);
  if (!label) throw new KeyError(`${describe(key)}: keyval.public is not a PEM public key`);
  try {
    return createPublicKey({ key: pem, format: 'pem' });
  } catch {
    throw new KeyError(`${describe(key)}: keyval.public is not a valid PEM public key`);
  }
}

function parse(key: PublicKeyInfo): ParsedKey {
  const scheme = lookupScheme(key.keytype, key.scheme);
  if (!scheme) throw new UnsupportedAlgorithmError(`unsupported key type and scheme: ${describe(key)}`);
  const pub: unknown = key.keyval?.public;
  if (typeof pub !== 'string') throw new KeyError(`${describe(key)}: keyval.public is not a string`);

  switch (scheme.kind) {
    case 'ed25519': {
      if (pub.length !== ED25519_PUBLIC_KEY_LENGTH * 2 || !/^[0-9a-fA-F]+$/.test(pub)) {
        throw new KeyError(`${describe(key)}: keyval.public must be ${ED25519_PUBLIC_KEY_LENGTH * 2} hex digits`);
      }
      // Any 32 bytes, as OpenSSL (pyca's from_public_bytes) takes them: bytes that are no curve
      // point make every signature false rather than the key an error.
      const publicKey = new Uint8Array(Buffer.from(pub, 'hex'));
      return { verify: ed25519Verifier(publicKey), identity: ED25519_SPKI_PREFIX + bytesToHex(ed25519CanonicalKey(publicKey)) };
    }
    case 'ecdsa': {
      const k = parsePem(key, pub);
      const curve = k.asymmetricKeyType === 'ec' ? k.asymmetricKeyDetails?.namedCurve : undefined;
      if (curve !== scheme.curve) {
        throw new KeyError(`${describe(key)}: public key is ${curve ? `on curve ${curve}` : `of type ${k.asymmetricKeyType}`}, expected ${scheme.curve}`);
      }
      return { verify: nodeVerifier(scheme.hash, { key: k, dsaEncoding: 'der' }), identity: pemIdentity(k) };
    }
    case 'rsa': {
      const k = parsePem(key, pub);
      if (k.asymmetricKeyType !== 'rsa') throw new KeyError(`${describe(key)}: public key is of type ${k.asymmetricKeyType}, expected rsa`);
      const input: VerifyKeyObjectInput =
        scheme.padding === 'pss'
          ? // Signers differ in salt length (securesystemslib now uses the digest length, older
            // versions and other tools the maximum): recover it from the signature, as pyca's PSS.AUTO.
            { key: k, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_AUTO }
          : { key: k, padding: constants.RSA_PKCS1_PADDING };
      return { verify: nodeVerifier(scheme.hash, input), identity: pemIdentity(k) };
    }
  }
}

interface CacheEntry {
  keytype: string;
  scheme: string;
  public: string;
  parsed: ParsedKey;
}

// Parsed keys per key object: a root's keys verify every role they sign, several times per refresh.
// The entry remembers what it was parsed from, so a key object changed afterwards is parsed again.
const cache = new WeakMap<object, CacheEntry>();

function parsedKey(key: PublicKeyInfo): ParsedKey {
  const hit = cache.get(key);
  if (hit && hit.keytype === key.keytype && hit.scheme === key.scheme && hit.public === key.keyval?.public) return hit.parsed;
  const parsed = parse(key);
  cache.set(key, { keytype: key.keytype, scheme: key.scheme, public: key.keyval.public, parsed });
  return parsed;
}

/**
 * Whether `signature` is `key`'s signature over `data`. False for every wrong, malformed or empty
 * signature. Throws UnsupportedAlgorithmError for a keytype/scheme pair tufkit does not implement,
 * and KeyError for a public key that cannot be used under its scheme.
 */
export function verifySignature(key: PublicKeyInfo, signature: Uint8Array, data: Uint8Array): boolean {
  const parsed = parsedKey(key);
  if (signature.byteLength === 0) return false;
  try {
    return parsed.verify(signature, data);
  } catch {
    // The key was parsed above, so anything thrown here comes from the signature bytes.
    return false;
  }
}

/**
 * What makes `key` one key when counting signatures towards a threshold: its SubjectPublicKeyInfo
 * DER, the same for upper- and lower-case hex, any PEM wrapping, line ending or label (PKCS#1 or
 * SPKI), and any encoding of one ed25519 point. Throws as verifySignature does for an unusable key.
 */
export function publicKeyIdentity(key: PublicKeyInfo): string {
  return parsedKey(key).identity;
}

/** Whether `key` has a supported keytype/scheme and a well-formed public key (verifySignature will not throw). */
export function isSupportedKey(key: PublicKeyInfo): boolean {
  try {
    parsedKey(key);
    return true;
  } catch {
    return false;
  }
}
