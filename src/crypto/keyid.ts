import { canonicalBytes } from './canonical.js';
import { bytesToHex, digest } from './hash.js';

/**
 * The TUF keyid of a public key: lowercase hex SHA-256 of the canonical JSON of the key object
 * exactly as given. Every member counts, legacy `keyid_hash_algorithms` and custom fields
 * included, so the keyid of a key read from metadata must be computed from the object as read.
 */
export function computeKeyid(keyJson: Record<string, unknown>): string {
  return bytesToHex(digest('sha256', canonicalBytes(keyJson, 'key', 1024)));
}
