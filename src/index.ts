export * from './errors.js';
export { canonicalBytes, canonicalString } from './crypto/canonical.js';
export * from './models/index.js';
export * from './client/index.js';
