export * from './client-entry.js';
export * from './crypto/index.js';
export * from './repository/index.js';
