import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { canonicalBytes, canonicalString } from '../../src/crypto/canonical.js';
import { CanonicalJSONError } from '../../src/errors.js';
import { rng, SIGSTORE, type Rng } from './helpers.js';

// tufkit writes OLPC canonical JSON as securesystemslib's encode_canonical does. RFC 8785
// (`canonicalize`) is the oracle wherever the two definitions agree; where they differ the expected
// bytes below were derived by hand from encode_canonical's algorithm: `"` + s.replace('\\', '\\\\')
// .replace('"', '\\"') + `"` for strings, `sorted(dict.items())` (Python str order = code point
// order) for objects, `str(int)` for integers, FormatError for anything else; then UTF-8.

// A CommonJS module whose typings declare an ES default export: its default import is the function.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

function oracle(value: unknown): Buffer {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('oracle produced nothing');
  return Buffer.from(text, 'utf8');
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}

/** Bytes from readable pieces: ASCII text, or explicit byte values. */
function bytesOf(...parts: (string | number[])[]): string {
  return Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'latin1') : Buffer.from(p)))).toString('hex');
}

function canonicalError(fn: () => unknown): CanonicalJSONError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(CanonicalJSONError);
    return e as CanonicalJSONError;
  }
  throw new Error('expected a CanonicalJSONError, nothing was thrown');
}

// ---- random values on which RFC 8785 and OLPC canonical JSON agree ---------------------------

// Code point ranges; control characters (< U+0020) are left out because RFC 8785 escapes them.
const ASCII: [number, number] = [0x20, 0x7e];
const LATIN: [number, number] = [0x80, 0x7ff];
const BMP_LOW: [number, number] = [0x800, 0xd7ff];
const BMP_HIGH: [number, number] = [0xe000, 0xffff];
const ASTRAL: [number, number] = [0x10000, 0x10ffff];

function randomString(r: Rng, ranges: [number, number][], maxLen: number): string {
  const n = r.int(maxLen + 1);
  let s = '';
  for (let i = 0; i < n; i++) {
    // Mostly ASCII, with `"` and `\` often, like real metadata with the occasional escape.
    const roll = r.int(10);
    if (roll < 2) s += r.pick(['"', '\\', ':', ',', '{', '/']);
    else {
      const [lo, hi] = ranges[r.int(ranges.length)]!;
      s += String.fromCodePoint(lo + r.int(hi - lo + 1));
    }
  }
  return s;
}

function randomInteger(r: Rng): number {
  switch (r.int(5)) {
    case 0:
      return r.int(10);
    case 1:
      return r.int(1_000_000) - 500_000;
    case 2:
      return Number.MAX_SAFE_INTEGER - r.int(1000);
    case 3:
      return -Number.MAX_SAFE_INTEGER + r.int(1000);
    default:
      return Math.floor((r.next() - 0.5) * 2 * Number.MAX_SAFE_INTEGER);
  }
}

function randomValue(r: Rng, depth: number): unknown {
  const kind = r.int(depth > 3 ? 5 : 7);
  switch (kind) {
    case 0:
      // Short and long strings: the encoder hands long escape-free strings to Node's UTF-8 encoder.
      return randomString(r, [ASCII, LATIN, BMP_LOW, BMP_HIGH, ASTRAL], r.pick([12, 12, 60, 200]));
    case 1:
      return randomInteger(r);
    case 2:
      return r.int(2) === 0;
    case 3:
      return null;
    case 4:
      return randomString(r, [ASCII], r.pick([20, 100]));
    case 5: {
      const n = r.int(5);
      return Array.from({ length: n }, () => randomValue(r, depth + 1));
    }
    default: {
      // Key order agrees unless one object mixes keys with U+E000-U+FFFF and keys above U+FFFF.
      const keyRanges = r.int(2) === 0 ? [ASCII, LATIN, BMP_LOW, ASTRAL] : [ASCII, LATIN, BMP_LOW, BMP_HIGH];
      const o: Record<string, unknown> = {};
      const n = r.int(7);
      for (let i = 0; i < n; i++) o[randomString(r, keyRanges, r.pick([6, 6, 50]))] = randomValue(r, depth + 1);
      return o;
    }
  }
}

describe('canonical JSON agrees with RFC 8785 where the two definitions agree', () => {
  it('gives identical bytes for 3,000 generated values (ASCII, non-BMP, nesting, integers, booleans, null)', () => {
    const r = rng(0xc0ffee);
    let nonAscii = 0;
    for (let i = 0; i < 3000; i++) {
      const value = randomValue(r, 0);
      const expected = oracle(value);
      const actual = canonicalBytes(value);
      if (hex(actual) !== expected.toString('hex')) {
        throw new Error(`case ${i}: ${JSON.stringify(value)}\n ours ${hex(actual)}\n 8785 ${expected.toString('hex')}`);
      }
      expect(canonicalString(value)).toBe(expected.toString('utf8'));
      if (expected.some((b) => b >= 0x80)) nonAscii++;
    }
    // The generator really exercised multi-byte UTF-8.
    expect(nonAscii).toBeGreaterThan(500);
  });

  it('gives identical bytes for a realistic metadata object', () => {
    const signed = JSON.parse(readFileSync(join(SIGSTORE, 'metadata/15.root.json'), 'utf8')).signed;
    // Sigstore's root holds PEM keys (newlines), which RFC 8785 escapes: compare without them.
    const noPem = JSON.parse(JSON.stringify(signed).replace(/\\n/g, ' '));
    expect(hex(canonicalBytes(noPem))).toBe(oracle(noPem).toString('hex'));
  });

  it('agrees on every escape-free edge: empty containers, quotes, backslashes, DEL, U+2028, surrogate pairs, -0', () => {
    const values: unknown[] = [
      {},
      [],
      '',
      { '': '' },
      [[[]], {}],
      'quote " and backslash \\ and both \\"',
      '\u007f\u0080\u07ff\u0800\u2028\u2029\ufeff\uffff',
      '\u{10000}\u{1f600}\u{10ffff}',
      { a: -0, b: 0, c: Number.MAX_SAFE_INTEGER, d: Number.MIN_SAFE_INTEGER },
      { b: 1, a: 2, B: 3, aa: 4, '': 5, ab: 6 },
      { '10': 1, '9': 2, '-1': 3 }, // integer-like keys: JS enumerates them first, both must still sort
      Object.assign(Object.create(null) as object, { z: 1, y: 2 }),
    ];
    for (const value of values) expect(hex(canonicalBytes(value))).toBe(oracle(value).toString('hex'));
  });

  it('grows its buffer correctly from a tiny size hint', () => {
    const big = { s: 'é'.repeat(10_000) + '\u{1f600}'.repeat(10_000), list: Array.from({ length: 5000 }, (_, i) => ({ ['k' + i]: i })) };
    expect(hex(canonicalBytes(big, '', 1))).toBe(oracle(big).toString('hex'));
  });
});

describe('where OLPC canonical JSON differs from RFC 8785, tufkit matches securesystemslib', () => {
  it('writes U+0000-U+001F raw (RFC 8785 escapes them)', () => {
    const value = { a: '\u0000\u0001\n\t\u001f', '\u001f': 'k' };
    const expected = bytesOf('{"', [0x1f], '":"k","a":"', [0x00, 0x01, 0x0a, 0x09, 0x1f], '"}');
    expect(hex(canonicalBytes(value))).toBe(expected);
    expect(oracle(value).toString('utf8')).toBe('{"\\u001f":"k","a":"\\u0000\\u0001\\n\\t\\u001f"}');
  });

  it('sorts keys by code point (RFC 8785 sorts by UTF-16 code unit)', () => {
    const value = { '\ue000': 1, '\u{1f600}': 2, '\ufffd': 3 };
    // U+E000 (EE 80 80) < U+FFFD (EF BF BD) < U+1F600 (F0 9F 98 80)
    const expected = bytesOf('{"', [0xee, 0x80, 0x80], '":1,"', [0xef, 0xbf, 0xbd], '":3,"', [0xf0, 0x9f, 0x98, 0x80], '":2}');
    expect(hex(canonicalBytes(value))).toBe(expected);
    // UTF-16 puts U+1F600 (D83D DE00) first.
    expect(oracle(value).toString('utf8')).toBe('{"\u{1f600}":2,"\ue000":1,"\ufffd":3}');
  });

  it('sorts a full range of keys by code point, at any depth and after a common prefix', () => {
    const value = { '\u{10ffff}': 5, '\ue000': 3, z: 0, '\u{10000}': 4, é: 1, '\ud7ff': 2 };
    expect(hex(canonicalBytes(value))).toBe(
      '7b227a223a302c22c3a9223a312c22ed9fbf223a322c22ee8080223a332c22f0908080223a342c22f48fbfbf223a357d',
    );
    const nested = { 'a\u{10000}': 2, a: [{ '\u{1d11e}': null, '\uffff': true }], 'a\ue000': 1 };
    // {"a":[{"\uffff":true,"\u{1d11e}":null}],"a\ue000":1,"a\u{10000}":2}
    expect(hex(canonicalBytes(nested))).toBe(
      '7b2261223a5b7b22efbfbf223a747275652c22f09d849e223a6e756c6c7d5d2c2261ee8080223a312c2261f0908080223a327d',
    );
    expect(hex(canonicalBytes(nested))).not.toBe(oracle(nested).toString('hex'));
  });

  it('sorts long keys by code point too (long strings take a different encoding path)', () => {
    const x = 'x'.repeat(40);
    const value = { [x + '\u{10000}']: 2, [x + '\ue000']: 1, [x]: 0 };
    expect(Buffer.from(canonicalBytes(value)).toString('utf8')).toBe(`{"${x}":0,"${x}\ue000":1,"${x}\u{10000}":2}`);
  });

  it('rejects floats (RFC 8785 writes them; encode_canonical raises FormatError)', () => {
    expect(oracle({ a: 1.5 }).toString()).toBe('{"a":1.5}');
    const e = canonicalError(() => canonicalBytes({ a: 1.5 }));
    expect(e.field).toBe('a');
    expect(e.message).toMatch(/1\.5.*not an integer/);
  });
});

describe('values canonical JSON cannot encode are CanonicalJSONError naming the field', () => {
  class Custom {
    x = 1;
  }
  const cases: [string, unknown, string, RegExp][] = [
    ['float', { signed: { targets: { 'a.txt': { length: 0.5 } } } }, 'signed.targets.a.txt.length', /not an integer/],
    ['float in an array', { list: [1, 2, 3.25] }, 'list[2]', /not an integer/],
    ['NaN', { n: NaN }, 'n', /not an integer/],
    ['Infinity', { n: [Infinity] }, 'n[0]', /not an integer/],
    ['2^53', { v: 2 ** 53 }, 'v', /beyond 2\^53/],
    ['-(2^53)', { v: -(2 ** 53) }, 'v', /beyond 2\^53/],
    ['2^53+2', { a: { b: [0, 2 ** 53 + 2] } }, 'a.b[1]', /beyond 2\^53/],
    ['lone high surrogate in a value', { s: 'ok\ud800' }, 's', /lone surrogate/],
    ['lone low surrogate in a value', { s: ['\udc00x'] }, 's[0]', /lone surrogate/],
    ['reversed surrogate pair', { s: '\ude00\ud83d' }, 's', /lone surrogate/],
    ['lone surrogate in a long string', { s: 'a'.repeat(40) + '\ud800' + 'b'.repeat(40) }, 's', /lone surrogate/],
    ['lone surrogate in a long member name', { ['k'.repeat(40) + '\udc00']: 1 }, 'k'.repeat(40) + '\udc00', /member name.*lone surrogate/],
    ['lone surrogate in a member name', { o: { ['k\ud800']: 1 } }, 'o.k\ud800', /member name.*lone surrogate/],
    ['undefined member', { a: { b: undefined } }, 'a.b', /undefined/],
    ['undefined in an array', { a: [1, undefined] }, 'a[1]', /undefined/],
    ['hole in an array', { a: [1, , 3] }, 'a[1]', /undefined/], // eslint-disable-line no-sparse-arrays
    ['function', { f: () => 1 }, 'f', /function/],
    ['bigint', { b: 10n }, 'b', /bigint/],
    ['symbol', { s: Symbol('x') }, 's', /symbol/],
    ['Date', { d: new Date(0) }, 'd', /Date/],
    ['Map', { m: new Map() }, 'm', /Map/],
    ['class instance', { c: [new Custom()] }, 'c[0]', /Custom/],
    ['Buffer', { buf: Buffer.from('x') }, 'buf', /Buffer/],
  ];
  for (const [name, value, field, reason] of cases) {
    it(`${name} -> ${field}`, () => {
      const e = canonicalError(() => canonicalBytes(value));
      expect(e.field).toBe(field);
      expect(e.reason).toMatch(reason);
      expect(e.message).toContain(field);
      // canonicalString takes the same path.
      expect(canonicalError(() => canonicalString(value)).field).toBe(field);
    });
  }

  it('prefixes the field path with the name given by the caller', () => {
    expect(canonicalError(() => canonicalBytes({ version: 1.5 }, 'signed')).field).toBe('signed.version');
    expect(canonicalError(() => canonicalBytes(1.5, 'signed')).field).toBe('signed');
  });

  it('rejects top-level values that are not JSON', () => {
    expect(canonicalError(() => canonicalBytes(undefined)).message).toContain('(top level)');
    canonicalError(() => canonicalBytes(() => 0));
    canonicalError(() => canonicalBytes(new Date()));
  });

  it('rejects values nested deeper than the stack allows with a CanonicalJSONError, not a RangeError', () => {
    let deep: unknown = [];
    for (let i = 0; i < 100_000; i++) deep = i % 2 ? [deep] : { a: deep };
    const e = canonicalError(() => canonicalBytes({ custom: deep }, 'signed'));
    expect(e.field).toMatch(/^signed\.custom/);
  });

  it('finds the problem even when a lone surrogate sits behind a key that forces a code point re-sort', () => {
    const e = canonicalError(() => canonicalBytes({ '\ue000': 1, '\u{10000}': { x: 'bad\udfff' } }));
    expect(e.field).toBe('\u{10000}.x');
  });
});

describe('PEM keys with newlines are written raw', () => {
  it('writes a PEM public key with raw 0x0A bytes', () => {
    const pem = '-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n';
    const bytes = Buffer.from(canonicalBytes({ keyval: { public: pem } }));
    expect(bytes.toString('latin1')).toBe('{"keyval":{"public":"-----BEGIN PUBLIC KEY-----\nMFkw\n-----END PUBLIC KEY-----\n"}}');
    expect(bytes.includes('\\n')).toBe(false);
    expect(bytes.filter((b) => b === 0x0a).length).toBe(3);
  });

  it("reproduces every keyid of Sigstore's root v15 (sha256 over canonical JSON holding PEM newlines)", () => {
    const root = JSON.parse(readFileSync(join(SIGSTORE, 'metadata/15.root.json'), 'utf8'));
    const keys = Object.entries(root.signed.keys as Record<string, { keyval: { public: string } }>);
    expect(keys.length).toBeGreaterThanOrEqual(5);
    for (const [keyid, key] of keys) {
      expect(key.keyval.public).toContain('\n');
      expect(createHash('sha256').update(canonicalBytes(key)).digest('hex')).toBe(keyid);
      // With escaped newlines (RFC 8785) the keyid would not match.
      expect(createHash('sha256').update(oracle(key)).digest('hex')).not.toBe(keyid);
    }
  });
});
