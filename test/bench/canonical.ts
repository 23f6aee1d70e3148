import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { parseStrictJSON } from '../../src/crypto/json.js';
import { Metadata } from '../../src/models/metadata.js';

// Canonical JSON of a 100,000-target role: the client re-encodes such a role to check its
// signatures, so the encoder is measured against the fastest serialiser Node has, JSON.stringify
// (plus Buffer.from, since signatures are over bytes). Goal: within 1.5x.
//
// The contenders run interleaved, each after a full garbage collection, so that load from other
// processes and one contender's garbage fall on all of them alike; ratios are medians of per-round
// ratios.

const ENTRIES = 100_000;
const WARMUP = 1;
const ROUNDS = 5;

/** A realistic targets `signed` object: nested paths, sha256 + sha512, custom data on some entries. */
function targetsRole(n: number): Record<string, unknown> {
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const path = `packages/pkg-${i % 977}/${i % 13}.${i % 7}.${i}/artifact-${i}.tar.gz`;
    const entry: Record<string, unknown> = {
      length: (i * 7919) % 50_000_000,
      hashes: {
        sha256: createHash('sha256').update(path).digest('hex'),
        sha512: createHash('sha512').update(path).digest('hex'),
      },
    };
    if (i % 10 === 0) entry.custom = { 'x-release': { channel: i % 20 === 0 ? 'stable' : 'beta', build: i, tags: ['linux', 'x64'] } };
    targets[path] = entry;
  }
  return { _type: 'targets', spec_version: '1.0.31', version: 42, expires: '2030-01-01T00:00:00Z', targets };
}

/** A full garbage collection between measurements (the flag can be set at run time). */
function collector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? (gc as () => void) : () => undefined;
}

interface Contender {
  label: string;
  run: () => unknown;
}

/** Median ms of each contender and median ratio to the first, over interleaved rounds. */
function race(contenders: Contender[]): { ms: number; ratio: number }[] {
  const gc = collector();
  const times = contenders.map(() => [] as number[]);
  const ratios = contenders.map(() => [] as number[]);
  for (let round = 0; round < WARMUP + ROUNDS; round++) {
    const t = contenders.map((c) => {
      gc();
      const start = performance.now();
      c.run();
      return performance.now() - start;
    });
    if (round < WARMUP) continue;
    t.forEach((ms, i) => {
      times[i]!.push(ms);
      ratios[i]!.push(ms / t[0]!);
    });
  }
  const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
  return contenders.map((_, i) => ({ ms: median(times[i]!), ratio: median(ratios[i]!) }));
}

function report(title: string, bytes: number, contenders: Contender[]): number[] {
  console.log(title);
  const results = race(contenders);
  results.forEach(({ ms, ratio }, i) => {
    const mbps = bytes / 1e6 / (ms / 1000);
    const vs = i === 0 ? '' : `  ${ratio.toFixed(2)}x`;
    console.log(`  ${contenders[i]!.label.padEnd(46)} ${ms.toFixed(1).padStart(8)} ms ${mbps.toFixed(0).padStart(6)} MB/s${vs}`);
  });
  return results.map((r) => r.ratio);
}

export async function benchCanonical(): Promise<void> {
  const built = targetsRole(ENTRIES);
  const file = Buffer.from(JSON.stringify({ signatures: [], signed: built }), 'utf8');
  // As the client holds it: parsed from a file (python-tuf writes keys sorted).
  const parsed = (JSON.parse(Buffer.from(canonicalBytes({ signed: built })).toString('utf8')) as { signed: unknown }).signed;
  const md = Metadata.fromBytes(file, 'targets');
  const size = canonicalBytes(parsed).length;

  const ratios = report(
    `canonical JSON: targets role with ${ENTRIES.toLocaleString('en')} entries, ${(size / 1e6).toFixed(1)} MB ` +
      `(median of ${ROUNDS} interleaved rounds; ratios against the first line)`,
    size,
    [
      { label: 'JSON.stringify + Buffer.from', run: () => Buffer.from(JSON.stringify(parsed), 'utf8') },
      { label: 'canonicalBytes', run: () => canonicalBytes(parsed) },
      { label: 'canonicalBytes with a size hint', run: () => canonicalBytes(parsed, '', size) },
      { label: 'canonicalBytes, keys in insertion order', run: () => canonicalBytes(built) },
      { label: 'Metadata.signedBytes (model toJSON + encode)', run: () => md.signedBytes() },
    ],
  );
  const ratio = ratios[1]!;
  console.log(`  canonicalBytes / (JSON.stringify + Buffer.from) = ${ratio.toFixed(2)}x: goal <= 1.5x ${ratio <= 1.5 ? 'met' : 'NOT met'}`);

  report(`strict parsing of the same role as a ${(file.length / 1e6).toFixed(1)} MB file`, file.length, [
    { label: 'JSON.parse (after UTF-8 decoding)', run: () => JSON.parse(file.toString('utf8')) },
    { label: 'parseStrictJSON', run: () => parseStrictJSON(file, 'targets') },
    { label: 'Metadata.fromBytes (strict parse + model)', run: () => Metadata.fromBytes(file, 'targets') },
  ]);
}
