import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { Key } from '../../src/models/key.js';
import { Repository, type TargetInput } from '../../src/repository/repository.js';
import { hashFiles, mapLimit } from '../../src/repository/targets-hashing.js';

// The repository issue's benchmark: add 100,000 small generated files as targets of a repository
// whose targets role delegates to 1,024 succinct hash bins (each file read once: hashed and copied
// into the repository), then sign all 1,024 bins. Hashing is timed on its own beside plain
// node:crypto (readFile + sha256, same files, same concurrency). Goals: hashing within 1.2x of
// node:crypto; 1,024 bins signed in under 2 s.

const FILES = Number(process.env.TUFKIT_BENCH_FILES ?? 100_000);
const PER_DIR = 1_000;
const CONCURRENCY = 8;
const HASH_ROUNDS = 3;

/** Peak resident memory while `fn` runs (sampled every 20 ms, and at the end). */
async function withPeakRss<T>(fn: () => Promise<T>): Promise<{ result: T; ms: number; peakRss: number }> {
  let peak = process.memoryUsage().rss;
  const timer = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
  const start = performance.now();
  try {
    const result = await fn();
    const ms = performance.now() - start;
    peak = Math.max(peak, process.memoryUsage().rss);
    return { result, ms, peakRss: peak };
  } finally {
    clearInterval(timer);
  }
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

function row(label: string, ms: number, bytes: number | undefined, extra = ''): string {
  const rate = bytes === undefined ? ''.padStart(11) : `${(bytes / 1e6 / (ms / 1000)).toFixed(0).padStart(6)} MB/s`;
  return `  ${label.padEnd(44)} ${ms.toFixed(0).padStart(8)} ms ${rate}  ${extra}`;
}

export async function generateFiles(dir: string, count = FILES): Promise<{ inputs: TargetInput[]; bytes: number }> {
  const inputs: TargetInput[] = [];
  let bytes = 0;
  const seed = randomBytes(64 * 1024);
  for (let i = 0; i < count; i++) {
    const sub = `d${Math.floor(i / PER_DIR)}`;
    // 64 B to 4 KiB, about 2 KiB on average: "small files", 200 MB in all.
    const size = 64 + ((i * 7919) % 4032);
    bytes += size;
    inputs.push({ file: join(dir, sub, `f${i}.bin`), path: `packages/${sub}/pkg-${i}.bin` });
  }
  for (let d = 0; d < Math.ceil(count / PER_DIR); d++) await mkdir(join(dir, `d${d}`), { recursive: true });
  await mapLimit(inputs, 32, async (t, i) => {
    const size = 64 + ((i * 7919) % 4032);
    const off = (i * 131) % (seed.length - size);
    const data = Buffer.from(seed.subarray(off, off + size));
    data.writeUInt32LE(i, 0); // every file distinct
    await writeFile(t.file, data);
  });
  return { inputs, bytes };
}

export async function benchRepository(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'tufkit-bench-repo-'));
  try {
    const gen = performance.now();
    const { inputs, bytes } = await generateFiles(join(work, 'files'));
    console.log(
      `repository: ${FILES.toLocaleString('en')} files of 64 B-4 KiB (${mb(bytes)} MB) generated in ${((performance.now() - gen) / 1000).toFixed(1)} s; ` +
        `hashing: median of ${HASH_ROUNDS} interleaved rounds, ${CONCURRENCY} files at a time`,
    );

    // Hashing alone, interleaved rounds, median.
    const files = inputs.map((t) => t.file);
    const nodeTimes: number[] = [];
    const oursTimes: number[] = [];
    const baseline = async (): Promise<void> => {
      await mapLimit(files, CONCURRENCY, async (f) => createHash('sha256').update(await readFile(f)).digest('hex'));
    };
    for (let r = 0; r < HASH_ROUNDS; r++) {
      let t = performance.now();
      await baseline();
      nodeTimes.push(performance.now() - t);
      t = performance.now();
      await hashFiles(files, ['sha256'], CONCURRENCY);
      oursTimes.push(performance.now() - t);
    }
    const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;
    const nodeMs = med(nodeTimes);
    const oursMs = med(oursTimes);
    const t = performance.now();
    await hashFiles(files, ['sha256', 'sha512'], CONCURRENCY);
    const twoMs = performance.now() - t;

    // The whole `targets add` into 1,024 bins, then signing every bin.
    const key = InMemorySigner.generate('ed25519');
    const bins = InMemorySigner.generate('ed25519');
    const pub = (s: InMemorySigner): Key => Key.fromPublicJSON(s.publicKey);
    const repo = await Repository.init(join(work, 'repo'), {
      roles: { root: { keys: [pub(key)] }, targets: { keys: [pub(key)] }, snapshot: { keys: [pub(key)] }, timestamp: { keys: [pub(key)] } },
    });
    const binNames = await repo.delegate('targets', { name: 'bins', keys: [pub(bins)], threshold: 1, bins: 1024 });
    const add = await withPeakRss(() => repo.addTargets(inputs));
    const sign = await withPeakRss(() => repo.sign(binNames, bins));
    // The bins key is replaced: every bin is signed again, by the new key.
    const bins2 = InMemorySigner.generate('ed25519');
    await repo.changeKeys('bins', { add: [pub(bins2)], remove: [bins.keyid] });
    const resign = await withPeakRss(() => repo.sign(binNames, bins2));
    const snap = await withPeakRss(() => repo.updateSnapshot(key));

    // Paired rounds: the ratio of each round, then the median (other load on the machine cancels out).
    const ratio = med(oursTimes.map((ms, i) => ms / nodeTimes[i]!));
    console.log(row('node:crypto sha256 (readFile + hash)', nodeMs, bytes));
    console.log(row('tufkit hashFiles, sha256 (streamed)', oursMs, bytes, `${ratio.toFixed(2)}x node:crypto`));
    console.log(row('tufkit hashFiles, sha256 + sha512, one pass', twoMs, bytes));
    console.log(row('targets add: hash + copy + list in 1,024 bins', add.ms, bytes, `peak RSS ${mb(add.peakRss)} MB`));
    console.log(row('sign 1,024 bins (first signature)', sign.ms, undefined, `peak RSS ${mb(sign.peakRss)} MB`));
    console.log(row('re-sign 1,024 bins (new bins key)', resign.ms, undefined, `peak RSS ${mb(resign.peakRss)} MB`));
    console.log(row('snapshot of 1,025 targets roles', snap.ms, undefined));
    console.log(`  process peak RSS (maxRSS): ${mb(process.resourceUsage().maxRSS * 1024)} MB`);
    console.log(`  hashing / node:crypto = ${ratio.toFixed(2)}x: goal <= 1.2x ${ratio <= 1.2 ? 'met' : 'NOT met'}`);
    console.log(`  re-signing 1,024 bins: ${(resign.ms / 1000).toFixed(2)} s: goal < 2 s ${resign.ms < 2000 ? 'met' : 'NOT met'}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

/** Wall time of a shell command (the copy floors). */
function timed(cmd: string, args: string[]): number {
  const t = performance.now();
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed`);
  return performance.now() - t;
}

/**
 * Publishing at scale: FILES targets in 1,024 succinct bins, every role signed; then the first
 * publish beside `cp -r` and `cp -al` of the blob store (the copy floors, same file system), a
 * re-publish of the unchanged repository, and a one-file release (add, sign the bin, snapshot,
 * timestamp, publish). Goals: first publish within 2x of cp -al; re-publish writes nothing.
 */
export async function benchPublish(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'tufkit-bench-publish-'));
  try {
    const { inputs, bytes } = await generateFiles(join(work, 'files'));
    const key = InMemorySigner.generate('ed25519');
    const bins = InMemorySigner.generate('ed25519');
    const pub = (s: InMemorySigner): Key => Key.fromPublicJSON(s.publicKey);
    const dir = join(work, 'repo');
    const repo = await Repository.init(dir, {
      roles: { root: { keys: [pub(key)] }, targets: { keys: [pub(key)] }, snapshot: { keys: [pub(key)] }, timestamp: { keys: [pub(key)] } },
    });
    const binNames = await repo.delegate('targets', { name: 'bins', keys: [pub(bins)], threshold: 1, bins: 1024 });
    await repo.addTargets(inputs);
    await repo.sign(['root', 'targets'], key);
    await repo.sign(binNames, bins);
    await repo.updateSnapshot(key);
    await repo.updateTimestamp(key);
    console.log(`publish: ${inputs.length.toLocaleString('en')} targets (${mb(bytes)} MB) in 1,024 bins`);

    const cpR = timed('cp', ['-r', join(dir, 'blobs'), join(work, 'cp-r')]);
    const cpAl = timed('cp', ['-al', join(dir, 'blobs'), join(work, 'cp-al')]);
    const out = join(work, 'out');
    const first = await withPeakRss(() => repo.publish(out));
    const again = await withPeakRss(() => repo.publish(out));

    const extra = await generateFiles(join(work, 'extra'), 1);
    extra.inputs[0]!.path = 'packages/new/one-more.bin';
    let binOfNew = '';
    const steps: [string, () => Promise<unknown>][] = [
      ['targets add (1 file)', async () => (binOfNew = (await repo.addTargets(extra.inputs))[0]!.role)],
      ['sign its bin', () => repo.sign(binOfNew, bins)],
      ['snapshot', () => repo.updateSnapshot(key)],
      ['timestamp', () => repo.updateTimestamp(key)],
      ['publish', () => repo.publish(out)],
    ];
    const release: { label: string; ms: number; peakRss: number }[] = [];
    for (const [label, fn] of steps) release.push({ label, ...(await withPeakRss(fn)) });
    const last = (await repo.publish(out)).written.length;

    console.log(row('cp -r blobs (copy floor)', cpR, bytes));
    console.log(row('cp -al blobs (hard-link floor)', cpAl, bytes));
    console.log(row('first publish', first.ms, bytes, `${first.result.written.length} written, peak RSS ${mb(first.peakRss)} MB`));
    console.log(row('re-publish, nothing changed', again.ms, undefined, `${again.result.written.length} written, peak RSS ${mb(again.peakRss)} MB`));
    for (const r of release) console.log(row(`one-file release: ${r.label}`, r.ms, undefined, `peak RSS ${mb(r.peakRss)} MB`));
    console.log(`  one-file release in all: ${(release.reduce((a, r) => a + r.ms, 0) / 1000).toFixed(2)} s; a publish after it writes ${last} file(s)`);
    console.log(`  first publish / cp -al = ${(first.ms / cpAl).toFixed(1)}x: goal <= 2x ${first.ms <= 2 * cpAl ? 'met' : 'NOT met'}; / cp -r = ${(first.ms / cpR).toFixed(1)}x`);
    console.log(`  re-publish writes nothing: ${again.result.written.length === 0 ? 'met' : 'NOT met'}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
