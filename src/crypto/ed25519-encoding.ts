// Byte-level facts about Ed25519 encodings, shared by both backends and the key parser.

export const ED25519_PUBLIC_KEY_LENGTH = 32;
export const ED25519_SIGNATURE_LENGTH = 64;

/** Hex DER of an Ed25519 SubjectPublicKeyInfo up to the 32 raw key bytes that end it (RFC 8410). */
export const ED25519_SPKI_PREFIX = '302a300506032b6570032100';

/** The integer whose little-endian encoding is `bytes` (RFC 8032 encodes integers so). */
export function littleEndian(bytes: Uint8Array): bigint {
  let n = 0n;
  for (let i = bytes.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(bytes[i]!);
  return n;
}

const P = 2n ** 255n - 19n;

/**
 * The canonical encoding of the point `publicKey` encodes: the key's identity when counting a
 * threshold. OpenSSL also takes a y coordinate >= p and, for x = 0, a set sign bit; such a key is
 * the same point, so the same private key, as its canonical form. (Bytes that are no point verify
 * nothing, so what identity they get does not matter.)
 */
export function ed25519CanonicalKey(publicKey: Uint8Array): Uint8Array {
  let y = littleEndian(publicKey);
  const sign = y >> 255n;
  y &= (1n << 255n) - 1n;
  if (y >= P) y -= P;
  // x = 0 exactly when y = 1 or y = -1: x^2 = (y^2 - 1) / (d y^2 + 1).
  const xIsZero = y === 1n || y === P - 1n;
  const out = new Uint8Array(ED25519_PUBLIC_KEY_LENGTH);
  let v = y | (xIsZero ? 0n : sign << 255n);
  for (let i = 0; i < ED25519_PUBLIC_KEY_LENGTH; i++, v >>= 8n) out[i] = Number(v & 0xffn);
  return out;
}
