// Runs the client fuzzer (client-fuzz.ts) in a worker thread, storing the index of the case it is
// on in a shared counter, so that the test can see a case that never returns and stop it.
import { register } from 'node:module';
import process from 'node:process';
import { parentPort, workerData } from 'node:worker_threads';

process.setSourceMapsEnabled(true);
register('./ts-hooks.mjs', import.meta.url);
const { chains, runFuzz } = await import('./client-fuzz.ts');

const { seed, count, progress, hangAt } = workerData;
const current = new Int32Array(progress);
const all = await chains();
const tally = runFuzz(all, seed, count, (index) => {
  Atomics.store(current, 0, index + 1);
  // Only the test of the watch itself asks for this: a case that never returns.
  if (index === hangAt) for (;;);
});
parentPort.postMessage({ ...tally, problems: [...tally.problems] });
