import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import canonicalizeModule from 'canonicalize';
import { TrustedMetadataSet } from '../../src/client/trusted-metadata-set.js';
import { canonicalSignedSpan } from '../../src/crypto/canonical-span.js';
import { canonicalBytes, canonicalString } from '../../src/crypto/canonical.js';
import { countMembers } from '../../src/crypto/json.js';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { CanonicalJSONError, TufError } from '../../src/errors.js';
import { Metadata, type SignedType } from '../../src/models/index.js';
import { PYTHON_TUF, rng, SIGSTORE } from './helpers.js';
import { byteMutation, jsonMutation, layoutMutation } from './mutations.js';

// The client's own parse-and-verify path fed mutated bytes of real signed files: the canonical-span
// fast path, Metadata.fromBytesForVerification, and TrustedMetadataSet walking a whole repository
// (spec 5.3-5.6) with one file mutated. Foreign pretty-printed repositories (python-tuf, Sigstore)
// and the same repositories as tufkit writes them (Metadata.toBytes: `signed` in canonical form).
// Each case is a pure function of (seed, index), so a failure is reproduced from those two numbers.
// Loaded both by vitest and by the hang-watching worker (fuzz-worker.mjs).

// A CommonJS module whose typings declare an ES default export: its default import is the function.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

type StepKind = 'trust-root' | 'root' | 'timestamp' | 'snapshot' | 'targets' | 'delegated';

interface Step {
  kind: StepKind;
  /** Role name (as the delegator knows it) and metadata type. */
  role: string;
  type: SignedType;
  delegator: string;
  file: string;
  bytes: Buffer;
  /** Canonical bytes of the original `signed`, hex: what any verified mutation must still hold. */
  signedHex: string;
}

export interface Chain {
  name: string;
  referenceTime: Date;
  steps: Step[];
}

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

function step(kind: StepKind, dir: string, file: string, role?: string, delegator = 'root'): Step {
  const bytes = readFileSync(join(dir, file));
  const type: SignedType = kind === 'trust-root' ? 'root' : kind === 'delegated' ? 'targets' : kind;
  return { kind, role: role ?? type, type, delegator, file, bytes, signedHex: hex(Metadata.fromBytes(bytes).signedBytes()) };
}

/** The same chain with every file as tufkit writes it; `fix` re-signs what the rewrite invalidated. */
async function tufkitWritten(chain: Chain, fix?: (steps: Step[]) => Promise<void>): Promise<Chain> {
  const steps = chain.steps.map((s) => ({ ...s, bytes: Buffer.from(Metadata.fromBytes(s.bytes).toBytes()) }));
  await fix?.(steps);
  return { ...chain, name: `${chain.name} (tufkit-written)`, steps };
}

/** Every repository the fuzzer walks, foreign and tufkit-written. */
export async function chains(): Promise<Chain[]> {
  const pt = join(PYTHON_TUF, 'repository/metadata');
  const ptRepo: Chain = {
    name: 'python-tuf repository',
    referenceTime: new Date('2026-01-01T00:00:00Z'),
    steps: [
      step('trust-root', pt, '1.root.json'),
      step('timestamp', pt, 'timestamp.json'),
      step('snapshot', pt, 'snapshot.json'),
      step('targets', pt, 'targets.json'),
      step('delegated', pt, 'role1.json', 'role1', 'targets'),
      step('delegated', pt, 'role2.json', 'role2', 'role1'),
    ],
  };
  const gen = join(PYTHON_TUF, 'generated');
  const ptGenerated: Chain = {
    name: 'python-tuf generated',
    referenceTime: new Date('2026-01-01T00:00:00Z'),
    steps: [
      step('trust-root', gen, 'root_with_ed25519.json'),
      step('timestamp', gen, 'timestamp_with_ed25519.json'),
      step('snapshot', gen, 'snapshot_with_ed25519.json'),
      step('targets', gen, 'targets_with_ed25519.json'),
    ],
  };
  const ss = join(SIGSTORE, 'metadata');
  const sigstore: Chain = {
    name: 'sigstore',
    referenceTime: new Date('2026-08-22T00:00:00Z'),
    steps: [
      step('trust-root', ss, '14.root.json'),
      step('root', ss, '15.root.json'),
      step('timestamp', ss, 'timestamp.json'),
      step('snapshot', ss, '165.snapshot.json'),
      step('targets', ss, '14.targets.json'),
      step('delegated', ss, '8.registry.npmjs.org.json', 'registry.npmjs.org', 'targets'),
    ],
  };
  // python-tuf's timestamp lists the snapshot's hashes: re-sign it (deterministic ed25519, key from
  // python-tuf's keystore) for the snapshot as tufkit writes it.
  const resignTimestamp = async (steps: Step[]): Promise<void> => {
    const [rootStep, tsStep, snapStep] = steps as [Step, Step, Step];
    const ts = Metadata.fromBytes(tsStep.bytes, 'timestamp');
    ts.signed.snapshotMeta.length = snapStep.bytes.length;
    ts.signed.snapshotMeta.hashes = { sha256: createHash('sha256').update(snapStep.bytes).digest('hex') };
    const keyid = Metadata.fromBytes(rootStep.bytes, 'root').signed.getRole('timestamp').keyids[0]!;
    await ts.sign(InMemorySigner.fromPem(readFileSync(join(PYTHON_TUF, 'keystore/timestamp_key'), 'utf8'), { keyid }), false);
    tsStep.bytes = Buffer.from(ts.toBytes());
    tsStep.signedHex = hex(ts.signedBytes());
  };
  return [ptRepo, await tufkitWritten(ptRepo, resignTimestamp), ptGenerated, await tufkitWritten(ptGenerated), sigstore, await tufkitWritten(sigstore)];
}

/** Feeds one file to the set as the client's workflow does at that step. */
function apply(set: TrustedMetadataSet, s: Step, bytes: Uint8Array): Metadata {
  switch (s.kind) {
    case 'trust-root':
      return set.root;
    case 'root':
      return set.updateRoot(bytes);
    case 'timestamp':
      return set.updateTimestamp(bytes);
    case 'snapshot':
      return set.updateSnapshot(bytes, false, s.file);
    case 'targets':
      return set.updateTargets(bytes, s.file);
    case 'delegated':
      return set.updateDelegatedTargets(bytes, s.role, s.delegator, s.file);
  }
}

/** A set that has trusted the chain's files before step `k` (the root itself for k = 0, 1). */
function prefix(chain: Chain, k: number): TrustedMetadataSet {
  const set = new TrustedMetadataSet(chain.steps[0]!.bytes, chain.referenceTime);
  for (let j = 1; j < k; j++) apply(set, chain.steps[j]!, chain.steps[j]!.bytes);
  return set;
}

/** Loads the chain up to step `k`, with `bytes` in place of step k's file. */
export function walk(chain: Chain, k: number, bytes: Uint8Array): Metadata {
  return k === 0 ? new TrustedMetadataSet(bytes, chain.referenceTime).root : apply(prefix(chain, k), chain.steps[k]!, bytes);
}

/** What a set trusts, to tell that a refused file left it unchanged. */
const trustedState = (set: TrustedMetadataSet, s: Step): unknown[] => [set.root, set.timestamp, set.snapshot, set.targets, set.getTargetsRole(s.role)];

export interface Tally {
  cases: number;
  /** Rejections by error class (TufError subclasses only). */
  rejected: Record<string, number>;
  /** Mutated files the whole chain accepted (their content was the original's). */
  verified: number;
  /** Inputs on which the canonical-span walk took a span, and on which the client's parse did. */
  spans: number;
  /** Invariant violations, one example per kind: the failure message. */
  problems: Map<string, string>;
}

export const newTally = (): Tally => ({ cases: 0, rejected: {}, verified: 0, spans: 0, problems: new Map() });

/**
 * Sets that trusted a chain's files before a step, reused while they stay unchanged: a refused file
 * leaves a set as it was (checked on every case), so a case gives what walk() from scratch gives.
 */
export type Prefixes = Map<string, TrustedMetadataSet>;

/** The mutation, chain and step of case `index` under `seed`: a pure function of the two. */
export function fuzzCase(all: Chain[], seed: number, index: number): { chain: Chain; k: number; what: string; bytes: Buffer } {
  const r = rng((seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0);
  const chain = all[index % all.length]!;
  const k = r.int(chain.steps.length);
  const original = chain.steps[k]!.bytes;
  const mutate = [byteMutation, jsonMutation, layoutMutation][r.int(3)]!;
  const [what, bytes] = mutate(r, original);
  return { chain, k, what: `${mutate.name}: ${what}`, bytes };
}

function describeError(e: unknown): string {
  const err = e as Error;
  const at = /at (\S+) \(.*?((?:src|test)\/[^:)]+:\d+)/.exec(err?.stack ?? '');
  return `${err?.constructor?.name}: ${err?.message?.slice(0, 300)}${at ? ` at ${at[1]} (${at[2]})` : ''}`;
}

/** Runs case `index`, checking every invariant; violations go to tally.problems. */
export function runCase(all: Chain[], seed: number, index: number, tally: Tally, prefixes: Prefixes = new Map()): void {
  const { chain, k, what, bytes } = fuzzCase(all, seed, index);
  const s = chain.steps[k]!;
  const where = `seed ${seed}, case ${index}: ${chain.name}, ${s.file}, ${what}`;
  const problem = (kind: string): void => {
    if (!tally.problems.has(kind)) tally.problems.set(kind, where);
  };
  tally.cases++;

  // 1. The canonical-span walk: any span it takes is the canonical encoding of what JSON.parse read.
  let text: string | undefined;
  let value: { signed?: unknown } | undefined;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    value = JSON.parse(text) as { signed?: unknown };
  } catch {
    text = undefined;
  }
  if (text !== undefined && value !== null && typeof value === 'object') {
    try {
      const span = canonicalSignedSpan(text);
      if (span) {
        tally.spans++;
        const spanText = text.slice(span.start, span.end);
        if (spanText !== canonicalString(value.signed)) problem('canonicalSignedSpan took a span that is not the canonical encoding of the parsed signed');
        if (span.members !== countMembers(value.signed)) problem('canonicalSignedSpan counted members wrongly');
        // An independent oracle where OLPC canonical JSON and RFC 8785 agree (printable ASCII).
        if (/^[\x20-\x7e]*$/.test(spanText) && canonicalize(value.signed) !== spanText) problem('span differs from RFC 8785 canonicalize');
      }
    } catch (e) {
      problem(`canonicalSignedSpan threw ${describeError(e)}`);
    }
  }

  // 2. Metadata.fromBytesForVerification: the same verdict as the strict parser, and the bytes it
  // hands to signature verification are those of the parsed `signed` and of the model built from it.
  let strict: unknown;
  try {
    Metadata.fromBytes(bytes, s.type, s.role);
  } catch (e) {
    strict = e;
  }
  try {
    const { metadata, signedBytes } = Metadata.fromBytesForVerification(bytes, s.type, s.role);
    if (strict !== undefined) problem(`fromBytesForVerification accepted what fromBytes refused (${describeError(strict)})`);
    if (hex(signedBytes) !== hex(canonicalBytes((value as { signed: unknown }).signed))) problem('fromBytesForVerification: signedBytes differ from the canonical encoding of the parsed signed');
    if (hex(signedBytes) !== hex(metadata.signedBytes())) problem('fromBytesForVerification: signedBytes differ from the model built from them');
  } catch (e) {
    // Only the verification path encodes `signed`, and before reading the model: what cannot be
    // encoded (a lone surrogate) cannot have been signed, whatever the model would make of it.
    if (!(e instanceof TufError)) problem(`fromBytesForVerification threw ${describeError(e)}`);
    else if (!(e instanceof CanonicalJSONError)) {
      if (!(strict instanceof TufError)) problem(`fromBytesForVerification refused what fromBytes accepted: ${describeError(e)}`);
      else if (strict.constructor !== e.constructor) problem(`fromBytesForVerification and fromBytes refuse with different classes: ${describeError(e)} / ${describeError(strict)}`);
    }
  }

  // 3. The client's trust decisions with this file in place of the original.
  let trusted: Metadata;
  const key = `${all.indexOf(chain)}/${k}`;
  let set: TrustedMetadataSet | undefined;
  try {
    set = k === 0 ? undefined : (prefixes.get(key) ?? prefix(chain, k));
  } catch (e) {
    problem(`the unmutated files before ${s.file} were refused: ${describeError(e)}`);
    return;
  }
  const before = set && trustedState(set, s);
  try {
    trusted = set ? apply(set, s, bytes) : walk(chain, 0, bytes);
  } catch (e) {
    if (e instanceof TufError) tally.rejected[e.constructor.name] = (tally.rejected[e.constructor.name] ?? 0) + 1;
    else problem(`TrustedMetadataSet (${s.kind}) threw ${describeError(e)}`);
    if (set && trustedState(set, s).some((v, i) => v !== before![i])) problem(`TrustedMetadataSet (${s.kind}) changed what it trusts on a refused file`);
    else if (set) prefixes.set(key, set);
    return;
  }
  prefixes.delete(key);
  tally.verified++;
  // A mutation that survives verification touched only bytes outside `signed` (or wrote the same content differently).
  if (hex(trusted.signedBytes()) !== s.signedHex) problem(`TrustedMetadataSet (${s.kind}) trusted a changed signed part`);
}

/** Runs cases [0, count) of `seed`; `onCase` is told each index before it runs (the hang watch). */
export function runFuzz(all: Chain[], seed: number, count: number, onCase?: (index: number) => void): Tally {
  const tally = newTally();
  const prefixes: Prefixes = new Map();
  for (let i = 0; i < count; i++) {
    onCase?.(i);
    runCase(all, seed, i, tally, prefixes);
  }
  return tally;
}

/** Checks that every chain loads as it is: otherwise the fuzzer would only ever see rejections. */
export function checkChains(all: Chain[]): string[] {
  return all.flatMap((chain) =>
    chain.steps.flatMap((s, k) => {
      try {
        const md = walk(chain, k, s.bytes);
        return hex(md.signedBytes()) === s.signedHex ? [] : [`${chain.name}: ${s.file} loaded with different content`];
      } catch (e) {
        return [`${chain.name}: ${s.file}: ${describeError(e)}`];
      }
    }),
  );
}
