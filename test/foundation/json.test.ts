import { describe, expect, it } from 'vitest';
import { MAX_DEPTH, parseStrictJSON } from '../../src/crypto/json.js';
import { MetadataFormatError } from '../../src/errors.js';

const utf8 = (s: string): Uint8Array => Buffer.from(s, 'utf8');

function formatError(input: string | Uint8Array, role = 'targets'): MetadataFormatError {
  try {
    parseStrictJSON(typeof input === 'string' ? utf8(input) : input, role);
  } catch (e) {
    expect(e).toBeInstanceOf(MetadataFormatError);
    const err = e as MetadataFormatError;
    expect(err.role).toBe(role);
    return err;
  }
  throw new Error(`expected a MetadataFormatError for ${String(input)}`);
}

describe('parseStrictJSON: repeated member names', () => {
  const cases: [string, string, string][] = [
    ['at the top level', '{"a":1,"a":2}', 'a'],
    ['with equal values', '{"a":1,"b":2,"a":1}', 'a'],
    ['nested', '{"x":{"y":{"q":0,"a":1,"a":1}}}', 'x.y.a'],
    ['inside an array', '{"l":[{"a":1},{"b":1,"b":2}]}', 'l[1].b'],
    ['in a top-level array', '[1,{"k":[],"k":{}}]', '[1].k'],
    ['spelled with different escapes', '{"a":1,"\\u0061":2}', 'a'],
    ['spelled with an escaped solidus', '{"a/b":1,"a\\/b":2}', 'a/b'],
    ['with non-ASCII escapes', '{"\\u00e9":1,"é":2}', 'é'],
    ['named __proto__', '{"__proto__":1,"__proto__":2}', '__proto__'],
    ['with whitespace around', '{ "s" : { "k" : 1 ,\n "k" : 2 } }', 's.k'],
    ['after a sibling object holding the same name', '{"o":{"a":1},"p":{"a":1,"a":2}}', 'p.a'],
    ['behind strings holding quotes, colons and backslashes', '{"q\\"":"x:\\"y","\\\\":"\\\\","z":{"k\\\\":1,"k\\\\":2}}', 'z.k\\'],
  ];
  for (const [name, text, field] of cases) {
    it(`rejects a repeated name ${name} (${field})`, () => {
      const e = formatError(text);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(/more than once/);
      expect(e.message).toContain('targets');
    });
  }

  it('accepts the same name in different objects', () => {
    expect(parseStrictJSON(utf8('{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}'))).toEqual({ a: { a: { a: 1 } }, b: [{ a: 1 }, { a: 2 }] });
  });

  it('accepts __proto__ as an ordinary member name', () => {
    const v = parseStrictJSON(utf8('{"__proto__":{"polluted":1}}')) as Record<string, unknown>;
    expect(Object.keys(v)).toEqual(['__proto__']);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('parseStrictJSON: numbers', () => {
  const floats: [string, string][] = [
    ['{"length":1.0}', 'length'],
    ['{"a":{"length":1e5}}', 'a.length'],
    ['{"v":-0.5}', 'v'],
    ['{"v":[0,1E2]}', 'v[1]'],
    ['{"v":1e-3}', 'v'],
    ['{"v":0.0}', 'v'],
    ['{"v":5E+0}', 'v'],
    ['{"v":1e400}', 'v'],
    ['[2.5]', '[0]'],
  ];
  for (const [text, field] of floats) {
    it(`rejects the float in ${text}`, () => {
      const e = formatError(text);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(/not an integer/);
    });
  }

  const unsafe: [string, string][] = [
    ['{"version":9007199254740993}', 'version'], // 2^53 + 1: JSON.parse rounds it to 2^53
    ['{"version":9007199254740992}', 'version'], // 2^53
    ['{"v":[-9007199254740993]}', 'v[0]'],
    ['{"v":123456789012345678901234567890}', 'v'],
  ];
  for (const [text, field] of unsafe) {
    it(`rejects the integer beyond 2^53 in ${text}`, () => {
      const e = formatError(text);
      expect(e.field).toBe(field);
      expect(e.message).toMatch(/beyond 2\^53/);
    });
  }

  it('accepts every safe integer, including 16-digit ones', () => {
    expect(parseStrictJSON(utf8('{"a":9007199254740991,"b":-9007199254740991,"c":1000000000000000,"d":0,"e":-7}'))).toEqual({
      a: Number.MAX_SAFE_INTEGER,
      b: -Number.MAX_SAFE_INTEGER,
      c: 1e15,
      d: 0,
      e: -7,
    });
  });

  it('does not mistake number-like text inside strings for numbers', () => {
    const text = '{"1.5":"9007199254740993","e1":"1e5","x":"1E2 and 0.5","k.e":"-0.5e-3"}';
    expect(parseStrictJSON(utf8(text))).toEqual(JSON.parse(text));
  });

  it('does not take the e of true/false after a digit for an exponent', () => {
    expect(parseStrictJSON(utf8('[1,true,2,false,3]'))).toEqual([1, true, 2, false, 3]);
  });
});

describe('parseStrictJSON: bytes that are not a JSON text', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['invalid UTF-8 (0xFF)', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), /UTF-8/],
    ['an overlong encoding of "/"', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), /UTF-8/],
    ['an encoded surrogate', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xed, 0xa0, 0x80, 0x22, 0x7d]), /UTF-8/],
    ['a truncated multi-byte sequence', Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, 0xe2, 0x82, 0x22, 0x7d]), /UTF-8/],
    ['a UTF-8 byte order mark', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), utf8('{"a":1}')]), /invalid JSON/],
    ['trailing garbage', utf8('{"a":1} x'), /invalid JSON/],
    ['a second value', utf8('{"a":1}{"a":1}'), /invalid JSON/],
    ['a trailing NUL', utf8('{"a":1}\u0000'), /invalid JSON/],
    ['a trailing comma', utf8('{"a":1,}'), /invalid JSON/],
    ['truncated text', utf8('{"a":[1,2'), /invalid JSON/],
    ['nothing', new Uint8Array(0), /invalid JSON/],
    ['single quotes', utf8("{'a':1}"), /invalid JSON/],
  ];
  for (const [name, bytes, reason] of cases) {
    it(`rejects ${name}`, () => {
      expect(formatError(bytes).message).toMatch(reason);
    });
  }

  it('accepts whitespace around the value and raw non-ASCII text', () => {
    expect(parseStrictJSON(utf8(' \n{"ö":"\u{1f600}"}\n'))).toEqual({ ö: '\u{1f600}' });
  });
});

describe('parseStrictJSON: nesting depth', () => {
  const nested = (depth: number): string => '{"a":'.repeat(depth - 1) + '[' + ']' + '}'.repeat(depth - 1);

  it(`accepts nesting up to MAX_DEPTH (${MAX_DEPTH}) levels`, () => {
    expect(() => parseStrictJSON(utf8(nested(MAX_DEPTH)))).not.toThrow();
  });

  for (const depth of [MAX_DEPTH + 1, 5_000, 1_000_000]) {
    it(`rejects ${depth} levels with a MetadataFormatError, not a stack overflow`, () => {
      expect(formatError(nested(depth)).message).toMatch(/nested/);
      expect(formatError('['.repeat(depth) + ']'.repeat(depth)).message).toMatch(/nested/);
    });
  }

  it('does not count brackets inside strings', () => {
    const text = `{"s":"${'[{'.repeat(500)}","t":"${'\\"{['.repeat(200)}"}`;
    expect(parseStrictJSON(utf8(text))).toEqual(JSON.parse(text));
  });
});

describe('parseStrictJSON: the fast path is not fooled by string contents', () => {
  const texts = [
    '{"a:b":"c:d","e":{"f:":":g"}}',
    '{"a\\"":"x\\":y","b":"\\"\\":"}',
    '{"a\\\\":"b\\\\\\\\","c":"\\\\\\"","d":1}',
    '{"a\\":1,\\"a":2}', // one member whose name looks like two
    '{"\\\\\\":\\\\":{":":[":"]},"\\u003a":1}',
    '{"x":["\\"","\\\\",":",",","{","}"]}',
    '{"p":"-----BEGIN PUBLIC KEY-----\\nMFkw:==\\n-----END PUBLIC KEY-----\\n"}',
  ];
  for (const text of texts) {
    it(`parses ${text} exactly as JSON.parse does`, () => {
      expect(parseStrictJSON(utf8(text))).toEqual(JSON.parse(text));
    });
  }

  it('still finds a repeated name that only differs from a look-alike by escapes', () => {
    expect(formatError('{"a\\":1,\\"a":2,"a\\":1,\\"a":3}').field).toBe('a":1,"a');
  });
});
