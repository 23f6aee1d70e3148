import {
  constants,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  sign as nodeSign,
  type KeyObject,
  type SignKeyObjectInput,
} from 'node:crypto';
import { KeyError, UsageError } from '../errors.js';
import { ed25519 } from './ed25519.js';
import { bytesToHex } from './hash.js';
import { computeKeyid } from './keyid.js';
import { isSupportedKey } from './verify.js';

/** A public key as it appears in root's or a delegation's `keys`, under its keyid. */
export interface PublicKeyJSON {
  keytype: string;
  scheme: string;
  keyval: { public: string } & Record<string, unknown>;
  [extra: string]: unknown;
}

/** Something that signs metadata: a key in memory, or (later) a KMS or hardware key. */
export interface Signer {
  readonly keyid: string;
  readonly publicKey: PublicKeyJSON;
  sign(data: Uint8Array): Promise<Uint8Array>;
}

export type GeneratedKeyType = 'ed25519' | 'ecdsa' | 'ecdsa-p384' | 'rsa';

export interface FromPemOptions {
  /** Passphrase of an encrypted PKCS#8 key. */
  passphrase?: string;
  /** Signature scheme, when not the key type's default (e.g. rsa-pkcs1v15-sha256). */
  scheme?: string;
  /** Keyid to sign as; by default computeKeyid(publicKey). */
  keyid?: string;
  /**
   * The key exactly as existing metadata lists it. Its keyid must not be re-derived from a freshly
   * built key object: legacy and custom fields (keyid_hash_algorithms, x-tuf-on-ci-*) are part of
   * the hashed JSON, and PEM text may differ from what would be written today.
   */
  publicKey?: PublicKeyJSON;
}

type SignFn = (data: Uint8Array) => Uint8Array;

const RSA_SCHEME = /^(rsassa-pss|rsa-pkcs1v15)-(sha224|sha256|sha384|sha512)$/;
const ECDSA_SCHEME: Record<string, string> = { prime256v1: 'ecdsa-sha2-nistp256', secp384r1: 'ecdsa-sha2-nistp384' };

/** The key's public half in the form securesystemslib writes: raw hex for ed25519, PEM SPKI otherwise. */
function publicValue(privateKey: KeyObject): string {
  if (privateKey.asymmetricKeyType === 'ed25519') return bytesToHex(ed25519Signer(privateKey).publicKey);
  // node:crypto writes PEM as pyca does: 64-column base64 and a final newline.
  return createPublicKey(privateKey).export({ type: 'spki', format: 'pem' }) as string;
}

function ed25519Signer(privateKey: KeyObject): ReturnType<typeof ed25519.signer> {
  const d = privateKey.export({ format: 'jwk' }).d;
  if (typeof d !== 'string') throw new KeyError('ed25519 private key without its seed');
  return ed25519.signer(new Uint8Array(Buffer.from(d, 'base64url')));
}

function defaultScheme(privateKey: KeyObject): { keytype: string; scheme: string } {
  switch (privateKey.asymmetricKeyType) {
    case 'ed25519':
      return { keytype: 'ed25519', scheme: 'ed25519' };
    case 'ec': {
      const curve = privateKey.asymmetricKeyDetails?.namedCurve ?? 'unknown';
      const scheme = ECDSA_SCHEME[curve];
      if (!scheme) throw new KeyError(`unsupported ecdsa curve ${curve} (supported: P-256, P-384)`);
      return { keytype: 'ecdsa', scheme };
    }
    case 'rsa':
      return { keytype: 'rsa', scheme: 'rsassa-pss-sha256' };
    default:
      throw new KeyError(`unsupported private key type ${privateKey.asymmetricKeyType ?? 'unknown'} (supported: ed25519, ecdsa, rsa)`);
  }
}

/** How `privateKey` signs under `scheme`; KeyError when the scheme does not fit the key. */
function signFunction(privateKey: KeyObject, scheme: string): SignFn {
  const type = privateKey.asymmetricKeyType;
  if (type === 'ed25519' && scheme === 'ed25519') {
    const signer = ed25519Signer(privateKey);
    return (data) => signer.sign(data);
  }
  if (type === 'ec' && ECDSA_SCHEME[privateKey.asymmetricKeyDetails?.namedCurve ?? ''] === scheme) {
    const hash = scheme === 'ecdsa-sha2-nistp256' ? 'sha256' : 'sha384';
    const input: SignKeyObjectInput = { key: privateKey, dsaEncoding: 'der' };
    return (data) => nodeSign(hash, data, input);
  }
  const rsa = RSA_SCHEME.exec(scheme);
  if (type === 'rsa' && rsa) {
    const hash = rsa[2]!;
    // securesystemslib signs PSS with a salt as long as the digest (verifiers recover any length).
    const input: SignKeyObjectInput =
      rsa[1] === 'rsassa-pss'
        ? { key: privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: constants.RSA_PSS_SALTLEN_DIGEST }
        : { key: privateKey, padding: constants.RSA_PKCS1_PADDING };
    return (data) => nodeSign(hash, data, input);
  }
  const curve = type === 'ec' ? ` on curve ${privateKey.asymmetricKeyDetails?.namedCurve}` : '';
  throw new KeyError(`a ${type} private key${curve} cannot sign with scheme "${scheme}"`);
}

/** Whether `given` (from metadata) is the public half of `privateKey`, whatever its PEM text looks like. */
function samePublicKey(privateKey: KeyObject, given: string): boolean {
  if (privateKey.asymmetricKeyType === 'ed25519') return given.toLowerCase() === publicValue(privateKey);
  const der = (k: KeyObject): Buffer => k.export({ type: 'spki', format: 'der' });
  try {
    return der(createPublicKey({ key: given, format: 'pem' })).equals(der(createPublicKey(privateKey)));
  } catch {
    return false;
  }
}

function loadPrivateKey(pem: string, passphrase: string | undefined): KeyObject {
  if (typeof pem !== 'string' || !/-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----/.test(pem)) {
    throw new KeyError('not a PEM private key (expected "-----BEGIN PRIVATE KEY-----" or "-----BEGIN ENCRYPTED PRIVATE KEY-----")');
  }
  const encrypted = pem.includes('-----BEGIN ENCRYPTED PRIVATE KEY-----') || /Proc-Type:\s*4,ENCRYPTED/.test(pem);
  if (encrypted && passphrase === undefined) throw new KeyError('the private key is encrypted: a passphrase is needed');
  if (!encrypted && passphrase !== undefined) throw new KeyError('a passphrase was given but the private key is not encrypted');
  try {
    return createPrivateKey(encrypted ? { key: pem, format: 'pem', passphrase } : { key: pem, format: 'pem' });
  } catch {
    // OpenSSL's messages ("bad decrypt", "DECODER routines::unsupported") say nothing useful here.
    throw new KeyError(encrypted ? 'cannot decrypt the private key: wrong passphrase?' : 'cannot read the private key: malformed or unsupported PEM');
  }
}

/** A private key held in memory, signing as python-tuf's CryptoSigner does. */
export class InMemorySigner implements Signer {
  private readonly signWith: SignFn;

  private constructor(
    private readonly privateKey: KeyObject,
    readonly publicKey: PublicKeyJSON,
    readonly keyid: string,
  ) {
    this.signWith = signFunction(privateKey, publicKey.scheme);
  }

  private static create(privateKey: KeyObject, opts: FromPemOptions): InMemorySigner {
    const defaults = defaultScheme(privateKey);
    const given = opts.publicKey;
    if (given) {
      if (opts.scheme !== undefined && opts.scheme !== given.scheme) {
        throw new UsageError(`scheme "${opts.scheme}" contradicts the public key's scheme "${given.scheme}"`);
      }
      if (!isSupportedKey(given)) throw new KeyError(`unsupported or malformed public key ${given.keytype}/${given.scheme}`);
      if (!samePublicKey(privateKey, given.keyval.public)) throw new KeyError('the private key does not match the given public key');
      return new InMemorySigner(privateKey, given, opts.keyid ?? computeKeyid(given));
    }
    // Frozen: the keyid is derived from this object, so changing it afterwards would be a bug.
    const publicKey: PublicKeyJSON = Object.freeze({
      keytype: defaults.keytype,
      scheme: opts.scheme ?? defaults.scheme,
      keyval: Object.freeze({ public: publicValue(privateKey) }),
    });
    return new InMemorySigner(privateKey, publicKey, opts.keyid ?? computeKeyid(publicKey));
  }

  /** Loads a PKCS#8 PEM private key, encrypted or not. Wrong or missing passphrase: KeyError. */
  static fromPem(pem: string, opts: FromPemOptions = {}): InMemorySigner {
    return InMemorySigner.create(loadPrivateKey(pem, opts.passphrase), opts);
  }

  /** A new key pair with the type's default scheme; RSA keys are 3072 bits. */
  static generate(type: GeneratedKeyType): InMemorySigner {
    let privateKey: KeyObject;
    switch (type) {
      case 'ed25519':
        privateKey = generateKeyPairSync('ed25519').privateKey;
        break;
      case 'ecdsa':
        privateKey = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey;
        break;
      case 'ecdsa-p384':
        privateKey = generateKeyPairSync('ec', { namedCurve: 'P-384' }).privateKey;
        break;
      case 'rsa':
        privateKey = generateKeyPairSync('rsa', { modulusLength: 3072 }).privateKey;
        break;
      default:
        throw new UsageError(`unknown key type "${String(type)}" (expected ed25519, ecdsa, ecdsa-p384 or rsa)`);
    }
    return InMemorySigner.create(privateKey, {});
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    const sig = this.signWith(data);
    return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
  }

  /** The private key as PKCS#8 PEM, encrypted with AES-256-CBC (PBES2) when a passphrase is given. */
  toPem(passphrase?: string): string {
    if (passphrase === undefined) return this.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    if (passphrase.length === 0) throw new UsageError('an empty passphrase would not protect the key');
    return this.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase }) as string;
  }
}
