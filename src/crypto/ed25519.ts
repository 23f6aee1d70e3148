// Ed25519 (RFC 8032) with OpenSSL's verdicts, the ones python-tuf (pyca/cryptography) and go-tuf
// (crypto/ed25519) reach: the cofactorless equation [S]B = R + [k]A with R compared by its bytes
// (a non-canonical R never matches), S >= L rejected, any 32-byte public key taken and one that is
// not a curve point verifying nothing; small-order keys and R are not refused. A stricter or looser
// rule (ZIP-215, libsodium's) would count a different threshold than those clients on the same file.
// RFC 8032 5.1.3 would refuse a key with y >= p or x = 0 and the sign bit: OpenSSL, hence those
// clients, takes it, and agreeing with them on a threshold matters more than that refusal.

import { ED25519_SIGNATURE_LENGTH } from './ed25519-encoding.js';

/** One Ed25519 implementation. Each gives OpenSSL's verdict on every input. */
export interface Ed25519Backend {
  readonly name: string;
  /** Checks signatures by a 32-byte public key; signatures passed are 64 bytes. */
  verifier(publicKey: Uint8Array): (signature: Uint8Array, message: Uint8Array) => boolean;
  /** Signs deterministically with a 32-byte seed. */
  signer(seed: Uint8Array): { publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array };
}

// node:crypto (OpenSSL) wherever the runtime has it; the JavaScript backend is loaded only where it has not.
const hasNodeCrypto = typeof process === 'object' && typeof process.getBuiltinModule === 'function' && process.getBuiltinModule('node:crypto') !== undefined;

export const ed25519: Ed25519Backend = hasNodeCrypto
  ? (await import('./ed25519-node.js')).nodeCryptoEd25519
  : (await import('./ed25519-noble.js')).nobleEd25519;

/** A verifier for `publicKey` (32 bytes) that is false for a signature of any other length than 64. */
export function ed25519Verifier(publicKey: Uint8Array, backend: Ed25519Backend = ed25519): (signature: Uint8Array, message: Uint8Array) => boolean {
  const verify = backend.verifier(publicKey);
  return (signature, message) => signature.byteLength === ED25519_SIGNATURE_LENGTH && verify(signature, message);
}
