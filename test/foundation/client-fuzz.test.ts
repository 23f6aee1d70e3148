import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { chains, checkChains, fuzzCase, type Tally } from './client-fuzz.js';

// Seeded fuzzing of the client's parse-and-verify path (see client-fuzz.ts). The cases run in a
// worker thread so that one that never returns is seen, stopped and named (seed and case index)
// instead of hanging the test run. TUFKIT_FUZZ_SEED and TUFKIT_FUZZ_CASES explore further.

const SEED = Number(process.env.TUFKIT_FUZZ_SEED ?? 20260901);
const CASES = Number(process.env.TUFKIT_FUZZ_CASES ?? 1200);

interface Outcome {
  tally?: Omit<Tally, 'problems'> & { problems: [string, string][] };
  /** The case that made no progress for `stallMs`. */
  stalledAt?: number;
}

/** Runs cases [0, count) of `seed` in a worker, stopping it if one case runs longer than `stallMs`. */
function runInWorker(seed: number, count: number, stallMs: number, hangAt = -1): Promise<Outcome> {
  const progress = new SharedArrayBuffer(4);
  const current = new Int32Array(progress);
  const worker = new Worker(new URL('./fuzz-worker.mjs', import.meta.url), { workerData: { seed, count, progress, hangAt } });
  return new Promise((resolve, reject) => {
    let last = 0;
    let since = Date.now();
    const watch = setInterval(() => {
      const now = Atomics.load(current, 0);
      if (now !== last) [last, since] = [now, Date.now()];
      // Case `now - 1` is running; 0 means the worker is still loading (not watched: no case yet).
      else if (now > 0 && Date.now() - since > stallMs) {
        clearInterval(watch);
        void worker.terminate().then(() => resolve({ stalledAt: now - 1 }));
      }
    }, 100);
    worker.on('message', (tally: Outcome['tally']) => {
      clearInterval(watch);
      void worker.terminate().then(() => resolve({ tally }));
    });
    worker.on('error', (e) => {
      clearInterval(watch);
      reject(e);
    });
  });
}

async function describeCase(seed: number, index: number): Promise<string> {
  const { chain, k, what } = fuzzCase(await chains(), seed, index);
  return `seed ${seed}, case ${index}: ${chain.name}, ${chain.steps[k]!.file}, ${what}`;
}

describe('fuzzing the client parse-and-verify path with mutated real repositories', () => {
  it('every repository loads unmutated (foreign and tufkit-written), so mutations meet every check', async () => {
    const all = await chains();
    expect(checkChains(all)).toEqual([]);
    // The tufkit-written files hold `signed` in canonical form (where it has no control character):
    // the fast path is what the fuzzer exercises there.
    const tufkit = all.filter((c) => c.name.endsWith('(tufkit-written)')).flatMap((c) => c.steps);
    expect(tufkit.filter((s) => s.bytes.includes(Buffer.from('"signed":{"_type":'))).length).toBeGreaterThan(10);
  });

  it(`${CASES} cases of seed ${SEED}: only TufErrors, no hang, verified content unchanged, spans canonical`, async () => {
    const outcome = await runInWorker(SEED, CASES, 30_000);
    if (outcome.stalledAt !== undefined) expect.fail(`no progress for 30 s on ${await describeCase(SEED, outcome.stalledAt)}`);
    const tally = outcome.tally!;
    expect(tally.problems.map(([kind, example]) => `${kind}\n    e.g. ${example}`)).toEqual([]);
    expect(tally.cases).toBe(CASES);
    // The mutations reach every stage: rejected by the parser, by signatures, by snapshot/timestamp
    // hashes; survived (outside `signed`); and the canonical span taken on many of them.
    expect(tally.rejected.MetadataFormatError).toBeGreaterThan(CASES / 5);
    expect(tally.rejected.UnsignedMetadataError).toBeGreaterThan(CASES / 20);
    expect(tally.rejected.LengthOrHashMismatchError).toBeGreaterThan(0);
    expect(tally.verified).toBeGreaterThan(CASES / 10);
    expect(tally.spans).toBeGreaterThan(CASES / 10);
  }, 180_000);

  it('the watch stops a case that never returns and names its seed and index', async () => {
    const outcome = await runInWorker(SEED, 50, 1_000, 7);
    expect(outcome).toEqual({ stalledAt: 7 });
    expect(await describeCase(SEED, 7)).toMatch(new RegExp(`^seed ${SEED}, case 7: .+\\.json, (byte|json|layout)Mutation: `));
  }, 120_000);
});
