import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import type { Ed25519Backend } from './ed25519.js';
import { ED25519_SPKI_PREFIX } from './ed25519-encoding.js';

// Raw keys reach OpenSSL as DER with the 32 bytes at the end (RFC 8410). It takes any 32 bytes as
// a public key.
const SPKI_PREFIX = Buffer.from(ED25519_SPKI_PREFIX, 'hex');
// PKCS#8 of an Ed25519 private key up to its 32-byte seed.
const PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Ed25519 through node:crypto, that is OpenSSL itself. */
export const nodeCryptoEd25519: Ed25519Backend = {
  name: 'node:crypto',
  verifier(publicKey) {
    const key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, publicKey]), format: 'der', type: 'spki' });
    return (signature, message) => verify(null, message, key, signature);
  },
  signer(seed) {
    const key = createPrivateKey({ key: Buffer.concat([PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
    return {
      publicKey: new Uint8Array(spki.subarray(SPKI_PREFIX.length)),
      sign: (message) => {
        const sig = sign(null, message, key);
        return new Uint8Array(sig.buffer, sig.byteOffset, sig.byteLength);
      },
    };
  },
};
