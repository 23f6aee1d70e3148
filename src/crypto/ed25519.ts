import { createHash } from 'node:crypto';
import * as ed from '@noble/ed25519';

// @noble/ed25519 v3 has no synchronous SHA-512 of its own. Ed25519 hashes the whole message (for
// a signature over a large targets role, megabytes), so it gets OpenSSL's SHA-512 through
// node:crypto: the curve arithmetic is then a fixed cost and the message costs native hashing speed.
ed.hashes.sha512 = (message: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(createHash('sha512').update(message).digest());

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

/** Throws when `publicKey` is not the canonical encoding of a curve point (RFC 8032 5.1.3). */
export function checkEd25519PublicKey(publicKey: Uint8Array): void {
  ed.Point.fromBytes(publicKey, false);
}

/**
 * Strict RFC 8032 verification, as OpenSSL (behind pyca/cryptography and python-tuf) does it:
 * non-canonical R or A, S >= L and small-order keys are rejected rather than accepted as ZIP-215 would.
 */
export function ed25519Verify(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (signature.byteLength !== ED25519_SIGNATURE_LENGTH || publicKey.byteLength !== ED25519_PUBLIC_KEY_LENGTH) return false;
  return ed.verify(signature, message, publicKey, { zip215: false });
}

/** Deterministic RFC 8032 signature from the 32-byte seed. */
export function ed25519Sign(message: Uint8Array, seed: Uint8Array): Uint8Array {
  return ed.sign(message, seed);
}

export function ed25519PublicKey(seed: Uint8Array): Uint8Array {
  return ed.getPublicKey(seed);
}
