import { afterEach, describe, expect, it, vi } from 'vitest';
import { canonicalBytes, Delegations, Key, Metadata, Role, Signature, TargetFile, Targets } from '../../src/index.js';
import { parseStrictJSON } from '../../src/crypto/json.js';
import { TargetsIndex } from '../../src/models/targets-index.js';
import { rng, type Rng } from './helpers.js';
import { byteMutation, jsonMutation, layoutMutation } from './mutations.js';

// A canonical targets role is read by the client with its entries indexed in place instead of
// parsed (targets-index.ts). Whatever the bytes, that must conclude exactly what the general way
// concludes: the same model, the same signed bytes, the same entries, or a refusal.

const KEY = Key.fromPublicJSON({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: 'ab'.repeat(32) } });

function randomPath(r: Rng, i: number): string {
  const parts = ['pkg', 'a', 'Z', 'v1.0', '0', '123', 'dir/sub', ' ', '~x', 'é', '"q"', 'b\\s', '\u007f', '\u{1F600}', 'ä/ö'];
  let p = '';
  for (let n = 1 + r.int(3); n > 0; n--) p += r.pick(parts.slice(0, r.int(10) === 0 ? parts.length : 9)) + (n > 1 ? '/' : '');
  return `${p}-${i}`;
}

function randomHex(r: Rng, n: number): string {
  const digits = r.int(6) === 0 ? '0123456789abcdefABCDEF' : '0123456789abcdef';
  return Array.from({ length: n }, () => r.pick([...digits])).join('');
}

function randomTarget(r: Rng, path: string): TargetFile {
  const hashes: Record<string, string> = {};
  for (let n = 1 + r.int(r.int(4) === 0 ? 3 : 1); n > 0; n--) hashes[r.pick(['sha256', 'sha512', 'md5', 'SHA256', 'blake2b'])] = randomHex(r, r.pick([64, 128, 2, 1]));
  const length = r.pick([0, 1, 4096, 1_000_000, 999_999_999_999_999, 9_007_199_254_740_991, 1_234_567_890_123_456]);
  const extra = r.int(5) === 0 ? { custom: r.pick<unknown>([{ version: '1.2.3' }, { a: [1, { b: 'c' }], z: null }, 'x', 7, { '"': '\\' }]) } : r.int(20) === 0 ? { 'x-field': true } : {};
  return new TargetFile(path, length, hashes, extra as Record<string, never>);
}

function randomRole(r: Rng): Buffer {
  const targets = new Map<string, TargetFile>();
  const count = r.pick([0, 1, 2, 5, 40]);
  for (let i = 0; i < count; i++) {
    const path = randomPath(r, i);
    targets.set(path, randomTarget(r, path));
  }
  const delegations =
    r.int(3) === 0
      ? new Delegations(new Map([[KEY.keyid, KEY]]), new Map([['d', new Role('d', [KEY.keyid], 1, { paths: ['pkg/*'], terminating: false })]]))
      : undefined;
  const signed = new Targets({ version: 1 + r.int(5), expires: new Date('2031-01-01T00:00:00Z'), targets, delegations });
  const md = new Metadata(signed);
  md.signatures.set(KEY.keyid, new Signature(KEY.keyid, 'cd'.repeat(64)));
  return Buffer.from(md.toBytes());
}

type Outcome = { ok: true; model: unknown; signedBytes: string; entries: [string, unknown][] } | { ok: false; error: unknown };

/** Every entry, looked up by path; walking them (files(), as publish does) must find the same. */
function entriesOf(t: Targets): [string, unknown][] {
  const looked: [string, unknown][] = [...t.paths()].sort().map((p) => [p, t.getTarget(p)!.toJSON()]);
  expect(byPath([...t.files()].map((f) => [f.path, f.toJSON()]))).toEqual(looked);
  return looked;
}

function byPath(entries: [string, unknown][]): [string, unknown][] {
  return entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function general(bytes: Buffer): Outcome {
  let md: Metadata<Targets>;
  let signedBytes: string;
  try {
    md = Metadata.fromBytes(bytes, 'targets');
    // What cannot be encoded cannot have been signed: the client refuses it.
    signedBytes = Buffer.from(canonicalBytes((parseStrictJSON(bytes) as { signed: unknown }).signed)).toString('latin1');
  } catch (error) {
    return { ok: false, error };
  }
  return { ok: true, model: md.toJSON(), signedBytes, entries: entriesOf(md.signed) };
}

/** What the client reads; entries are looked up outside the try: a lookup must never fail. */
function forVerification(bytes: Buffer): Outcome {
  let read: { metadata: Metadata<Targets>; signedBytes: Uint8Array };
  try {
    read = Metadata.fromBytesForVerification(bytes, 'targets');
  } catch (error) {
    return { ok: false, error };
  }
  return { ok: true, model: read.metadata.toJSON(), signedBytes: Buffer.from(read.signedBytes).toString('latin1'), entries: entriesOf(read.metadata.signed) };
}

describe('reading a canonical targets role with its entries indexed in place', () => {
  afterEach(() => vi.restoreAllMocks());

  it('concludes what the general way concludes, for generated roles and 2,500 mutations of them', () => {
    const indexOf = vi.spyOn(TargetsIndex, 'of');
    const r = rng(20261130);
    let indexed = 0;
    let accepted = 0;
    let refused = 0;
    for (let n = 0; n < 3_000; n++) {
      const original = randomRole(r);
      const [what, bytes] = n % 6 === 0 ? ['as written', original] : r.pick([byteMutation, jsonMutation, layoutMutation])(r, original);
      const calls = indexOf.mock.results.length;
      const g = general(bytes);
      const v = forVerification(bytes);
      if (v.ok && indexOf.mock.results.slice(calls).some((res) => res.type === 'return' && res.value !== undefined)) indexed++;
      if (g.ok) {
        accepted++;
        expect(v, what).toEqual(g);
        // What publish reads of a file it knows is valid: the same files, every time it walks them.
        const listed = Metadata.listedTargetFiles(bytes, 'targets');
        for (let walk = 0; walk < 2; walk++) expect(byPath([...listed].map((f) => [f.path, f.toJSON()])), what).toEqual(g.entries);
      } else {
        refused++;
        expect(v.ok, `${what}: ${String(g.error)}`).toBe(false);
      }
    }
    // Many roles must be accepted the indexed way, and many refused.
    expect(indexed).toBeGreaterThan(500);
    expect(accepted).toBeGreaterThan(800);
    expect(refused).toBeGreaterThan(1_500);
  }, 120_000);

  it('finds every listed path and no other, in a role of 20,000 targets', () => {
    const targets = new Map<string, TargetFile>();
    for (let i = 0; i < 20_000; i++) {
      const path = `packages/pkg-${i % 97}/${i}/artifact-${i}.tar.gz`;
      targets.set(path, new TargetFile(path, i, { sha256: (i % 256).toString(16).padStart(2, '0').repeat(32) }));
    }
    const md = new Metadata(new Targets({ version: 1, expires: new Date('2031-01-01T00:00:00Z'), targets }));
    const indexOf = vi.spyOn(TargetsIndex, 'of');
    const { metadata } = Metadata.fromBytesForVerification(md.toBytes(), 'targets');
    expect(indexOf.mock.results[0]?.value).toBeDefined();
    for (const [path, file] of targets) expect(metadata.signed.getTarget(path)?.toJSON()).toEqual(file.toJSON());
    for (const absent of ['', 'packages', 'packages/pkg-0/0/artifact-0.tar.g', 'packages/pkg-0/0/artifact-0.tar.gz ', 'zzz'])
      expect(metadata.signed.getTarget(absent)).toBeUndefined();
    expect([...metadata.signed.paths()]).toEqual([...targets.keys()].sort());
    expect([...metadata.signed.files()].map((f) => f.toJSON())).toEqual([...targets.keys()].sort().map((p) => targets.get(p)!.toJSON()));
    expect(metadata.signed.targets.size).toBe(20_000);
  });

  it('refuses what the general way refuses and reads odd but valid entries alike', () => {
    const a = '"a":{"hashes":{"sha256":"00"},"length":1}';
    const b = '"b":{"hashes":{"sha256":"00"},"length":1}';
    const wrap = (t: string) => Buffer.from(`{"signatures":[],"signed":{"_type":"targets","expires":"2031-01-01T00:00:00Z","spec_version":"1.0.31","targets":{${t}},"version":1}}`);
    expect(forVerification(wrap(`${a},${b}`)).ok).toBe(true);
    const bad = [
      `${a},${a}`,
      a.replace('"length":1', '"length":1.0'),
      a.replace('"length":1', '"length":01'),
      a.replace('"length":1', '"length":-1'),
      a.replace('"length":1', '"length":9007199254740992'),
      a.replace('"length":1', '"length":"1"'),
      a.replace('"length":1', '"length":'),
      a.replace(',"length":1', ''),
      a.replace('"00"', '"0g"'),
      a.replace('"00"', '""'),
      a.replace('"00"', '0'),
      a.replace('{"sha256":"00"}', '{}'),
      a.replace('"sha256":"00"', '"sha256":"00","sha256":"01"'),
      '"a":1',
      '"a":{"custom":{"x":1,"x":2},"hashes":{"sha256":"00"},"length":1}',
      '"a\u0000b":{"hashes":{"sha256":"00"},"length":1}', // a raw control character
      `${a},`,
      `${a}}`,
    ];
    for (const t of bad) {
      expect(general(wrap(t)).ok, t).toBe(false);
      expect(forVerification(wrap(t)).ok, t).toBe(false);
    }
    const odd = [
      `${b},${a}`, // unsorted: valid JSON, signed over its canonical form
      '"a\\u0062":{"hashes":{"sha256":"00"},"length":1}',
      '"a\\"b":{"hashes":{"sha256":"00"},"length":1}',
      a.replace('"length":1', '"length":123456789012345'),
      a.replace('"length":1', '"length":1234567890123456'),
      a.replace('"00"', '"AbCdEf"'),
      a.replace('{"sha256":"00"}', '{"md5":"01","sha256":"00"}'),
      a.replace('{"sha256":"00"}', '{"sha256":"00","md5":"01"}'),
      // Read in place only when the SHA-256 is the one hash: 64 digits followed by another, or a
      // shorter one whose next hash ends exactly where a lone 64-digit one would.
      a.replace('{"sha256":"00"}', `{"sha256":"${'ab'.repeat(32)}","sha512":"01"}`),
      a.replace('{"sha256":"00"}', `{"sha256":"00","sha257":"${'c'.repeat(50)}"}`),
      '"a":{"custom":{"z":[1,{"y":null}]},"hashes":{"sha256":"00"},"length":1}',
      '"a":{"hashes":{"sha256":"00"},"length":1,"x-unknown":true}',
      '"0":{"hashes":{"sha256":"00"},"length":1},"10":{"hashes":{"sha256":"00"},"length":1},"9":{"hashes":{"sha256":"00"},"length":1}',
    ];
    for (const t of odd) {
      const g = general(wrap(t));
      expect(g.ok, t).toBe(true);
      expect(forVerification(wrap(t)), t).toEqual(g);
    }
    const unsorted = forVerification(wrap(`${b},${a}`));
    expect(unsorted.ok && unsorted.signedBytes).toContain(`{${a},${b}}`);
  });
});
