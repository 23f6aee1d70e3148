export * from './errors.js';
export { canonicalBytes, canonicalString } from './crypto/canonical.js';
export { parseStrictJSON } from './crypto/json.js';
export * from './crypto/index.js';
export * from './models/index.js';
export * from './client/index.js';
export * from './repository/index.js';
