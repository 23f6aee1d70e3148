// The package's "tufkit/client" entry: everything a client needs (Updater, models, errors,
// verification) without the repository tooling and signers, which a client never uses and which
// would be a large share of a fresh process's module loading. "tufkit" exports this and the rest.
export * from './errors.js';
export { canonicalBytes, canonicalString } from './crypto/canonical.js';
export { parseStrictJSON } from './crypto/json.js';
export * from './crypto/hash.js';
export { computeKeyid } from './crypto/keyid.js';
export { isSupportedKey, verifySignature, type PublicKeyInfo } from './crypto/verify.js';
export * from './models/index.js';
export * from './client/index.js';
