import { describe, expect, it } from 'vitest';
import { canonicalSignedSpan } from '../../src/crypto/canonical-span.js';
import { canonicalString } from '../../src/crypto/canonical.js';
import { countMembers, parseJSONCountingMembers } from '../../src/crypto/json.js';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { Key, Metadata, metadataFileBytes, MetadataFormatError, Root, Targets, TargetFile, UnsignedMetadataError } from '../../src/index.js';
import { rng, type Rng } from './helpers.js';

// A client verifies the bytes of `signed` as the file holds them when they are exactly canonical
// JSON, and re-encodes the parsed tree otherwise. The one property that matters: whenever a span
// is taken, its text IS the canonical encoding of what JSON.parse read there.

function checkSpan(text: string): ReturnType<typeof canonicalSignedSpan> {
  const value = JSON.parse(text) as { signed: unknown };
  const span = canonicalSignedSpan(text);
  if (span) {
    expect(text.slice(span.start, span.end)).toBe(canonicalString(value.signed));
    expect(span.members).toBe(countMembers(value.signed));
  }
  return span;
}

const file = (signedText: string, before = '"signatures":[]'): string => `{${before},"signed":${signedText}}`;

describe('canonicalSignedSpan', () => {
  it('finds signed written canonically, wherever it sits among the top-level members', () => {
    const signed = { _type: 'targets', a: [1, -2, true, false, null, 'x\\"y'], b: { c: {}, d: [] }, version: 3 };
    const c = canonicalString(signed);
    expect(checkSpan(file(c))).toBeDefined();
    expect(checkSpan(`{"signed":${c},"signatures":[{"keyid":"a","sig":"b"}],"z":{"signed":1}}`)).toBeDefined();
    expect(checkSpan(` {\n "x" : [ "signed" ] ,\n "signed" : ${c} \n} `)).toBeDefined();
  });

  it.each([
    ['whitespace inside', '{"a": 1}'],
    ['a newline inside', '{"a":1,\n"b":2}'],
    ['names out of order', '{"b":1,"a":2}'],
    ['nested names out of order', '{"a":{"y":1,"x":2}}'],
    ['code unit order instead of code point order', '{"\u{1F600}":1,"\uE000":2}'],
    ['a repeated name', '{"a":1,"a":1}'],
    ['an escape canonical JSON does not write', '{"a":"\\u0041"}'],
    ['an escaped slash', '{"a":"\\/"}'],
    ['an escaped control character', '{"a":"\\n"}'],
    ['an escape in a name', '{"\\u0061":1}'],
    ['an escaped quote in a name', '{"a\\"b":1}'],
    ['minus zero', '{"a":-0}'],
    ['a fraction', '{"a":1.5}'],
    ['an exponent', '{"a":1e3}'],
    ['not an object', '[1,2]'],
  ])('leaves %s to the general way', (_, signedText) => {
    expect(checkSpan(file(signedText))).toBeUndefined();
  });

  it('returns (nothing) on text that is not JSON at all', () => {
    for (const t of ['{"signed":{"a":"x', '{"signed', '{"x":"\\"}', '{"signed":{"a":1', '', '{', '{"signed":[']) {
      expect(canonicalSignedSpan(t)).toBeUndefined();
    }
  });

  it('takes nothing when the top level is unusual', () => {
    const c = '{"a":1}';
    expect(checkSpan(`{"signatures":[],"sign\\u0065d":${c}}`)).toBeUndefined();
    expect(canonicalSignedSpan(`{"signed":${c},"signed":${c}}`)).toBeUndefined();
    expect(checkSpan(`{"signatures":[]}`)).toBeUndefined();
    expect(checkSpan(`[{"signed":${c}}]`)).toBeUndefined();
  });

  it('keeps the property on 3,000 seeded random documents, canonical or not', () => {
    const r = rng(20261123);
    let taken = 0;
    for (let i = 0; i < 3000; i++) {
      const signed = randomObject(r, 0);
      const forms = [canonicalString(signed), JSON.stringify(signed), JSON.stringify(signed, null, 1), reorderedText(r, signed)];
      for (const [k, text] of forms.entries()) {
        let parsed: string;
        try {
          parsed = file(text);
          JSON.parse(parsed); // canonical text with a raw control character is not JSON
        } catch {
          continue;
        }
        const span = checkSpan(parsed);
        // Canonical form is always taken, except names holding an escape (compared as written) and
        // integers of 16 characters or more (left to the strict parser's closer look).
        if (k === 0 && !leftToGeneralWay(signed)) expect(span, parsed).toBeDefined();
        if (span) taken++;
      }
    }
    expect(taken).toBeGreaterThan(3000);
  });
});

function leftToGeneralWay(v: unknown): boolean {
  if (typeof v === 'number') return String(v).length >= 16;
  if (Array.isArray(v)) return v.some(leftToGeneralWay);
  if (typeof v !== 'object' || v === null) return false;
  return Object.entries(v).some(([k, x]) => /["\\]/.test(k) || leftToGeneralWay(x));
}

const NAME_CHARS = ['a', 'b', 'z', 'A', '_', '0', '/', '"', '\\', 'é', '\uE000', '\uFFFF', '\u{1F600}', '\u{10000}', '\u0001', ' '];

function randomString(r: Rng, max: number): string {
  let s = '';
  for (let i = r.int(max); i > 0; i--) s += r.pick(NAME_CHARS);
  return s;
}

function randomValue(r: Rng, depth: number): unknown {
  switch (r.int(depth > 3 ? 4 : 6)) {
    case 0:
      return r.pick([0, 1, -1, 42, -7, 9007199254740991, -9007199254740991, 1234567890123456]);
    case 1:
      return randomString(r, 6);
    case 2:
      return r.pick([true, false, null]);
    case 3:
      return randomString(r, 2);
    case 4:
      return Array.from({ length: r.int(4) }, () => randomValue(r, depth + 1));
    default:
      return randomObject(r, depth + 1);
  }
}

function randomObject(r: Rng, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = r.int(5); i > 0; i--) o[randomString(r, 3)] = randomValue(r, depth);
  return o;
}

/** Compact JSON with each object's members in a random order (sorted by chance now and then). */
function reorderedText(r: Rng, v: unknown): string {
  if (Array.isArray(v)) return `[${v.map((x) => reorderedText(r, x)).join(',')}]`;
  if (typeof v !== 'object' || v === null) return JSON.stringify(v);
  const keys = Object.keys(v).sort();
  if (r.int(2) === 0) keys.reverse();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${reorderedText(r, (v as Record<string, unknown>)[k])}`).join(',')}}`;
}

describe('verification over the bytes in the file', () => {
  const signer = InMemorySigner.generate('ed25519');
  const root = new Metadata(new Root());
  root.signed.addKey(Key.fromPublicJSON(signer.publicKey as Record<string, unknown>), 'targets');

  async function signedTargets(paths: string[]): Promise<Metadata<Targets>> {
    const t = new Targets({ version: 2 });
    for (const p of paths) t.targets.set(p, TargetFile.fromData(p, Buffer.from(p)));
    const md = new Metadata(t);
    await md.sign(signer);
    return md;
  }

  it("verifies tufkit's files from the bytes they hold, without a copy", async () => {
    const md = await signedTargets(['b.txt', 'a.txt', 'c/d.txt']);
    const bytes = md.toBytes();
    const { metadata, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets');
    expect(signedBytes.buffer).toBe((bytes as Uint8Array).buffer);
    expect(Buffer.from(signedBytes)).toEqual(Buffer.from(md.signedBytes()));
    expect(() => root.verifyDelegate('targets', metadata, signedBytes)).not.toThrow();
  });

  it('re-encodes (and still verifies) files that are not ASCII, pretty-printed or plain JSON', async () => {
    const md = await signedTargets(['é/ü.txt', 'a.txt']);
    const json = JSON.parse(Buffer.from(md.toBytes()).toString()) as unknown;
    for (const bytes of [md.toBytes(), Buffer.from(JSON.stringify(json, null, 2)), Buffer.from(JSON.stringify(md.toJSON()))]) {
      const { metadata, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets');
      expect(Buffer.from(signedBytes)).toEqual(Buffer.from(md.signedBytes()));
      expect(() => root.verifyDelegate('targets', metadata, signedBytes)).not.toThrow();
    }
  });

  it('refuses a signature over non-canonical bytes even when the file holds exactly those bytes', async () => {
    const md = await signedTargets(['a.txt']);
    const pretty = JSON.stringify(md.signed.toJSON(), null, 1); // valid JSON, not canonical
    const sig = Buffer.from(await signer.sign(Buffer.from(pretty))).toString('hex');
    const bytes = Buffer.from(`{"signatures":[{"keyid":"${signer.keyid}","sig":"${sig}"}],"signed":${pretty}}`);
    const { metadata, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets');
    expect(() => root.verifyDelegate('targets', metadata, signedBytes)).toThrow(UnsignedMetadataError);
  });

  it('refuses a canonical file changed by one byte', async () => {
    const md = await signedTargets(['a.txt', 'b.txt']);
    const bytes = Buffer.from(md.toBytes());
    const at = bytes.indexOf('"length":5') + 9;
    bytes[at] = '6'.charCodeAt(0);
    const { metadata, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets');
    expect(metadata.signed.getTarget('a.txt')?.length).toBe(6);
    expect(() => root.verifyDelegate('targets', metadata, signedBytes)).toThrow(UnsignedMetadataError);
  });

  it('writes signed as plain JSON when canonical JSON would not be JSON (control characters)', async () => {
    const md = await signedTargets(['line\nbreak.txt']);
    const bytes = md.toBytes();
    const text = Buffer.from(bytes).toString();
    expect(text).toContain('line\\nbreak.txt');
    expect(canonicalSignedSpan(text)).toBeUndefined();
    const { metadata, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets');
    expect(() => root.verifyDelegate('targets', metadata, signedBytes)).not.toThrow();
    expect(Buffer.from(metadataFileBytes(md, md.signedBytes(), md.signed.toJSON()))).toEqual(Buffer.from(bytes));
  });
});

describe('strict parsing of a file with a canonical signed part', () => {
  const parse = (text: string) => parseJSONCountingMembers(Buffer.from(text), 'targets', { findSignedSpan: true });

  it('counts the same separators as a full scan, and finds the span', () => {
    const r = rng(7);
    for (let i = 0; i < 300; i++) {
      const text = file(canonicalString(randomAsciiObject(r, 0)), '"signatures":[{"keyid":"a","sig":"b"}],"x":{"y":[1,{"z":2}]}');
      const withSpan = parse(text);
      const without = parseJSONCountingMembers(Buffer.from(text), 'targets');
      expect(withSpan.separators).toBe(without.separators);
      expect(withSpan.signedSpan).toBeDefined();
    }
  });

  it('still refuses what the strict parser refuses', () => {
    const ok = '{"_type":"targets","version":1}';
    expect(() => parse(file(ok, '"signatures":[],"x":1,"x":2'))).not.toThrow(); // counted, then checked by checkMemberCount
    expect(() => Metadata.fromBytesForVerification(Buffer.from(file(ok, '"signatures":[],"x":1,"x":2')), 'targets')).toThrow(MetadataFormatError);
    expect(() => parse(file('{"a":9007199254740993}'))).toThrow(MetadataFormatError);
    expect(parse(file('{"a":9007199254740991}')).signedSpan).toBeUndefined(); // 16 digits: left to the full scan, which accepts it
    expect(() => parse(file('{"a":1.0}'))).toThrow(MetadataFormatError);
    const deep = (n: number): string => '{"a":'.repeat(n) + '1' + '}'.repeat(n);
    expect(parse(file(deep(99))).signedSpan).toBeDefined();
    expect(() => parse(file(deep(100)))).toThrow(MetadataFormatError); // 101 levels with the top level
  });
});

function randomAsciiObject(r: Rng, depth: number): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  for (let i = r.int(5); i > 0; i--) {
    const k = Array.from({ length: 1 + r.int(3) }, () => r.pick(['a', 'b', 'Z', '_', '0', '/'])).join('');
    o[k] = depth < 4 && r.int(3) === 0 ? randomAsciiObject(r, depth + 1) : r.pick([1, -5, 'v', true, null, [1, 'x'], 123456789012345]);
  }
  return o;
}
