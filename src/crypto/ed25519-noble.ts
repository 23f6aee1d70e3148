import * as ed from '@noble/ed25519';
import type { Ed25519Backend } from './ed25519.js';
import { littleEndian } from './ed25519-encoding.js';
import { constantTimeEqual, createHasher, digest } from './hash.js';

// Ed25519 in JavaScript (@noble/ed25519), for runtimes without node:crypto, giving OpenSSL's
// verdicts. noble's own verify() checks the cofactored equation and, with zip215: false, refuses
// small-order and non-canonical keys: other verdicts than python-tuf's and go-tuf's. So this is
// OpenSSL's algorithm (ossl_ed25519_verify) on noble's point arithmetic instead.

ed.hashes.sha512 = (message: Uint8Array): Uint8Array<ArrayBuffer> => digest('sha512', message) as Uint8Array<ArrayBuffer>;

const L = ed.Point.CURVE().n;

export const nobleEd25519: Ed25519Backend = {
  name: '@noble/ed25519',
  verifier(publicKey) {
    const aBytes = publicKey.slice();
    let A: ed.Point | undefined;
    try {
      // Decoded as OpenSSL's ge_frombytes_vartime does: y taken modulo p, and x = 0 with the sign
      // bit set read as x = 0. noble's lenient (ZIP-215) decoding is exactly that.
      A = ed.Point.fromBytes(aBytes, true);
    } catch {
      A = undefined; // no point: like OpenSSL, every signature is then false
    }
    return (signature, message) => {
      if (!A) return false;
      const s = littleEndian(signature.subarray(32, 64));
      if (s >= L) return false;
      const r = signature.subarray(0, 32);
      const k = littleEndian(createHasher('sha512').update(r).update(aBytes).update(message).digest()) % L;
      // R is not decoded: [S]B - [k]A, encoded canonically, must equal its bytes (no cofactor).
      const R = ed.Point.BASE.multiply(s, false).subtract(A.multiply(k, false));
      return constantTimeEqual(R.toBytes(), r);
    };
  },
  signer(seed) {
    const publicKey = ed.getPublicKey(seed);
    return { publicKey, sign: (message) => ed.sign(message, seed) };
  },
};
