import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { CanonicalJSONError, TufError } from '../../src/errors.js';
import { Metadata, Targets } from '../../src/models/index.js';
import { DELEGATIONS, metadataVectors, rng, type Rng, type VectorFile } from './helpers.js';

// Bounded, seeded fuzzing of Metadata.fromBytes and verification with mutated copies of the
// vectors. Invariants: every failure is a TufError (never a TypeError, RangeError or crash); what
// parses writes back (toBytes) to a file that reads back the same; and a mutated file verifies
// only if its signed part is unchanged.

interface Subject extends VectorFile {
  /** Canonical bytes of the original signed part, hex. */
  signedHex: string;
  /** The delegator's metadata (undefined: the file is a root and verifies itself) and role name. */
  delegator: Metadata | undefined;
  role: string;
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function subjects(): Subject[] {
  const vectors = metadataVectors();
  const byName = new Map(vectors.map((v) => [v.name, v]));
  return vectors.map((v) => {
    const signed = (JSON.parse(v.bytes.toString('utf8')) as { signed: unknown }).signed;
    const entry = DELEGATIONS.find(([f, d]) => f === v.name && d !== f);
    const delegator = entry ? Metadata.fromBytes(byName.get(entry[1])!.bytes) : undefined;
    return { ...v, signedHex: hex(canonicalBytes(signed)), delegator, role: entry?.[2] ?? 'root' };
  });
}

interface Tally {
  parseRejected: number;
  verifyRejected: number;
  verified: number;
  /** Invariant violations, one example per kind (stage, error class, where it was thrown). */
  problems: Map<string, string>;
}

const newTally = (): Tally => ({ parseRejected: 0, verifyRejected: 0, verified: 0, problems: new Map() });

/** One line per kind of invariant violation, with an example case: the test's failure message. */
function report(tally: Tally): string[] {
  return [...tally.problems].map(([kind, example]) => `${kind}\n    e.g. ${example}`);
}

/** Runs one mutated file through parsing, re-encoding and verification, checking the invariants. */
function check(s: Subject, mutated: Uint8Array, tally: Tally, what: string): void {
  const fail = (e: unknown, stage: string): void => {
    const err = e as Error;
    const at = /at (\S+) \(.*?(src\/[^:)]+:\d+)/.exec(err?.stack ?? '');
    const kind = `${stage} threw ${err?.constructor?.name}: ${err?.message} ${at ? `at ${at[1]} (${at[2]})` : ''}`;
    if (!tally.problems.has(kind)) tally.problems.set(kind, `${s.name} (${what})`);
  };
  let md: Metadata;
  try {
    md = Metadata.fromBytes(mutated);
  } catch (e) {
    if (e instanceof TufError) tally.parseRejected++;
    else fail(e, 'Metadata.fromBytes');
    return;
  }
  // Whatever parsed must either be refused by toBytes (it could never be signed) or read back the same.
  try {
    const back = Metadata.fromBytes(md.toBytes());
    if (hex(back.signedBytes()) !== hex(md.signedBytes())) fail(new Error('toBytes -> fromBytes changed the signed part'), 'write-back');
  } catch (e) {
    if (!(e instanceof CanonicalJSONError)) fail(e, 'write-back');
  }
  try {
    const by = s.delegator ?? md;
    by.verifyDelegate(s.role, md);
    // Also exercise what a client does next with a verified role.
    if (md.signed instanceof Targets) Array.from(md.signed.delegations?.rolesForTarget('a/b.txt') ?? []);
  } catch (e) {
    if (e instanceof TufError) tally.verifyRejected++;
    else fail(e, 'verification');
    return;
  }
  tally.verified++;
  if (hex(md.signedBytes()) !== s.signedHex) fail(new Error('a mutated signed part verified'), 'verification');
}

// ---- byte-level mutations --------------------------------------------------------------------

function byteMutation(r: Rng, bytes: Buffer): [string, Buffer] {
  const n = bytes.length;
  const p = r.int(n);
  switch (r.int(6)) {
    case 0: {
      const out = Buffer.from(bytes);
      out[p] = r.int(256);
      return [`byte ${p} := ${out[p]}`, out];
    }
    case 1: {
      const out = Buffer.from(bytes);
      out[p] = out[p]! ^ (1 << r.int(8));
      return [`bit flip at ${p}`, out];
    }
    case 2:
      return [`truncate to ${p}`, bytes.subarray(0, p)];
    case 3: {
      const insert = Buffer.from(Array.from({ length: 1 + r.int(4) }, () => r.pick([0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x5d, 0x30, 0x2e, 0x65, 0x20, 0x00, 0xff, 0xc3, r.int(256)])));
      return [`insert ${insert.toString('hex')} at ${p}`, Buffer.concat([bytes.subarray(0, p), insert, bytes.subarray(p)])];
    }
    case 4: {
      const len = 1 + r.int(16);
      return [`delete ${len} at ${p}`, Buffer.concat([bytes.subarray(0, p), bytes.subarray(p + len)])];
    }
    default: {
      const len = 1 + r.int(24);
      return [`duplicate ${len} at ${p}`, Buffer.concat([bytes.subarray(0, p + len), bytes.subarray(p)])];
    }
  }
}

// ---- JSON-aware mutations --------------------------------------------------------------------

type Path = (string | number)[];

function allPaths(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => allPaths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) allPaths(x, [...prefix, k], out);
  return out;
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  let v = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) v = v[k] as Record<string | number, unknown>;
  return v;
}

/** Raw JSON text spliced in where a placeholder string stands, for things JSON.stringify cannot write. */
const RAW: string[] = [
  '1.0',
  '1e5',
  '-0.5',
  '1E2',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '1e400',
  '-0',
  '"\\ud800"',
  '"a\\udc00b"',
  '"\\u0000"',
  '{"a":1,"a":2}',
  '{"x":{"y":1,"\\u0079":2}}',
  '[' + '['.repeat(200) + ']'.repeat(200) + ']',
  '['.repeat(20000) + ']'.repeat(20000),
  '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
];

function weirdValue(r: Rng): unknown {
  switch (r.int(12)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([0, -1, 1, 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 32]);
    case 3:
      return r.pick(['', 'x', '2030-01-01T00:00:00Z', '1.0', 'ed25519', 'ecdsa-sha2-nistp256', 'rsassa-pss-sha256', '00', 'zz', 'root', 'snapshot.json', '../../etc/passwd']);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return r.pick([[1, 2], ['a', 'a'], [null], [{}]]);
    case 7:
      return { keyids: [], threshold: 1 };
    case 8:
      return 'é\u{1f600}'.repeat(1 + r.int(3000));
    case 9:
      return { __proto__: 1, constructor: 2, toString: 3 };
    default:
      return `\u0000RAW${r.int(RAW.length)}\u0000`;
  }
}

function jsonMutation(r: Rng, bytes: Buffer): [string, Buffer] {
  const root = JSON.parse(bytes.toString('utf8')) as unknown;
  const paths = allPaths(root).filter((p) => p.length > 0);
  const path = r.pick(paths);
  const parent = parentOf(root, path);
  const key = path[path.length - 1]!;
  let what: string;
  switch (r.int(6)) {
    case 0:
    case 1: {
      parent[key] = weirdValue(r);
      what = `replace ${path.join('.')}`;
      break;
    }
    case 2: {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      what = `delete ${path.join('.')}`;
      break;
    }
    case 3: {
      const target = typeof parent[key] === 'object' && parent[key] !== null && !Array.isArray(parent[key]) ? (parent[key] as Record<string, unknown>) : parent;
      if (Array.isArray(target)) target.push(weirdValue(r));
      else target[r.pick(['x-new', 'custom', 'keyid', 'sig', '_type', 'version', 'paths', 'path_hash_prefixes', 'succinct_roles', 'roles', 'delegations'])] = weirdValue(r);
      what = `add to ${path.join('.')}`;
      break;
    }
    case 4: {
      if (Array.isArray(parent)) {
        parent.push(parent[key]);
        what = `duplicate ${path.join('.')}`;
      } else {
        const value = parent[key];
        delete parent[key];
        parent[`${key}${r.pick(['x', ' ', '\u0000', 'é', ''])}`.toUpperCase()] = value;
        what = `rename ${path.join('.')}`;
      }
      break;
    }
    default: {
      const other = r.pick(paths);
      const otherParent = parentOf(root, other);
      const okey = other[other.length - 1]!;
      if (other.join('\u0000').startsWith(path.join('\u0000')) || path.join('\u0000').startsWith(other.join('\u0000'))) {
        parent[key] = weirdValue(r);
        what = `replace ${path.join('.')}`;
      } else {
        [parent[key], otherParent[okey]] = [otherParent[okey], parent[key]];
        what = `swap ${path.join('.')} and ${other.join('.')}`;
      }
    }
  }
  let text = JSON.stringify(root, null, r.int(2) === 0 ? undefined : 1);
  // Splice raw literals in where placeholders were written.
  text = text.replace(/"\\u0000RAW(\d+)\\u0000"/g, (_, i: string) => RAW[Number(i)]!);
  return [what, Buffer.from(text, 'utf8')];
}

describe('fuzzing Metadata.fromBytes and verification with mutated vectors', () => {
  const all = subjects();

  it('byte-level mutations (flips, truncation, insertion, deletion, duplication): 2,000 cases', () => {
    const r = rng(20260101);
    const tally = newTally();
    for (let i = 0; i < 2000; i++) {
      const s = all[i % all.length]!;
      const [what, mutated] = byteMutation(r, s.bytes);
      check(s, mutated, tally, `case ${i}: ${what}`);
    }
    expect(report(tally)).toEqual([]);
    expect(tally.parseRejected).toBeGreaterThan(500);
    expect(tally.verifyRejected).toBeGreaterThan(100);
  });

  it('JSON-aware mutations (type swaps, deleted and added fields, huge numbers, deep nesting): 2,000 cases', () => {
    const r = rng(777);
    const tally = newTally();
    for (let i = 0; i < 2000; i++) {
      const s = all[i % all.length]!;
      const [what, mutated] = jsonMutation(r, s.bytes);
      check(s, mutated, tally, `case ${i}: ${what}`);
    }
    expect(report(tally)).toEqual([]);
    expect(tally.parseRejected).toBeGreaterThan(500);
    expect(tally.verifyRejected).toBeGreaterThan(100);
  });

  it('deeply nested input anywhere is a TufError, not a stack overflow', () => {
    const tally = newTally();
    for (const s of all.slice(0, 4)) {
      const text = s.bytes.toString('utf8');
      for (const depth of [5_000, 100_000]) {
        for (const nest of ['['.repeat(depth) + ']'.repeat(depth), '{"a":'.repeat(depth) + '1' + '}'.repeat(depth)]) {
          const inSigned = Buffer.from(text.replace('"signed":', `"signed": {"x-deep": ${nest}, "y":`), 'utf8');
          const atTop = Buffer.from(text.replace('"signed":', `"x-deep": ${nest}, "signed":`), 'utf8');
          check(s, inSigned, tally, `depth ${depth} in signed`);
          check(s, atTop, tally, `depth ${depth} at the top level`);
        }
      }
    }
    expect(report(tally)).toEqual([]);
    expect(tally.parseRejected + tally.verifyRejected).toBe(32);
  });
});
