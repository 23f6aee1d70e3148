export * from './errors.js';
export { canonicalBytes, canonicalString } from './crypto/canonical.js';
