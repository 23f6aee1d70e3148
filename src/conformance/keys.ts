import { createHash } from 'node:crypto';
import { canonicalBytes } from '../crypto/canonical.js';
import { InMemorySigner, type PublicKeyJSON, type Signer } from '../crypto/signer.js';
import { verifySignature } from '../crypto/verify.js';
import { UsageError } from '../errors.js';
import { Key } from '../models/key.js';
import { FIXED_PEMS } from './fixed-keys.js';

// Keys of the conformance vectors, the same on every run: ed25519 keys from fixed seeds, ECDSA and
// RSA keys from committed PEMs. ECDSA and RSA-PSS signatures are randomized, so a signature made
// for an earlier run of the generator is reused when it signs exactly the same bytes (see
// SignatureCache): regenerating the vectors then changes no file.

export const KEY_KINDS = ['ed25519', 'ecdsa-p256', 'ecdsa-p384', 'rsa-pss', 'rsa-pkcs1v15'] as const;
export type KeyKind = (typeof KEY_KINDS)[number];

const RANDOMIZED_SCHEMES = new Set(['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'rsassa-pss-sha256']);

// PKCS#8 wrapping of a raw 32-byte ed25519 seed (RFC 8410).
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

function ed25519FromSeed(name: string): InMemorySigner {
  const seed = createHash('sha256').update(`tufkit-conformance/${name}`).digest();
  const der = Buffer.concat([ED25519_PKCS8_PREFIX, seed]);
  const pem = `-----BEGIN PRIVATE KEY-----\n${der.toString('base64')}\n-----END PRIVATE KEY-----\n`;
  return InMemorySigner.fromPem(pem);
}

const range = (prefix: string, from: number, to: number): string[] => Array.from({ length: to - from + 1 }, (_, i) => `${prefix}${from + i}`);

const PEM_NAMES: Record<Exclude<KeyKind, 'ed25519'>, { names: string[]; scheme?: string }> = {
  'ecdsa-p256': { names: range('ecdsa-p256-', 1, 6) },
  'ecdsa-p384': { names: range('ecdsa-p384-', 1, 6) },
  'rsa-pss': { names: range('rsa-', 1, 6), scheme: 'rsassa-pss-sha256' },
  'rsa-pkcs1v15': { names: range('rsa-', 7, 12), scheme: 'rsa-pkcs1v15-sha256' },
};

/** Signatures of earlier generator runs, by keyid and digest of the bytes they sign. */
export class SignatureCache {
  private readonly sigs = new Map<string, string[]>();

  private static id(keyid: string, data: Uint8Array): string {
    return `${keyid}:${createHash('sha256').update(data).digest('hex')}`;
  }

  /** Remembers the signatures of a metadata file (anything that does not look like one is ignored). */
  addFile(bytes: Uint8Array): void {
    let doc: unknown;
    try {
      doc = JSON.parse(Buffer.from(bytes).toString('utf8'));
    } catch {
      return;
    }
    if (typeof doc !== 'object' || doc === null) return;
    const { signed, signatures } = doc as { signed?: unknown; signatures?: unknown };
    if (typeof signed !== 'object' || signed === null || !Array.isArray(signatures)) return;
    let data: Uint8Array;
    try {
      data = canonicalBytes(signed);
    } catch {
      return;
    }
    for (const s of signatures as unknown[]) {
      const { keyid, sig } = (s ?? {}) as { keyid?: unknown; sig?: unknown };
      if (typeof keyid !== 'string' || typeof sig !== 'string') continue;
      const id = SignatureCache.id(keyid, data);
      const list = this.sigs.get(id) ?? [];
      if (!list.includes(sig)) list.push(sig);
      this.sigs.set(id, list);
    }
  }

  /** An earlier signature by `key` over exactly `data` that still verifies. */
  find(keyid: string, key: PublicKeyJSON, data: Uint8Array): Uint8Array | undefined {
    for (const hex of this.sigs.get(SignatureCache.id(keyid, data)) ?? []) {
      const sig = Buffer.from(hex, 'hex');
      if (verifySignature(key, sig, data)) return new Uint8Array(sig);
    }
    return undefined;
  }
}

/** A signer that reuses an earlier randomized signature over the same bytes when there is one. */
class ReusingSigner implements Signer {
  constructor(
    private readonly inner: InMemorySigner,
    private readonly cache: SignatureCache | undefined,
  ) {}

  get keyid(): string {
    return this.inner.keyid;
  }

  get publicKey(): PublicKeyJSON {
    return this.inner.publicKey;
  }

  async sign(data: Uint8Array): Promise<Uint8Array> {
    if (this.cache && RANDOMIZED_SCHEMES.has(this.inner.publicKey.scheme)) {
      const earlier = this.cache.find(this.keyid, this.publicKey, data);
      if (earlier) return earlier;
    }
    return this.inner.sign(data);
  }
}

const loaded = new Map<string, InMemorySigner>();

function load(id: string, make: () => InMemorySigner): InMemorySigner {
  let s = loaded.get(id);
  if (!s) loaded.set(id, (s = make()));
  return s;
}

/** The keys one scenario uses: every scenario starts from the same pool, in the same order. */
export class KeyPool {
  private readonly used = new Map<KeyKind, number>();

  constructor(private readonly cache?: SignatureCache) {}

  /** The next unused key of `kind`. */
  next(kind: KeyKind = 'ed25519'): Signer {
    const n = this.used.get(kind) ?? 0;
    this.used.set(kind, n + 1);
    if (kind === 'ed25519') return this.wrap(load(`ed25519-${n}`, () => ed25519FromSeed(`key-${n}`)));
    const { names, scheme } = PEM_NAMES[kind];
    const name = names[n];
    if (!name) throw new UsageError(`conformance key pool: no ${kind} key left (${names.length} fixed keys)`);
    return this.wrap(load(`${name}/${scheme ?? ''}`, () => InMemorySigner.fromPem(FIXED_PEMS[name]!, scheme ? { scheme } : {})));
  }

  private wrap(s: InMemorySigner): Signer {
    return new ReusingSigner(s, this.cache);
  }
}

/** The metadata form of a signer's public key. */
export function keyOf(signer: Signer): Key {
  return Key.fromJSON(signer.keyid, signer.publicKey, '', 'key');
}
