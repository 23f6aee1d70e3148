import { createHash, timingSafeEqual, type Hash } from 'node:crypto';
import { UnsupportedAlgorithmError, UsageError } from '../errors.js';

// Digests of metadata and target files, and the hex encoding TUF uses for hashes and signatures.

/** Hash algorithms tufkit computes: the SHA-2 family members node:crypto offers for TUF hashes. */
export const HASH_ALGORITHMS = ['sha256', 'sha384', 'sha512'] as const;
export type HashAlgorithm = (typeof HASH_ALGORITHMS)[number];

export function isSupportedHashAlgorithm(algorithm: string): algorithm is HashAlgorithm {
  return (HASH_ALGORITHMS as readonly string[]).includes(algorithm);
}

function checkAlgorithm(algorithm: string): HashAlgorithm {
  if (!isSupportedHashAlgorithm(algorithm)) {
    throw new UnsupportedAlgorithmError(`unsupported hash algorithm "${algorithm}" (supported: ${HASH_ALGORITHMS.join(', ')})`);
  }
  return algorithm;
}

function view(buf: Buffer): Uint8Array {
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** The digest of `data` with `algorithm` (sha256, sha384 or sha512). */
export function digest(algorithm: string, data: Uint8Array): Uint8Array {
  return view(createHash(checkAlgorithm(algorithm)).update(data).digest());
}

/** An incremental digest, for data that arrives in chunks (downloads). */
export interface Hasher {
  readonly algorithm: HashAlgorithm;
  update(chunk: Uint8Array): this;
  /** Finishes the digest; the hasher cannot be used afterwards. */
  digest(): Uint8Array;
}

class NodeHasher implements Hasher {
  private hash: Hash | undefined;

  constructor(readonly algorithm: HashAlgorithm) {
    this.hash = createHash(algorithm);
  }

  update(chunk: Uint8Array): this {
    if (!this.hash) throw new UsageError(`${this.algorithm} hasher already finished`);
    this.hash.update(chunk);
    return this;
  }

  digest(): Uint8Array {
    if (!this.hash) throw new UsageError(`${this.algorithm} hasher already finished`);
    const out = this.hash.digest();
    this.hash = undefined;
    return view(out);
  }
}

export function createHasher(algorithm: string): Hasher {
  return new NodeHasher(checkAlgorithm(algorithm));
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

/**
 * Decodes a hex string strictly: even length and hex digits only, either case (as Python's
 * bytes.fromhex, minus the whitespace it tolerates). `what` names the value in the error message.
 * Throws UsageError: callers that read metadata report their own format error with the field.
 */
export function hexToBytes(hex: string, what: string): Uint8Array {
  if (typeof hex !== 'string' || !HEX.test(hex)) {
    const reason =
      typeof hex !== 'string'
        ? `expected a string, got ${hex === null ? 'null' : typeof hex}`
        : hex.length % 2 !== 0
          ? `odd length ${hex.length}`
          : 'contains a character that is not a hex digit';
    throw new UsageError(`${what}: not a hex string: ${reason}`);
  }
  return view(Buffer.from(hex, 'hex'));
}

/** Lowercase hex, the form TUF writes hashes, keyids and signatures in. */
export function bytesToHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

/** The lowercase hex SHA-256 of `data` (snapshot and timestamp list files by it). */
export function sha256Hex(data: Uint8Array): string {
  return bytesToHex(digest('sha256', data));
}

/**
 * Compares two byte strings in time that depends only on their lengths. Lengths are public (a
 * digest's length follows from its algorithm), so a length mismatch returns false, but only after
 * a comparison of the same cost so that callers see no early exit.
 */
export function constantTimeEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}
