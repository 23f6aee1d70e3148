import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { UnsupportedAlgorithmError, UsageError } from '../../src/errors.js';
import { bytesToHex, constantTimeEqual, createHasher, digest, hexToBytes, HASH_ALGORITHMS } from '../../src/crypto/hash.js';

const abc = new TextEncoder().encode('abc');

describe('digest', () => {
  it('computes the FIPS 180 "abc" test vectors', () => {
    expect(bytesToHex(digest('sha256', abc))).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    expect(bytesToHex(digest('sha384', abc))).toBe(
      'cb00753f45a35e8bb5a03d699ac65007272c32ab0eded1631a8b605a43ff5bed8086072ba1e7cc2358baeca134c825a7',
    );
    expect(bytesToHex(digest('sha512', abc))).toBe(
      'ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f',
    );
  });

  it('returns a plain Uint8Array', () => {
    const d = digest('sha256', abc);
    expect(d).toBeInstanceOf(Uint8Array);
    expect(Buffer.isBuffer(d)).toBe(false);
    expect(d.length).toBe(32);
  });

  it('rejects algorithms outside the supported set', () => {
    for (const alg of ['md5', 'sha1', 'SHA256', 'sha-256', 'blake2b', 'sha224', '']) {
      expect(() => digest(alg, abc)).toThrow(UnsupportedAlgorithmError);
      expect(() => createHasher(alg)).toThrow(UnsupportedAlgorithmError);
    }
  });
});

describe('createHasher', () => {
  it('gives the one-shot digest for any chunking', () => {
    const data = new Uint8Array(100_000).map((_, i) => (i * 31) & 0xff);
    for (const alg of HASH_ALGORITHMS) {
      const h = createHasher(alg);
      for (let i = 0; i < data.length; i += 7919) h.update(data.subarray(i, i + 7919));
      expect(bytesToHex(h.digest())).toBe(createHash(alg).update(data).digest('hex'));
    }
  });

  it('refuses use after digest', () => {
    const h = createHasher('sha256').update(abc);
    h.digest();
    expect(() => h.update(abc)).toThrow(UsageError);
    expect(() => h.digest()).toThrow(UsageError);
  });
});

describe('hex', () => {
  it('decodes either case and encodes lowercase', () => {
    expect(Array.from(hexToBytes('00fFaB10', 'x'))).toEqual([0x00, 0xff, 0xab, 0x10]);
    expect(hexToBytes('', 'x').length).toBe(0);
    expect(bytesToHex(Uint8Array.of(0, 255, 171, 16))).toBe('00ffab10');
    expect(bytesToHex(Buffer.from('deadbeef', 'hex').subarray(1, 3))).toBe('adbe');
  });

  it('rejects odd length, non-hex digits and whitespace instead of truncating', () => {
    for (const bad of ['abc', '0g', 'zz', ' 00', '00 ', '0x00', 'ab\n', 'éé', '+1']) {
      expect(() => hexToBytes(bad, 'signature')).toThrow(UsageError);
    }
    expect(() => hexToBytes('abc', 'signature')).toThrow(/signature: not a hex string: odd length 3/);
    expect(() => hexToBytes(42 as unknown as string, 'hash')).toThrow(/hash: not a hex string: expected a string/);
  });
});

describe('constantTimeEqual', () => {
  it('compares contents and lengths', () => {
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 3))).toBe(true);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2, 4))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(1, 2, 3), Uint8Array.of(1, 2))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(), Uint8Array.of(0))).toBe(false);
    expect(constantTimeEqual(Uint8Array.of(), Uint8Array.of())).toBe(true);
    expect(constantTimeEqual(digest('sha256', abc), hexToBytes('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad', 'h'))).toBe(true);
  });
});
