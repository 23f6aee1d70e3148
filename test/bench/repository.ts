import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { Key } from '../../src/models/key.js';
import { SuccinctRoles } from '../../src/models/role.js';
import { readSigner } from '../../src/repository/key-files.js';
import { Repository, type TargetInput } from '../../src/repository/repository.js';
import { hashFiles, mapLimit } from '../../src/repository/targets-hashing.js';

// The repository issue's benchmark: add 100,000 small generated files as targets of a repository
// whose targets role delegates to 1,024 succinct hash bins (each file read once: hashed and copied
// into the repository), then sign all 1,024 bins. Hashing is timed on its own beside plain
// node:crypto (readFile + sha256, same files, same concurrency). Goals: hashing within 1.2x of
// node:crypto; 1,024 bins signed in under 2 s.

/** The first of TUFKIT_BENCH_FILES (the publish section takes each of a comma-separated list). */
const FILES = counts('TUFKIT_BENCH_FILES', '100000')[0]!;
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

const CLI = fileURLToPath(new URL('../../cli/tufkit.js', import.meta.url));
/**
 * Loaded into each CLI run: writes its peak RSS (bytes) to TUFKIT_BENCH_RSS_FILE on exit. Linux's
 * VmHWM, not getrusage: a child's ru_maxrss starts from the RSS of the process that spawned it
 * (the bench, holding a whole generated repository).
 */
const RSS_PRELOAD = `const fs = require('node:fs');
process.on('exit', () => {
  const f = process.env.TUFKIT_BENCH_RSS_FILE;
  if (!f) return;
  let kb = process.resourceUsage().maxRSS;
  try { kb = Number(/VmHWM:\\s*(\\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'))[1]); } catch {}
  fs.writeFileSync(f, String(kb * 1024));
});
`;

interface CliRun {
  ms: number;
  peakRss: number;
  stdout: string;
}

/** Runs `tufkit args` (the built CLI, a fresh process as a user runs it): wall time and peak RSS. */
async function tufkit(work: string, args: string[]): Promise<CliRun> {
  const preload = join(work, 'rss-preload.cjs');
  const rssFile = join(work, 'rss.txt');
  await writeFile(preload, RSS_PRELOAD);
  const t = performance.now();
  const r = spawnSync(process.execPath, ['-r', preload, CLI, ...args], { cwd: work, env: { ...process.env, TUFKIT_BENCH_RSS_FILE: rssFile }, encoding: 'utf8' });
  const ms = performance.now() - t;
  if (r.status !== 0) throw new Error(`tufkit ${args.join(' ')} failed: ${r.stderr}`);
  return { ms, peakRss: Number(await readFile(rssFile, 'utf8')), stdout: r.stdout };
}

const med = (xs: number[]): number => [...xs].sort((a, b) => a - b)[xs.length >> 1]!;

/** Target counts and bin counts of the release matrix: TUFKIT_BENCH_FILES and TUFKIT_BENCH_BINS, comma-separated. */
function counts(name: string, fallback: string): number[] {
  return (process.env[name] ?? fallback).split(',').map((x) => Number(x.replace(/_/g, '')));
}

const RELEASE_STEPS = ['add', 'sign bin', 'snapshot', 'timestamp', 'publish'] as const;
const RELEASES = 3;
const FIRST_PUBLISH_ROUNDS = 3;

/**
 * Publishing at scale, for each size in TUFKIT_BENCH_FILES (default 100,000) and bin count in
 * TUFKIT_BENCH_BINS (default 1,024 and 16,384): the targets added through the library, every role
 * signed; the first publish through the CLI beside `cp -r` and `cp -al` of the blob store (the copy
 * floors, same file system, each a fresh process; up to 100,000 targets: 3 interleaved rounds, ratios
 * paired round by round), a re-publish of the unchanged repository, then a one-file
 * release through the CLI as a user runs it (targets add, sign its bin, snapshot, timestamp,
 * publish: each a fresh process; median of 3 releases), beside five trivial commands (`tufkit
 * status` of a tiny repository). Goals: the release flat in the repository's size, within a few
 * times the five trivial commands; first publish within 2x of cp -al; re-publish writes nothing.
 */
export async function benchPublish(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'tufkit-bench-publish-'));
  try {
    await mkdir(join(work, 'keys'));
    const keyFile = join(work, 'keys/k.pem');
    const binsFile = join(work, 'keys/bins.pem');
    await tufkit(work, ['key', 'generate', '--type', 'ed25519', '--out', keyFile]);
    await tufkit(work, ['key', 'generate', '--type', 'ed25519', '--out', binsFile]);
    const key = await readSigner(keyFile);
    const bins = await readSigner(binsFile);
    const pub = (s: InMemorySigner): Key => Key.fromPublicJSON(s.publicKey);
    const roles = { root: { keys: [pub(key)] }, targets: { keys: [pub(key)] }, snapshot: { keys: [pub(key)] }, timestamp: { keys: [pub(key)] } };

    // Five trivial commands: the yardstick of a release (each is a process start and a tiny repository).
    const tiny = join(work, 'tiny');
    const tinyRepo = await Repository.init(tiny, { roles });
    await tinyRepo.sign(['root', 'targets'], key);
    await tinyRepo.updateSnapshot(key);
    await tinyRepo.updateTimestamp(key);
    const trivial: CliRun[] = [];
    for (let i = 0; i < 5; i++) trivial.push(await tufkit(work, ['status', tiny]));
    const trivialMs = trivial.reduce((a, r) => a + r.ms, 0);
    console.log(row('five trivial commands (tufkit status, tiny repository)', trivialMs, undefined, `each ${trivial.map((r) => r.ms.toFixed(0)).join(', ')} ms, peak RSS ${mb(Math.max(...trivial.map((r) => r.peakRss)))} MB`));

    const table: string[] = [];
    for (const files of counts('TUFKIT_BENCH_FILES', '100000')) {
      const gen = performance.now();
      const { inputs, bytes } = await generateFiles(join(work, 'files'), files);
      console.log(`publish: ${files.toLocaleString('en')} targets (${mb(bytes)} MB) generated in ${((performance.now() - gen) / 1000).toFixed(1)} s`);
      for (const binCount of counts('TUFKIT_BENCH_BINS', '1024,16384')) {
        const dir = join(work, 'repo');
        const out = join(work, 'out');
        const build = performance.now();
        const repo = await Repository.init(dir, { roles });
        const binNames = await repo.delegate('targets', { name: 'bins', keys: [pub(bins)], threshold: 1, bins: binCount });
        await repo.addTargets(inputs);
        await repo.sign(['root', 'targets'], key);
        await repo.sign(binNames, bins);
        await repo.updateSnapshot(key);
        await repo.updateTimestamp(key);
        const label = `${files.toLocaleString('en')} targets, ${binCount.toLocaleString('en')} bins`;
        console.log(`  ${label}: built in ${((performance.now() - build) / 1000).toFixed(1)} s`);

        if (files <= 100_000) {
          // Interleaved rounds, each a fresh process into a fresh folder: cp -r, cp -al, tufkit publish.
          const cpR: number[] = [];
          const cpAl: number[] = [];
          const firsts: CliRun[] = [];
          // Nothing is deleted between rounds: ext4 skips inodes freed in the last minute when it
          // allocates new ones, which made every file created right after a deletion cost a scan.
          const scratch: string[] = [];
          for (let r = 0; r < FIRST_PUBLISH_ROUNDS; r++) {
            const [copy, links] = ['cp-r', 'cp-al'].map((n) => join(work, `${n}-${r}`)) as [string, string];
            const into = r === FIRST_PUBLISH_ROUNDS - 1 ? out : join(work, `out-${r}`);
            scratch.push(copy, links, ...(into === out ? [] : [into]));
            cpR.push(timed('cp', ['-r', join(dir, 'blobs'), copy]));
            cpAl.push(timed('cp', ['-al', join(dir, 'blobs'), links]));
            firsts.push(await tufkit(work, ['publish', dir, '--out', into]));
          }
          for (const d of scratch) await rm(d, { recursive: true, force: true });
          const first = { ms: med(firsts.map((f) => f.ms)), peakRss: med(firsts.map((f) => f.peakRss)) };
          const ratio = (floor: number[]): string => {
            const rs = firsts.map((f, i) => f.ms / floor[i]!);
            return `${med(rs).toFixed(2)}x (${Math.min(...rs).toFixed(2)}-${Math.max(...rs).toFixed(2)})`;
          };
          console.log(row(`  cp -r blobs (copy floor)`, med(cpR), bytes, `median of ${FIRST_PUBLISH_ROUNDS}`));
          console.log(row(`  cp -al blobs (hard-link floor)`, med(cpAl), bytes, `median of ${FIRST_PUBLISH_ROUNDS}`));
          console.log(row(`  first publish (tufkit publish, fresh process)`, first.ms, bytes, `median of ${FIRST_PUBLISH_ROUNDS}, peak RSS ${mb(first.peakRss)} MB; paired / cp -al = ${ratio(cpAl)}, / cp -r = ${ratio(cpR)}`));
        } else {
          const first = await tufkit(work, ['publish', dir, '--out', out]);
          console.log(row(`  first publish (tufkit publish, fresh process)`, first.ms, bytes, `peak RSS ${mb(first.peakRss)} MB`));
        }
        const again = await tufkit(work, ['publish', dir, '--out', out]);
        const rewritten = /: (\d+) file\(s\) written/.exec(again.stdout)?.[1] ?? '?';
        console.log(row(`  re-publish, nothing changed (fresh process)`, again.ms, undefined, `${rewritten} written, peak RSS ${mb(again.peakRss)} MB`));

        const runs: CliRun[][] = [];
        let lastWritten = 0;
        for (let r = 0; r < RELEASES; r++) {
          const file = join(work, `new-${r}.bin`);
          await writeFile(file, randomBytes(1000 + r));
          const path = `packages/new/release-${r}.bin`;
          const bin = new SuccinctRoles([], 1, Math.log2(binCount), 'bins').getRoleForTarget(path);
          const steps = [
            ['targets', 'add', dir, file, '--path', path],
            ['sign', dir, bin, '--key', binsFile],
            ['snapshot', dir, '--key', keyFile],
            ['timestamp', dir, '--key', keyFile],
            ['publish', dir, '--out', out],
          ];
          const times: CliRun[] = [];
          for (const args of steps) times.push(await tufkit(work, args));
          runs.push(times);
          lastWritten = (await repo.publish(out)).written.length;
        }
        const step = (i: number): Omit<CliRun, 'stdout'> => ({ ms: med(runs.map((r) => r[i]!.ms)), peakRss: med(runs.map((r) => r[i]!.peakRss)) });
        const total = RELEASE_STEPS.reduce((a, _, i) => a + step(i).ms, 0);
        for (const [i, name] of RELEASE_STEPS.entries()) console.log(row(`  one-file release: ${name}`, step(i).ms, undefined, `peak RSS ${mb(step(i).peakRss)} MB`));
        console.log(`    one-file release in all: ${(total / 1000).toFixed(2)} s = ${(total / trivialMs).toFixed(1)}x five trivial commands; a publish after it writes ${lastWritten} file(s)`);
        table.push(
          `| ${files.toLocaleString('en')} | ${binCount.toLocaleString('en')} | ${RELEASE_STEPS.map((_, i) => `${step(i).ms.toFixed(0)} ms, ${mb(step(i).peakRss)} MB`).join(' | ')} | ${(total / 1000).toFixed(2)} s (${(total / trivialMs).toFixed(1)}x) |`,
        );
        await rm(dir, { recursive: true, force: true });
        await rm(out, { recursive: true, force: true });
      }
      await rm(join(work, 'files'), { recursive: true, force: true });
    }
    console.log(`\n  one-file release, median of ${RELEASES}, each step a fresh tufkit process (time, peak RSS); five trivial commands: ${trivialMs.toFixed(0)} ms`);
    console.log(`  | targets | bins | ${RELEASE_STEPS.join(' | ')} | in all (x five trivial) |`);
    console.log(`  | --- | --- | ${RELEASE_STEPS.map(() => '---').join(' | ')} | --- |`);
    for (const line of table) console.log(`  ${line}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
