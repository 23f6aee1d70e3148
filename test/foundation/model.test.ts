import { createHash, generateKeyPairSync, sign as nodeSign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { MetadataFormatError, TufError, UnsignedMetadataError, UsageError } from '../../src/errors.js';
import { Key, matchesPathPattern, Metadata, Root, Signature, SuccinctRoles, Targets, type JSONObject } from '../../src/models/index.js';
import { clone, DELEGATIONS, memberRange, metadataVectors, rng, VECTOR_DIRS, VECTORS } from './helpers.js';

const read = (name: string): Buffer => readFileSync(join(VECTORS, name));
const parse = (name: string): JSONObject => JSON.parse(read(name).toString('utf8')) as JSONObject;
const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const { PT, GEN, SIG } = VECTOR_DIRS;

/**
 * Sigstore's roots 1-11 predate today's format (PROVENANCE.md). What tufkit makes of each, checked
 * file by file. `format`: MetadataFormatError while parsing. `unsigned`: parses, but its keys are
 * hex-encoded EC points under the old keytype name, which no scheme implementation reads, so it
 * cannot reach its threshold (neither over itself nor over root 5). `ok`: parses, verifies against
 * itself and against its predecessor (5 onwards use PEM keys), as python-tuf also accepts them.
 */
const EARLY_ROOTS: Record<number, { outcome: 'format' | 'unsigned' | 'ok'; field?: string }> = {
  1: { outcome: 'format', field: 'signed.expires' }, // 2021-12-18T13:28:12.99008-06:00
  2: { outcome: 'format', field: 'signed.expires' }, // 2022-05-11T19:09:02.663975009Z
  3: { outcome: 'format', field: 'signed.expires' }, // 2022-11-10T21:58:09.733402317Z
  4: { outcome: 'unsigned' },
  5: { outcome: 'ok' },
  6: { outcome: 'ok' },
  7: { outcome: 'ok' },
  8: { outcome: 'ok' },
  9: { outcome: 'ok' },
  10: { outcome: 'ok' },
  11: { outcome: 'ok' },
};

function earlyRoot(name: string): number | undefined {
  const m = /^sigstore-root-signing\/metadata\/(\d+)\.root\.json$/.exec(name);
  return m && Number(m[1]) <= 11 ? Number(m[1]) : undefined;
}

const parsedCache = new Map<string, Metadata>();
function load(name: string): Metadata {
  let md = parsedCache.get(name);
  if (!md) {
    md = Metadata.fromBytes(read(name));
    parsedCache.set(name, md);
  }
  return md;
}

function formatError(fn: () => unknown): MetadataFormatError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof MetadataFormatError)) throw e;
    return e;
  }
  throw new Error('expected a MetadataFormatError, nothing was thrown');
}

describe('vectors: every metadata file parses, verifies and round-trips', () => {
  const all = metadataVectors().map((v) => v.name);

  it('covers every metadata file of both vector sets', () => {
    const covered = new Set([...DELEGATIONS.map(([f]) => f), ...all.filter((n) => earlyRoot(n) !== undefined)]);
    expect(all.filter((n) => !covered.has(n))).toEqual([]);
    expect(all.length).toBeGreaterThanOrEqual(38);
  });

  for (const name of all.filter((n) => earlyRoot(n) === undefined)) {
    it(`round-trips ${name} byte for byte`, () => {
      const bytes = read(name);
      const json = JSON.parse(bytes.toString('utf8')) as JSONObject;
      const md = Metadata.fromBytes(bytes);
      expect(hex(canonicalBytes(md.signed.toJSON()))).toBe(hex(canonicalBytes(json.signed)));
      expect(hex(md.signedBytes())).toBe(hex(canonicalBytes(json.signed)));
      // The whole file too: signatures (including empty `sig` slots) and any top-level fields.
      expect(hex(canonicalBytes(md.toJSON()))).toBe(hex(canonicalBytes(json)));
    });

    it(`writes ${name} back (toBytes) as a file that reads back (fromBytes) to the same metadata`, () => {
      const md = Metadata.fromBytes(read(name));
      const again = Metadata.fromBytes(md.toBytes());
      expect(hex(again.signedBytes())).toBe(hex(md.signedBytes()));
      expect(hex(canonicalBytes(again.toJSON()))).toBe(hex(canonicalBytes(md.toJSON())));
    });
  }

  for (const [file, delegator, role] of DELEGATIONS) {
    it(`verifies ${file} as "${role}" against ${delegator === file ? 'itself' : delegator}`, () => {
      const md = load(file);
      const by = load(delegator);
      expect(() => by.verifyDelegate(role, md)).not.toThrow();
      const result = by.verificationResult(role, md);
      expect(result.verified).toBe(true);
      expect(result.signed.size).toBeGreaterThanOrEqual(result.threshold);
    });
  }

  it('does not verify a role against the wrong delegator or under the wrong name', () => {
    expect(() => load(`${PT}/root.json`).verifyDelegate('timestamp', load(`${PT}/snapshot.json`))).toThrow(UnsignedMetadataError);
    expect(() => load(`${SIG}/15.root.json`).verifyDelegate('root', load(`${SIG}/timestamp.json`))).toThrow(UnsignedMetadataError);
    expect(() => load(`${SIG}/15.root.json`).verifyDelegate('targets', load(`${SIG}/8.registry.npmjs.org.json`))).toThrow(UnsignedMetadataError);
    expect(() => load(`${PT}/targets.json`).verifyDelegate('role2', load(`${PT}/role2.json`))).toThrow(UsageError);
  });

  for (const [n, expected] of Object.entries(EARLY_ROOTS)) {
    it(`Sigstore's early root ${n} (old format): ${expected.outcome}`, () => {
      const bytes = read(`${SIG}/${n}.root.json`);
      if (expected.outcome === 'format') {
        const e = formatError(() => Metadata.fromBytes(bytes, 'root'));
        expect(e.role).toBe('root');
        expect(e.field).toBe(expected.field);
        return;
      }
      const md = Metadata.fromBytes(bytes, 'root');
      expect(hex(md.signedBytes())).toBe(hex(canonicalBytes((JSON.parse(bytes.toString('utf8')) as JSONObject).signed)));
      const next = load(`${SIG}/${Number(n) + 1}.root.json`);
      if (expected.outcome === 'unsigned') {
        expect(unsignedError(() => md.verifyDelegate('root', md)).message).toMatch(/\b0 valid signature.*\b3 needed/);
        expect(() => md.verifyDelegate('root', next)).toThrow(UnsignedMetadataError);
      } else {
        md.verifyDelegate('root', md);
        md.verifyDelegate('root', next);
      }
    });
  }

  it("reports the one key of Sigstore's root 11 whose keyid is not the hash of the key (and no other)", () => {
    const mismatched = (name: string): string[] =>
      [...(load(name).signed as Root).keys.values()].filter((k) => !k.keyidMatches()).map((k) => k.keyid);
    expect(mismatched(`${SIG}/11.root.json`)).toEqual([expect.stringMatching(/^7247f0db/)]);
    for (const n of [5, 10, 12, 13, 14, 15]) expect(mismatched(`${SIG}/${n}.root.json`)).toEqual([]);
  });
});

/** Flips one character of a value into another of the same class, so the JSON stays well-formed. */
function flip(byte: number, r: ReturnType<typeof rng>): number {
  const classes = ['0123456789', 'abcdefghijklmnopqrstuvwxyz', 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'];
  const cls = classes.find((c) => c.includes(String.fromCharCode(byte)));
  if (!cls) return byte ^ 0x01;
  let out = byte;
  while (out === byte) out = cls.charCodeAt(r.int(cls.length));
  return out;
}

/**
 * A mutated copy of `file` must never verify: either it does not parse (a TufError), or its
 * delegator (the mutated file itself, for a root) rejects it.
 */
function expectRejected(mutated: Buffer, original: JSONObject, file: string, delegator: string, role: string): 'parse' | 'verify' {
  let md: Metadata;
  try {
    md = Metadata.fromBytes(mutated);
  } catch (e) {
    expect(e).toBeInstanceOf(TufError);
    return 'parse';
  }
  // The change really is in the signed part (a test of the test).
  expect(hex(canonicalBytes((JSON.parse(mutated.toString('utf8')) as JSONObject).signed))).not.toBe(hex(canonicalBytes(original.signed)));
  const by = delegator === file ? md : load(delegator);
  expect(() => by.verifyDelegate(role, md)).toThrow(UnsignedMetadataError);
  return 'verify';
}

describe('a one-byte change in a signed part is always detected', () => {
  const unique = new Map(DELEGATIONS.map(([f, d, r]) => [f, [d, r] as const]));
  for (const [file, [delegator, role]] of unique) {
    it(`${file}: 40 seeded character flips inside signed values`, () => {
      const bytes = read(file);
      const original = JSON.parse(bytes.toString('utf8')) as JSONObject;
      const [start, end] = memberRange(bytes, 'signed');
      const r = rng(end * 31 + bytes.length);
      const outcomes = { parse: 0, verify: 0 };
      for (let n = 0; n < 40; n++) {
        let p: number;
        do p = start + r.int(end - start);
        while (!/[0-9A-Za-z]/.test(String.fromCharCode(bytes[p]!)));
        const mutated = Buffer.from(bytes);
        mutated[p] = flip(bytes[p]!, r);
        outcomes[expectRejected(mutated, original, file, delegator, role)]++;
      }
      // Most flips leave valid metadata whose signatures no longer match.
      expect(outcomes.verify).toBeGreaterThan(0);
    });
  }

  for (const [file, delegator, role] of [
    [`${PT}/timestamp.json`, `${PT}/root.json`, 'timestamp'],
    [`${SIG}/timestamp.json`, `${SIG}/15.root.json`, 'timestamp'],
  ] as const) {
    it(`${file}: every byte of the signed part, flipped`, () => {
      const bytes = read(file);
      const original = JSON.parse(bytes.toString('utf8')) as JSONObject;
      const [start, end] = memberRange(bytes, 'signed');
      for (let p = start; p < end; p++) {
        const mutated = Buffer.from(bytes);
        mutated[p] = bytes[p]! ^ 0x01;
        expectRejected(mutated, original, file, delegator, role);
      }
    });
  }
});

// ---- unknown fields --------------------------------------------------------------------------

describe('unknown fields survive a parse -> write round trip', () => {
  const X = { 'x-unknown': { nested: [1, 'two', null, true], '\u{1f600}': 'é' } };
  const roundTrip = (json: JSONObject): void => {
    const md = Metadata.fromBytes(Buffer.from(JSON.stringify(json), 'utf8'));
    expect(Buffer.from(canonicalBytes(md.toJSON())).toString('utf8')).toBe(Buffer.from(canonicalBytes(json)).toString('utf8'));
  };

  it('in root: signed, keys, keyval, roles, signatures and the top level', () => {
    const json = parse(`${PT}/root.json`) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    Object.assign(json, X);
    Object.assign(json.signed, X);
    Object.assign(json.signatures[0], X);
    for (const key of Object.values(json.signed.keys) as JSONObject[]) {
      Object.assign(key, X);
      Object.assign(key.keyval as JSONObject, X);
    }
    for (const role of Object.values(json.signed.roles) as JSONObject[]) Object.assign(role, X);
    roundTrip(json);
  });

  it("in targets: targets' custom and other fields, delegations, delegated roles, their keys", () => {
    const json = parse(`${PT}/role1.json`) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    Object.assign(json.signed, X);
    for (const t of Object.values(json.signed.targets) as JSONObject[]) Object.assign(t, X, { custom: { deep: X } });
    Object.assign(json.signed.delegations, X);
    Object.assign(json.signed.delegations.roles[0], X);
    for (const key of Object.values(json.signed.delegations.keys) as JSONObject[]) Object.assign(key, X);
    roundTrip(json);
    const md = Metadata.fromJSON(json, 'targets');
    expect([...md.signed.targets.values()][0]!.custom).toEqual({ deep: X });
  });

  it('in succinct_roles', () => {
    const json = parse(`${PT}/role2.json`) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    json.signed.delegations = { keys: {}, succinct_roles: { keyids: [], threshold: 1, bit_length: 4, name_prefix: 'bins', ...X }, ...X };
    roundTrip(json);
  });

  it('in snapshot and timestamp meta entries', () => {
    const snapshot = parse(`${PT}/snapshot.json`) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    for (const m of Object.values(snapshot.signed.meta) as JSONObject[]) Object.assign(m, X);
    roundTrip(snapshot);
    const timestamp = parse(`${PT}/timestamp.json`) as any; // eslint-disable-line @typescript-eslint/no-explicit-any
    Object.assign(timestamp.signed.meta['snapshot.json'], X);
    Object.assign(timestamp.signed, X);
    roundTrip(timestamp);
  });

  it("Sigstore's own custom fields (x-tuf-on-ci-*) are kept and signed", () => {
    const md = load(`${SIG}/15.root.json`);
    expect(Object.keys(md.signed.unrecognized)).toContain('x-tuf-on-ci-expiry-period');
    expect(Buffer.from(md.signedBytes()).toString('utf8')).toContain('x-tuf-on-ci-keyowner');
  });
});

// ---- validation ------------------------------------------------------------------------------

type Json = any; // eslint-disable-line @typescript-eslint/no-explicit-any

/** [description, file, role name, mutation, expected field path, expected reason]. */
const INVALID: [string, string, string, (j: Json) => void, string, RegExp][] = [
  ['signed is not an object', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed = []), 'signed', /expected an object/],
  ['signatures missing', `${GEN}/root_with_ed25519.json`, 'root', (j) => delete j.signatures, 'signatures', /missing/],
  ['signatures not an array', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signatures = {}), 'signatures', /expected an array/],
  ['signature keyid not a string', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signatures[0].keyid = 7), 'signatures[0].keyid', /expected a string/],
  ['signature sig missing', `${GEN}/root_with_ed25519.json`, 'root', (j) => delete j.signatures[0].sig, 'signatures[0].sig', /missing/],
  [
    'two signatures by one keyid',
    `${GEN}/root_with_ed25519.json`,
    'root',
    (j) => j.signatures.push({ ...j.signatures[0], sig: '00' }),
    'signatures[1].keyid',
    /more than once/,
  ],
  ['unknown _type', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed._type = 'mirrors'), 'signed._type', /expected/],
  ['missing _type', `${GEN}/root_with_ed25519.json`, 'root', (j) => delete j.signed._type, 'signed._type', /expected/],
  ['version a string', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.version = '1'), 'signed.version', /integer/],
  ['version 0', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.version = 0), 'signed.version', /at least 1/],
  ['version negative', `${GEN}/timestamp_with_ed25519.json`, 'timestamp', (j) => (j.signed.version = -3), 'signed.version', /at least 1/],
  ['version missing', `${GEN}/snapshot_with_ed25519.json`, 'snapshot', (j) => delete j.signed.version, 'signed.version', /missing/],
  ['expires missing', `${GEN}/root_with_ed25519.json`, 'root', (j) => delete j.signed.expires, 'signed.expires', /missing/],
  ['expires a number', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = 1893456000), 'signed.expires', /string/],
  ['expires with fractional seconds', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01T00:00:00.5Z'), 'signed.expires', /YYYY-MM-DDTHH:MM:SSZ/],
  ['expires on February 30th', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-02-30T00:00:00Z'), 'signed.expires', /YYYY/],
  ['expires at hour 24', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01T24:00:00Z'), 'signed.expires', /YYYY/],
  ['expires with an offset', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01T00:00:00+00:00'), 'signed.expires', /YYYY/],
  ['expires with a -06:00 offset', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01T00:00:00-06:00'), 'signed.expires', /YYYY/],
  ['expires without Z', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01T00:00:00'), 'signed.expires', /YYYY/],
  ['expires as a date only', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01'), 'signed.expires', /YYYY/],
  ['expires with a lowercase z', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.expires = '2030-01-01T00:00:00z'), 'signed.expires', /YYYY/],
  ['spec_version 2.0.0', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.spec_version = '2.0.0'), 'signed.spec_version', /major/],
  ['spec_version 0.9', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.spec_version = '0.9'), 'signed.spec_version', /major/],
  ['spec_version abc', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.spec_version = 'abc'), 'signed.spec_version', /MAJOR/],
  ['spec_version 1', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.spec_version = '1'), 'signed.spec_version', /MAJOR/],
  ['spec_version 1.0.0-rc1', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.spec_version = '1.0.0-rc1'), 'signed.spec_version', /MAJOR/],
  ['spec_version a number', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.spec_version = 1), 'signed.spec_version', /string/],
  ['keys not an object', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.keys = []), 'signed.keys', /expected an object/],
  [
    'key without keyval.public',
    `${GEN}/root_with_ed25519.json`,
    'root',
    (j) => delete (Object.values(j.signed.keys)[0] as Json).keyval.public,
    'signed.keys.<first>.keyval.public',
    /missing/,
  ],
  ['key scheme not a string', `${GEN}/root_with_ed25519.json`, 'root', (j) => ((Object.values(j.signed.keys)[0] as Json).scheme = null), 'signed.keys.<first>.scheme', /expected a string/],
  ['a top-level role missing', `${GEN}/root_with_ed25519.json`, 'root', (j) => delete j.signed.roles.snapshot, 'signed.roles', /exactly root, timestamp, snapshot and targets/],
  ['an extra role in root', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.roles.mirror = j.signed.roles.root), 'signed.roles', /exactly/],
  ['threshold 0', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.roles.timestamp.threshold = 0), 'signed.roles.timestamp.threshold', /at least 1/],
  ['threshold a string', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.roles.root.threshold = '1'), 'signed.roles.root.threshold', /integer/],
  ['keyids not a list', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.roles.root.keyids = 'abc'), 'signed.roles.root.keyids', /expected an array/],
  ['keyid listed twice in a role', `${GEN}/root_with_ed25519.json`, 'root', (j) => j.signed.roles.root.keyids.push(j.signed.roles.root.keyids[0]), 'signed.roles.root.keyids[1]', /more than once/],
  ['consistent_snapshot not a boolean', `${GEN}/root_with_ed25519.json`, 'root', (j) => (j.signed.consistent_snapshot = 'yes'), 'signed.consistent_snapshot', /true or false/],
  ['timestamp meta with two files', `${GEN}/timestamp_with_ed25519.json`, 'timestamp', (j) => (j.signed.meta['targets.json'] = { version: 1 }), 'signed.meta', /exactly one/],
  ['timestamp meta version 0', `${GEN}/timestamp_with_ed25519.json`, 'timestamp', (j) => (j.signed.meta['snapshot.json'].version = 0), 'signed.meta.snapshot.json.version', /at least 1/],
  ['snapshot meta length negative', `${PT}/snapshot.json`, 'snapshot', (j) => (j.signed.meta['role1.json'].length = -1), 'signed.meta.role1.json.length', /at least 0/],
  ['snapshot meta hashes empty', `${PT}/snapshot.json`, 'snapshot', (j) => (j.signed.meta['role1.json'].hashes = {}), 'signed.meta.role1.json.hashes', /at least one/],
  ['target length missing', `${PT}/targets.json`, 'targets', (j) => delete j.signed.targets['file1.txt'].length, 'signed.targets.file1.txt.length', /missing/],
  ['target hash not hex', `${PT}/targets.json`, 'targets', (j) => (j.signed.targets['file1.txt'].hashes.sha256 = 'xyz'), 'signed.targets.file1.txt.hashes.sha256', /hex/],
  ['targets not an object', `${PT}/targets.json`, 'targets', (j) => (j.signed.targets = null), 'signed.targets', /expected an object/],
  [
    'a delegation with both paths and path_hash_prefixes',
    `${PT}/targets.json`,
    'targets',
    (j) => (j.signed.delegations.roles[0].path_hash_prefixes = ['ab']),
    'signed.delegations.roles[0].paths',
    /both/,
  ],
  ['an empty role name', `${PT}/targets.json`, 'targets', (j) => (j.signed.delegations.roles[0].name = ''), 'signed.delegations.roles[0].name', /empty/],
  ['a role name not a string', `${PT}/targets.json`, 'targets', (j) => (j.signed.delegations.roles[0].name = 5), 'signed.delegations.roles[0].name', /string/],
  ['terminating missing', `${PT}/targets.json`, 'targets', (j) => delete j.signed.delegations.roles[0].terminating, 'signed.delegations.roles[0].terminating', /missing/],
  ['a delegated role threshold 0', `${PT}/targets.json`, 'targets', (j) => (j.signed.delegations.roles[0].threshold = 0), 'signed.delegations.roles[0].threshold', /at least 1/],
  ['a role delegated twice', `${PT}/targets.json`, 'targets', (j) => j.signed.delegations.roles.push(j.signed.delegations.roles[0]), 'signed.delegations.roles[1].name', /more than once/],
  [
    'both roles and succinct_roles',
    `${PT}/targets.json`,
    'targets',
    (j) => (j.signed.delegations.succinct_roles = { keyids: [], threshold: 1, bit_length: 4, name_prefix: 'bins' }),
    'signed.delegations.succinct_roles',
    /both/,
  ],
  ['neither roles nor succinct_roles', `${PT}/targets.json`, 'targets', (j) => delete j.signed.delegations.roles, 'signed.delegations.roles', /required/],
  ['delegation keys missing', `${PT}/targets.json`, 'targets', (j) => delete j.signed.delegations.keys, 'signed.delegations.keys', /missing/],
  [
    'succinct bit_length 0',
    `${PT}/role2.json`,
    'role2',
    (j) => (j.signed.delegations = { keys: {}, succinct_roles: { keyids: [], threshold: 1, bit_length: 0, name_prefix: 'b' } }),
    'signed.delegations.succinct_roles.bit_length',
    /at least 1/,
  ],
  [
    'succinct bit_length 33',
    `${PT}/role2.json`,
    'role2',
    (j) => (j.signed.delegations = { keys: {}, succinct_roles: { keyids: [], threshold: 1, bit_length: 33, name_prefix: 'b' } }),
    'signed.delegations.succinct_roles.bit_length',
    /at most 32/,
  ],
];

describe('validation: every violation is a MetadataFormatError naming the role and the field', () => {
  for (const [what, file, role, mutate, field, reason] of INVALID) {
    it(`${what} (${field})`, () => {
      const json = clone(parse(file)) as Json;
      mutate(json);
      const expectedField = field.replace('<first>', Object.keys((json.signed?.keys ?? {}) as JSONObject)[0] ?? '');
      // Through the bytes path (strict JSON first) and the object path.
      for (const e of [
        formatError(() => Metadata.fromBytes(Buffer.from(JSON.stringify(json), 'utf8'), undefined, role)),
        formatError(() => Metadata.fromJSON(json, undefined, role)),
      ]) {
        expect(e.role).toBe(role);
        expect(e.field).toBe(expectedField);
        expect(e.reason).toMatch(reason);
        expect(e.message).toContain(role);
        expect(e.message).toContain(expectedField);
      }
    });
  }

  it('names the role from _type when the caller gave no name, in signature errors too', () => {
    const json = clone(parse(`${GEN}/root_with_ed25519.json`)) as Json;
    json.signed.version = 0;
    expect(formatError(() => Metadata.fromJSON(json)).role).toBe('root');
    const dup = clone(parse(`${GEN}/root_with_ed25519.json`)) as Json;
    dup.signatures.push(dup.signatures[0]);
    expect(formatError(() => Metadata.fromJSON(dup)).role).toBe('root');
  });

  it('rejects a file of the wrong type when a type is required', () => {
    const e = formatError(() => Metadata.fromBytes(read(`${GEN}/timestamp_with_ed25519.json`), 'snapshot'));
    expect(e.field).toBe('signed._type');
    expect(e.role).toBe('snapshot');
  });

  it('accepts the spec versions real repositories write (1.0, 1.0.0, 1.0.31, 1.99.0)', () => {
    for (const v of ['1.0', '1.0.0', '1.0.31', '1.99.0']) {
      const json = clone(parse(`${GEN}/root_with_ed25519.json`)) as Json;
      json.signed.spec_version = v;
      expect(Metadata.fromJSON(json).signed.specVersion).toBe(v);
    }
  });

  it('accepts the last second of a leap day, and parses expires as UTC', () => {
    const json = clone(parse(`${GEN}/root_with_ed25519.json`)) as Json;
    json.signed.expires = '2028-02-29T23:59:59Z';
    expect(Metadata.fromJSON(json).signed.expires.toISOString()).toBe('2028-02-29T23:59:59.000Z');
  });

  it('rejects repeated member names and floats in the bytes, naming the role', () => {
    const text = read(`${PT}/timestamp.json`).toString('utf8');
    const dup = text.replace('"version": 1', '"version": 1, "version": 1');
    expect(dup).not.toBe(text);
    const e1 = formatError(() => Metadata.fromBytes(Buffer.from(dup), 'timestamp'));
    // The first "version" of the file is the snapshot's, in signed.meta.
    expect([e1.role, e1.field]).toEqual(['timestamp', 'signed.meta.snapshot.json.version']);
    const float = text.replace('"version": 1', '"version": 1.0');
    const e2 = formatError(() => Metadata.fromBytes(Buffer.from(float), 'timestamp'));
    expect([e2.role, e2.field]).toEqual(['timestamp', 'signed.meta.snapshot.json.version']);
  });
});

// ---- threshold verification ------------------------------------------------------------------

interface TestKey {
  key: Key;
  priv: KeyObject;
}

function ed25519Key(keyid?: string, scheme = 'ed25519'): TestKey {
  const { publicKey, privateKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const json = { keytype: 'ed25519', scheme, keyval: { public: raw.toString('hex') } };
  const id = keyid ?? createHash('sha256').update(canonicalBytes(json)).digest('hex');
  return { key: new Key(id, 'ed25519', scheme, { public: raw.toString('hex') }), priv: privateKey };
}

function sigBy(md: Metadata, k: TestKey, keyid = k.key.keyid): Signature {
  return new Signature(keyid, nodeSign(null, md.signedBytes(), k.priv).toString('hex'));
}

/** A root whose "root" role is the given keys with `threshold`, and the metadata it signs. */
function rootWith(keys: TestKey[], threshold: number): Metadata<Root> {
  const root = new Root({ expires: new Date('2030-01-01T00:00:00Z') });
  for (const k of keys) root.addKey(k.key, 'root');
  root.getRole('root').threshold = threshold;
  return new Metadata(root);
}

function withSigs(md: Metadata<Root>, sigs: Signature[]): Metadata<Root> {
  return new Metadata(md.signed, new Map(sigs.map((s) => [s.keyid, s])));
}

function unsignedError(fn: () => unknown): UnsignedMetadataError {
  try {
    fn();
  } catch (e) {
    if (!(e instanceof UnsignedMetadataError)) throw e;
    return e;
  }
  throw new Error('expected an UnsignedMetadataError, the role verified');
}

describe('threshold verification', () => {
  const [a, b, c] = [ed25519Key(), ed25519Key(), ed25519Key()];
  const md = rootWith([a, b, c], 2);

  it('is met by a threshold of distinct authorised keys, and reports who signed', () => {
    const signed = withSigs(md, [sigBy(md, a), sigBy(md, c)]);
    signed.verifyDelegate('root', signed);
    const result = signed.verificationResult('root', signed);
    expect(result).toMatchObject({ role: 'root', threshold: 2, verified: true });
    expect([...result.signed].sort()).toEqual([a.key.keyid, c.key.keyid].sort());
    expect([...result.unsigned]).toEqual([b.key.keyid]);
  });

  it('says how many valid signatures of how many needed, and for which role', () => {
    const e = unsignedError(() => md.verifyDelegate('root', withSigs(md, [sigBy(md, a)]), undefined, '2.root.json'));
    expect(e.message).toMatch(/role "root"/);
    expect(e.message).toContain('2.root.json');
    expect(e.message).toMatch(/\b1 valid signature.*\b2 needed/);
    expect(unsignedError(() => md.verifyDelegate('root', withSigs(md, []))).message).toMatch(/\b0 valid signature.*\b2 needed/);
  });

  it('does not count signatures by keys that are unknown or not authorised for the role', () => {
    const stranger = ed25519Key();
    const timestampKey = ed25519Key();
    md.signed.addKey(timestampKey.key, 'timestamp');
    try {
      const signed = withSigs(md, [sigBy(md, a), sigBy(md, stranger), sigBy(md, timestampKey)]);
      expect(unsignedError(() => md.verifyDelegate('root', signed)).message).toMatch(/\b1 valid signature/);
      expect(signed.verificationResult('root', signed).signed).toEqual(new Set([a.key.keyid]));
    } finally {
      md.signed.revokeKey(timestampKey.key.keyid, 'timestamp');
    }
  });

  it('does not count a signature filed under another authorised keyid', () => {
    const signed = withSigs(md, [sigBy(md, a), sigBy(md, a, b.key.keyid)]);
    expect(unsignedError(() => md.verifyDelegate('root', signed)).message).toMatch(/\b1 valid/);
  });

  it('does not count (or crash on) empty, malformed or garbage signatures', () => {
    for (const bad of ['', 'zz', 'abc', '0', '00', '30060201010201', 'ff'.repeat(64), 'GG'.repeat(64), ' '.repeat(128)]) {
      const signed = withSigs(md, [sigBy(md, a), new Signature(b.key.keyid, bad)]);
      const result = md.verificationResult('root', signed);
      expect(result.signed).toEqual(new Set([a.key.keyid]));
      expect(() => md.verifyDelegate('root', signed)).toThrow(UnsignedMetadataError);
    }
  });

  it('does not count a signature over other bytes', () => {
    const other = rootWith([a, b, c], 2);
    other.signed.version = 2;
    const signed = withSigs(md, [sigBy(md, a), sigBy(other, b)]);
    expect(() => md.verifyDelegate('root', signed)).toThrow(UnsignedMetadataError);
  });

  it('counts one key listed under two keyids once', () => {
    const alias = { key: new Key('alias-of-a', a.key.keytype, a.key.scheme, { ...a.key.keyval }), priv: a.priv };
    const dup = rootWith([a, alias, b], 2);
    const twice = withSigs(dup, [sigBy(dup, a), sigBy(dup, alias)]);
    expect(unsignedError(() => dup.verifyDelegate('root', twice)).message).toMatch(/\b1 valid signature/);
    const plusB = withSigs(dup, [sigBy(dup, a), sigBy(dup, alias), sigBy(dup, b)]);
    dup.verifyDelegate('root', plusB);
  });

  it('treats a key of an unsupported scheme or type as unusable, while the others still meet the threshold', () => {
    const odd = ed25519Key(undefined, 'ed25519-but-not-really');
    const weird = { key: new Key('weird', 'quantum', 'quantum-sig', { public: 'ab' }), priv: a.priv };
    const broken = { key: new Key('broken', 'ed25519', 'ed25519', { public: 'not hex at all' }), priv: a.priv };
    const mixed = rootWith([a, b, odd, weird, broken], 2);
    const sigs = [sigBy(mixed, odd), sigBy(mixed, weird), sigBy(mixed, broken)];
    // Only the unusable keys signed: not enough, and the error is about the threshold.
    expect(unsignedError(() => mixed.verifyDelegate('root', withSigs(mixed, [...sigs, sigBy(mixed, a)]))).message).toMatch(/\b1 valid/);
    // Two good keys alongside them meet the threshold.
    mixed.verifyDelegate('root', withSigs(mixed, [...sigs, sigBy(mixed, a), sigBy(mixed, b)]));
  });

  it('rejects a role that the delegator does not delegate with a UsageError', () => {
    expect(() => md.verifyDelegate('mirrors', md)).toThrow(UsageError);
  });
});

// ---- succinct hash bins (TAP 15) --------------------------------------------------------------

describe('succinct roles: bin names as python-tuf computes them', () => {
  // sha256 prefixes: "" e3b0c442, "a.txt" 18b7cb09, "foo/bar.tgz" c5620a75, "file1.txt" 55ae75d9.
  // The bin is the first bit_length bits; the suffix is ceil(bit_length / 4) lowercase hex digits.
  const cases: [number, string, string][] = [
    [8, '', 'bins-e3'],
    [1, '', 'bins-1'], // e3 = 1110 0011: first bit 1
    [4, '', 'bins-e'],
    [13, '', 'bins-1c76'], // 0xe3b0 >> 3
    [32, '', 'bins-e3b0c442'],
    [8, 'a.txt', 'bins-18'],
    [5, 'a.txt', 'bins-03'], // 0001 1000: first five bits 00011
    [10, 'a.txt', 'bins-062'], // 0x18b7 >> 6 = 0x62
    [3, 'foo/bar.tgz', 'bins-6'], // c5 = 110 00101
    [16, 'foo/bar.tgz', 'bins-c562'],
    [2, 'file1.txt', 'bins-1'], // 55 = 01 010101
    [8, 'file1.txt', 'bins-55'],
  ];
  for (const [bits, path, bin] of cases) {
    it(`bit_length ${bits}: "${path}" -> ${bin}`, () => {
      const roles = new SuccinctRoles([], 1, bits, 'bins');
      expect(roles.getRoleForTarget(path)).toBe(bin);
      expect(roles.isDelegatedRole(bin)).toBe(true);
    });
  }

  it('lists every bin in order', () => {
    expect([...new SuccinctRoles([], 1, 2, 'bins').getRoles()]).toEqual(['bins-0', 'bins-1', 'bins-2', 'bins-3']);
    const five = [...new SuccinctRoles([], 1, 5, 'p').getRoles()];
    expect(five.length).toBe(32);
    expect([five[0], five[15], five[16], five[31]]).toEqual(['p-00', 'p-0f', 'p-10', 'p-1f']);
  });

  it('knows which role names are its bins', () => {
    const roles = new SuccinctRoles([], 1, 5, 'bins');
    for (const name of ['bins-00', 'bins-1f']) expect(roles.isDelegatedRole(name)).toBe(true);
    for (const name of ['bins-20', 'bins-ff', 'bins-0', 'bins-000', 'bins-0g', 'bins-', 'bin-00', 'other-00', 'bins00', '-00']) {
      expect(roles.isDelegatedRole(name)).toBe(false);
    }
  });

  it('delegates through Targets: rolesForTarget, getRole, and verification of a bin', () => {
    const k = ed25519Key();
    const json = clone(parse(`${PT}/role2.json`)) as Json;
    json.signed.delegations = {
      keys: { [k.key.keyid]: k.key.toJSON() },
      succinct_roles: { keyids: [k.key.keyid], threshold: 1, bit_length: 8, name_prefix: 'bins' },
    };
    const delegator = Metadata.fromJSON(json, 'targets');
    const delegations = delegator.signed.delegations!;
    expect([...delegations.rolesForTarget('a.txt')]).toEqual([{ name: 'bins-18', terminating: true }]);
    expect(delegations.getRole('bins-18')).toBeInstanceOf(SuccinctRoles);
    expect(delegations.getRole('bins-100')).toBeUndefined();

    const bin = new Metadata(new Targets({ expires: new Date('2030-01-01T00:00:00Z') }));
    const signed = new Metadata(bin.signed, new Map([[k.key.keyid, new Signature(k.key.keyid, nodeSign(null, bin.signedBytes(), k.priv).toString('hex'))]]));
    delegator.verifyDelegate('bins-18', signed);
    expect(() => delegator.verifyDelegate('bins-zz', signed)).toThrow(UsageError);
  });
});

// ---- path patterns ---------------------------------------------------------------------------

describe('delegation path patterns', () => {
  const cases: [string, string, boolean][] = [
    // The specification's examples.
    ['targets/*.tgz', 'targets/foo.tgz', true],
    ['targets/*.tgz', 'targets/bar.tgz', true],
    ['targets/*.tgz', 'targets/foo.txt', false],
    ['foo-version-?.tgz', 'foo-version-2.tgz', true],
    ['foo-version-?.tgz', 'foo-version-a.tgz', true],
    ['foo-version-?.tgz', 'foo-version-alpha.tgz', false],
    ['*.tgz', 'foo.tgz', true],
    ['*.tgz', 'bar.tgz', true],
    ['*.tgz', 'targets/foo.tgz', false],
    ['foo.tgz', 'foo.tgz', true],
    ['foo.tgz', 'bar.tgz', false],
    // `*` and `?` never cross a `/`.
    ['*', 'file1.txt', true],
    ['*', 'a/b', false],
    ['a/*', 'a/b/c', false],
    ['a/*/c', 'a/b/c', true],
    ['a/*/c', 'a/b/x/c', false],
    ['a?b', 'a/b', false],
    ['*/*', 'a/b', true],
    ['*', '', true],
    ['**', 'a/b', false],
    // Character classes.
    ['file[123].txt', 'file2.txt', true],
    ['file[123].txt', 'file4.txt', false],
    ['file[!1].txt', 'file2.txt', true],
    ['file[!1].txt', 'file1.txt', false],
    ['file[a-c].txt', 'fileb.txt', true],
    ['file[a-c].txt', 'filed.txt', false],
    ['[]]', ']', true],
    ['[!/]', '/', false],
    // Regular-expression characters are literal.
    ['a.txt', 'abtxt', false],
    ['a+b(c)|$^.txt', 'a+b(c)|$^.txt', true],
    ['a\\b', 'a\\b', true],
    ['file[', 'file[', true],
    ['{a,b}.txt', '{a,b}.txt', true],
    ['{a,b}.txt', 'a.txt', false],
    // Leading slash and case are significant.
    ['/file.txt', 'file.txt', false],
    ['File.txt', 'file.txt', false],
    ['ö/*', 'ö/x', true],
  ];
  for (const [pattern, target, expected] of cases) {
    it(`"${pattern}" ${expected ? 'matches' : 'does not match'} "${target}"`, () => {
      expect(matchesPathPattern(target, pattern)).toBe(expected);
    });
  }

  it('treats "[!]" like fnmatch does: as the literal text, not as "any character"', () => {
    // fnmatch reads "]" right after "[!" as a member of the class, so "[!]" has no closing bracket.
    expect(matchesPathPattern('ab', 'a[!]')).toBe(false);
    expect(matchesPathPattern('a[!]', 'a[!]')).toBe(true);
  });

  it('uses the patterns of the vectors: role1 is trusted for file3.txt only', () => {
    const delegations = load(`${PT}/targets.json`).signed as Targets;
    expect([...delegations.delegations!.rolesForTarget('file3.txt')]).toEqual([{ name: 'role1', terminating: false }]);
    expect([...delegations.delegations!.rolesForTarget('file1.txt')]).toEqual([]);
  });
});
