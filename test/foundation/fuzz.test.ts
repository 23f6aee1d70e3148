import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { CanonicalJSONError, TufError } from '../../src/errors.js';
import { Metadata, Targets } from '../../src/models/index.js';
import { DELEGATIONS, metadataVectors, rng, type VectorFile } from './helpers.js';
import { byteMutation, jsonMutation } from './mutations.js';

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
