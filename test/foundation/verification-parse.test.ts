import { describe, expect, it } from 'vitest';
import { CanonicalJSONError, canonicalBytes, Metadata, MetadataFormatError } from '../../src/index.js';

// Metadata.fromBytesForVerification (what the client uses) rules out repeated member names with
// the member count the canonical encoder takes on its way through `signed`, not a second walk.

const base = {
  signatures: [{ keyid: 'ab', sig: 'cd' }],
  signed: { _type: 'timestamp', spec_version: '1.0.31', version: 1, expires: '2030-01-01T00:00:00Z', meta: { 'snapshot.json': { version: 1 } } },
};
const text = JSON.stringify(base);

function load(s: string) {
  return Metadata.fromBytesForVerification(Buffer.from(s), 'timestamp');
}

describe('fromBytesForVerification', () => {
  it('returns the canonical bytes of signed as the file holds it', () => {
    const { metadata, signedBytes } = load(text);
    expect(Buffer.from(signedBytes)).toEqual(Buffer.from(canonicalBytes(base.signed)));
    expect(metadata.signed.version).toBe(1);
  });

  it.each([
    ['inside signed', text.replace('"version":1,', '"version":1,"version":2,'), 'signed.version'],
    ['deep inside signed', text.replace('{"version":1}}', '{"version":1,"version":1}}'), 'signed.meta.snapshot.json.version'],
    ['in a signature', text.replace('"sig":"cd"', '"sig":"cd","sig":"ef"'), 'signatures[0].sig'],
    ['at the top level', text.replace('{"signatures"', '{"x":1,"x":2,"signatures"'), 'x'],
    ['signed itself twice', text.replace('"signed":', `"signed":${JSON.stringify(base.signed)},"signed":`), 'signed'],
  ])('refuses a repeated name %s, naming its path', (_, s, path) => {
    expect(() => load(s)).toThrow(MetadataFormatError);
    expect(() => load(s)).toThrow(`${path}: member name appears more than once`);
  });

  it('refuses a lone surrogate in signed (it cannot have been signed) with a CanonicalJSONError naming the role and field', () => {
    const s = text.replace('"spec_version":"1.0.31"', '"spec_version":"1.0.31","x-note":"\\ud800"');
    const e = (() => {
      try {
        Metadata.fromBytesForVerification(Buffer.from(s), 'timestamp', 'timestamp');
      } catch (err) {
        return err;
      }
      return undefined;
    })();
    expect(e).toBeInstanceOf(CanonicalJSONError);
    expect((e as CanonicalJSONError).role).toBe('timestamp');
    expect((e as Error).message).toBe('role "timestamp": canonical JSON: signed.x-note: string contains a lone surrogate');
  });

  it('counts each member once when keys must be re-sorted by code point (no false repeated name)', () => {
    const signed = { ...base.signed, '\uE000': { a: 1, b: [{ c: 2 }] }, '\u{1F600}': { d: 3 } };
    const { signedBytes } = load(JSON.stringify({ ...base, signed }));
    expect(Buffer.from(signedBytes).toString()).toContain('"\uE000":{"a":1,"b":[{"c":2}]},"\u{1F600}":{"d":3}');
  });

  it('reports a signed part that is not an object as a format error', () => {
    expect(() => load('{"signatures":[],"signed":[]}')).toThrow(MetadataFormatError);
    expect(() => load('{"signatures":[]}')).toThrow(MetadataFormatError);
  });
});
