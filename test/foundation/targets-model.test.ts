import { describe, expect, it } from 'vitest';
import { MetadataFormatError } from '../../src/errors.js';
import { Metadata, TargetFile, Targets } from '../../src/models/index.js';

// Targets.fromJSON checks every entry but builds TargetFile objects only when asked (a client
// looks up a few paths of a role with 100,000): what it returns must not depend on that.

const H1 = 'aa'.repeat(32);
const H2 = 'bb'.repeat(32);

function signedWith(targets: Record<string, unknown>): Record<string, unknown> {
  return { _type: 'targets', spec_version: '1.0.31', version: 3, expires: '2030-01-01T00:00:00Z', targets };
}

const ENTRIES = {
  'z/last.txt': { length: 1, hashes: { sha256: H1 } },
  'a/custom.txt': { length: 2, hashes: { sha256: H2 }, custom: { note: 'kept' } },
  'm/two-hashes.txt': { hashes: { sha512: H1 + H2, sha256: H1 }, length: 3 },
  '10': { length: 4, hashes: { sha256: H2 } },
};

describe('Targets read from JSON', () => {
  it('finds every entry with getTarget, as the built map holds it, in file order', () => {
    const t = Targets.fromJSON(structuredClone(signedWith(ENTRIES)));
    const looked = Object.keys(ENTRIES).map((p) => t.getTarget(p));
    expect(looked.map((f) => f?.path)).toEqual(Object.keys(ENTRIES));
    expect(t.getTarget('a/custom.txt')!.custom).toEqual({ note: 'kept' });
    expect(t.getTarget('m/two-hashes.txt')!.hashes).toEqual({ sha512: H1 + H2, sha256: H1 });
    expect(t.getTarget('z/last.txt')).toBeInstanceOf(TargetFile);

    const map = t.targets;
    expect([...map.keys()]).toEqual(Object.keys(ENTRIES)); // same order as Object.keys of the file's object
    for (const [path, file] of map) expect(file.toJSON()).toEqual(looked.find((f) => f!.path === path)!.toJSON());
    expect(t.getTarget('a/custom.txt')).toBe(map.get('a/custom.txt')); // once built, the map answers
  });

  it('finds nothing for absent paths, including names Object.prototype has', () => {
    const t = Targets.fromJSON(structuredClone(signedWith(ENTRIES)));
    for (const p of ['absent', 'toString', 'constructor', '__proto__', 'hasOwnProperty', '']) expect(t.getTarget(p)).toBeUndefined();
    expect(t.targets.size).toBe(4);
  });

  it('lists a target literally named __proto__', () => {
    const value = JSON.parse(JSON.stringify(signedWith({}))) as Record<string, unknown>;
    value.targets = JSON.parse(`{"__proto__": {"length": 5, "hashes": {"sha256": "${H1}"}}}`);
    const t = Targets.fromJSON(value);
    expect(t.getTarget('__proto__')?.length).toBe(5);
    expect([...t.targets.keys()]).toEqual(['__proto__']);
  });

  it('ignores enumerable members of a polluted Object.prototype', () => {
    const proto = Object.prototype as Record<string, unknown>;
    proto.polluted = { length: 1, hashes: { sha256: H1 } };
    try {
      const t = Targets.fromJSON(structuredClone(signedWith(ENTRIES)));
      expect(t.getTarget('polluted')).toBeUndefined();
      expect(t.targets.has('polluted')).toBe(false);
    } finally {
      delete proto.polluted;
    }
  });

  it('refuses a bad entry while reading, naming it, whatever its shape', () => {
    const bad: [unknown, string][] = [
      [{ length: -1, hashes: { sha256: H1 } }, 'signed.targets.bad.length'],
      [{ length: 1.5, hashes: { sha256: H1 } }, 'signed.targets.bad.length'],
      [{ length: 1, hashes: { sha256: 'not hex' } }, 'signed.targets.bad.hashes.sha256'],
      [{ length: 1, hashes: {} }, 'signed.targets.bad.hashes'],
      [{ length: 1 }, 'signed.targets.bad.hashes'],
      [{ length: 1, hashes: { sha256: H1 }, custom: 1, extra: { x: 1 } }, ''],
      ['a string', 'signed.targets.bad'],
      [null, 'signed.targets.bad'],
    ];
    for (const [entry, field] of bad) {
      const value = structuredClone(signedWith({ ...ENTRIES, bad: entry }));
      if (field === '') {
        expect(() => Targets.fromJSON(value)).not.toThrow(); // unknown members are kept, not refused
        continue;
      }
      let error: unknown;
      try {
        Targets.fromJSON(value);
      } catch (e) {
        error = e;
      }
      expect(error, JSON.stringify(entry)).toBeInstanceOf(MetadataFormatError);
      expect((error as MetadataFormatError).field).toBe(field);
    }
  });

  it('writes back what it read, built or not', () => {
    const value = signedWith(ENTRIES);
    const lazy = Targets.fromJSON(structuredClone(value));
    const built = Targets.fromJSON(structuredClone(value));
    void built.targets;
    expect(lazy.toJSON()).toEqual(value);
    expect(built.toJSON()).toEqual(value);
    const md = new Metadata(Targets.fromJSON(structuredClone(value)));
    expect(Buffer.from(md.signedBytes())).toEqual(Buffer.from(new Metadata(built).signedBytes()));
  });

  it('answers from the new map once `targets` is replaced', () => {
    const t = Targets.fromJSON(structuredClone(signedWith(ENTRIES)));
    const file = new TargetFile('only.txt', 9, { sha256: H1 });
    t.targets = new Map([['only.txt', file]]);
    expect(t.getTarget('only.txt')).toBe(file);
    expect(t.getTarget('z/last.txt')).toBeUndefined();
    t.targets.set('added.txt', file);
    expect(t.getTarget('added.txt')).toBe(file);
  });
});
