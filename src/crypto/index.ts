export * from './hash.js';
export { computeKeyid } from './keyid.js';
export { InMemorySigner, type FromPemOptions, type GeneratedKeyType, type PublicKeyJSON, type Signer } from './signer.js';
export { isSupportedKey, verifySignature, type PublicKeyInfo } from './verify.js';
