import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, constants as zlib, gzipSync } from 'node:zlib';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { Key } from '../../src/models/key.js';
import { SuccinctRoles } from '../../src/models/role.js';
import { NGINX_FILE } from '../../src/repository/publish.js';
import { Repository, type TargetInput } from '../../src/repository/repository.js';
import { projectRoot } from './client/tufjs-patched.js';
import { generateFiles } from './repository.js';
import { ClientPool, type RunResult } from './serve/clients.js';
import { startNginx, type AccessEntry, type Nginx } from './serve/nginx.js';

// Serving at scale: a published repository behind the Debian nginx package (127.0.0.1, the caching
// rules publish writes) and many concurrent tufkit clients (the real Updater, each with its own
// metadata dir, spread over a few processes). Phases: every client's first refresh from root v1;
// refreshes of an unchanged repository; and right after each of a few one-file releases (add,
// sign the bin, snapshot, timestamp, publish), one refresh per client. Bytes are what nginx sent
// ($bytes_sent in its access log: headers and body). Also the sizes that drive the cost of a
// refresh, snapshot.json at 1,024 and 16,384 bins with and without snapshot hashes, compressed,
// and what a million clients refreshing hourly would cost at 1,000,000 targets in 16,384 bins.

const env = (name: string, fallback: number): number => {
  const v = process.env[name];
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${v}"`);
  return n;
};

/** The settings, read when the serve bench runs (others take TUFKIT_BENCH_FILES and _BINS as lists). */
function settings() {
  return {
    FILES: env('TUFKIT_BENCH_FILES', 100_000),
    BINS: env('TUFKIT_BENCH_BINS', 1_024),
    CLIENTS: env('TUFKIT_BENCH_CLIENTS', 200),
    WORKERS: env('TUFKIT_BENCH_WORKERS', 2),
    /** Refreshes running at once in each client process. */
    IN_FLIGHT: env('TUFKIT_BENCH_IN_FLIGHT', 16),
    NGINX_WORKERS: env('TUFKIT_BENCH_NGINX_WORKERS', 1),
    REFRESHES: env('TUFKIT_BENCH_REFRESHES', 10),
    SECONDS: env('TUFKIT_BENCH_SECONDS', 20),
    RELEASES: env('TUFKIT_BENCH_RELEASES', 3),
  };
}

/** The arithmetic's scenario (issue 13 point 4). */
const SCALE = { clients: 1_000_000, refreshSeconds: 3600, targets: 1_000_000, bins: 16_384 };

const fmt = (n: number, digits = 0): string => n.toLocaleString('en', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const kb = (bytes: number): string => `${fmt(bytes / 1000, 1)} kB`;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

interface Compressed {
  raw: number;
  gzip1: number;
  gzip9: number;
  brotli: number;
}

function compressedSizes(bytes: Uint8Array): Compressed {
  return {
    raw: bytes.length,
    gzip1: gzipSync(bytes, { level: 1 }).length,
    gzip9: gzipSync(bytes, { level: 9 }).length,
    brotli: brotliCompressSync(bytes, { params: { [zlib.BROTLI_PARAM_QUALITY]: 11, [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length,
  };
}

const sizeCells = (c: Compressed): string => `${kb(c.raw).padStart(10)} | gzip -1 ${kb(c.gzip1).padStart(10)} | gzip -9 ${kb(c.gzip9).padStart(10)} | brotli 11 ${kb(c.brotli).padStart(10)}`;

interface BuiltRepo {
  repo: Repository;
  key: InMemorySigner;
  bins: InMemorySigner;
  /** Paths of the targets added, in order. */
  paths: string[];
}

/** A repository whose targets role delegates to `bins` succinct hash bins listing `inputs`, every role signed. */
async function buildRepo(dir: string, inputs: TargetInput[], bins: number, snapshotHashes: boolean): Promise<BuiltRepo> {
  const key = InMemorySigner.generate('ed25519');
  const binsKey = InMemorySigner.generate('ed25519');
  const pub = (s: InMemorySigner): Key => Key.fromPublicJSON(s.publicKey);
  const repo = await Repository.init(dir, {
    snapshotHashes,
    roles: { root: { keys: [pub(key)] }, targets: { keys: [pub(key)] }, snapshot: { keys: [pub(key)] }, timestamp: { keys: [pub(key)] } },
  });
  const binNames = await repo.delegate('targets', { name: 'bins', keys: [pub(binsKey)], threshold: 1, bins });
  await repo.addTargets(inputs);
  await repo.sign(['root', 'targets'], key);
  await repo.sign(binNames, binsKey);
  await repo.updateSnapshot(key);
  await repo.updateTimestamp(key);
  return { repo, key, bins: binsKey, paths: inputs.map((t) => t.path) };
}

/**
 * One target path per bin. Bins listing the same (no) targets have the same bytes and hashes,
 * which would make a snapshot of mostly empty bins compress far better than a real one.
 */
function onePathPerBin(bins: number): string[] {
  const succinct = new SuccinctRoles([], 1, Math.log2(bins), 'bins');
  const byBin = new Map<string, string>();
  for (let i = 0; byBin.size < bins; i++) {
    const path = `packages/fill/pkg-${i}.bin`;
    const bin = succinct.getRoleForTarget(path);
    if (!byBin.has(bin)) byBin.set(bin, path);
  }
  return [...byBin.values()];
}

const roleBytes = (repo: Repository, name: string): Promise<Buffer> => readFile(repo.layout.roleFile(name));

interface SnapshotSize {
  bins: number;
  hashes: boolean;
  size: Compressed;
}

/**
 * snapshot.json of a repository with `bins` bins, one target in each: its size depends on the
 * number of bins and their versions (and lengths' digits), not on how many targets they list.
 */
async function snapshotSize(work: string, bins: number, hashes: boolean): Promise<SnapshotSize> {
  const dir = join(work, `size-${bins}-${hashes ? 'hashes' : 'versions'}`);
  try {
    const { inputs } = await generateFiles(join(dir, 'files'), bins);
    onePathPerBin(bins).forEach((path, i) => (inputs[i]!.path = path));
    const { repo } = await buildRepo(join(dir, 'repo'), inputs, bins, hashes);
    return { bins, hashes, size: compressedSizes(await roleBytes(repo, 'snapshot')) };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** Least-squares fit of a bin's size over the number of targets it lists: the fixed part and the bytes each target adds. */
async function binSizeModel(repo: Repository, names: string[]): Promise<{ empty: number; perTarget: number }> {
  const points = await Promise.all(
    names.map(async (n) => {
      const bytes = await roleBytes(repo, n);
      return { x: Object.keys((JSON.parse(bytes.toString('utf8')) as { signed: { targets: object } }).signed.targets).length, y: bytes.length };
    }),
  );
  const mx = points.reduce((a, p) => a + p.x, 0) / points.length;
  const my = points.reduce((a, p) => a + p.y, 0) / points.length;
  const sxy = points.reduce((a, p) => a + (p.x - mx) * (p.y - my), 0);
  const sxx = points.reduce((a, p) => a + (p.x - mx) ** 2, 0);
  const perTarget = sxx === 0 ? 0 : sxy / sxx;
  return { empty: my - perTarget * mx, perTarget };
}

/** What nginx's access log says about one phase. */
interface Traffic {
  requests: number;
  bytesSent: number;
  bodyBytes: number;
  /** Requests and bytes sent per kind of file (timestamp, snapshot, targets, bin, root, other) and status. */
  byKind: Map<string, { requests: number; bytesSent: number }>;
}

function kindOf(e: AccessEntry): string {
  const name = e.uri.slice(e.uri.lastIndexOf('/') + 1);
  const kind =
    name === 'timestamp.json'
      ? 'timestamp.json'
      : /^\d+\.snapshot\.json$/.test(name)
        ? 'V.snapshot.json'
        : /^\d+\.root\.json$/.test(name)
          ? 'N.root.json'
          : /^\d+\.targets\.json$/.test(name)
            ? 'V.targets.json'
            : /^\d+\.bins-[0-9a-f]+\.json$/.test(name)
              ? 'V.bins-x.json'
              : e.uri;
  return `${kind} ${e.status}`;
}

function traffic(entries: AccessEntry[]): Traffic {
  const byKind = new Map<string, { requests: number; bytesSent: number }>();
  for (const e of entries) {
    const k = kindOf(e);
    const slot = byKind.get(k) ?? { requests: 0, bytesSent: 0 };
    slot.requests++;
    slot.bytesSent += e.bytesSent;
    byKind.set(k, slot);
  }
  return {
    requests: entries.length,
    bytesSent: entries.reduce((a, e) => a + e.bytesSent, 0),
    bodyBytes: entries.reduce((a, e) => a + e.bodyBytes, 0),
    byKind,
  };
}

interface Phase {
  label: string;
  run: RunResult;
  /** The access log's lines of the phase, and what they add up to. */
  entries: AccessEntry[];
  traffic: Traffic;
  nginxCpuMs: number;
}

async function phase(label: string, nginx: Nginx, body: () => Promise<RunResult>): Promise<Phase> {
  await nginx.takeLog();
  const cpu0 = await nginx.workerCpuMs();
  const run = await body();
  const nginxCpuMs = (await nginx.workerCpuMs()) - cpu0;
  const entries = await nginx.takeLog();
  return { label, run, entries, traffic: traffic(entries), nginxCpuMs };
}

function phaseLines(p: Phase): string[] {
  const n = p.run.latenciesMs.length;
  const sorted = [...p.run.latenciesMs].sort((a, b) => a - b);
  const perRefresh = (x: number): string => fmt(x / Math.max(1, n), 2);
  const lines = [
    `  ${p.label}: ${fmt(n)} refreshes${p.run.failures ? `, ${p.run.failures} FAILED (first: ${p.run.firstFailure})` : ''} in ${fmt(p.run.wallMs / 1000, 2)} s = ${fmt(n / (p.run.wallMs / 1000), 1)} refreshes/s; ` +
      `latency p50 ${fmt(percentile(sorted, 50), 1)} ms, p99 ${fmt(percentile(sorted, 99), 1)} ms, max ${fmt(sorted[sorted.length - 1] ?? NaN, 1)} ms`,
    `    per refresh: ${perRefresh(p.traffic.requests)} requests, ${fmt(p.traffic.bytesSent / Math.max(1, n))} bytes sent by nginx (${fmt(p.traffic.bodyBytes / Math.max(1, n))} of them bodies); ` +
      `CPU per refresh: clients ${fmt(p.run.clientCpuMs / Math.max(1, n), 2)} ms, nginx ${fmt((p.nginxCpuMs * 1000) / Math.max(1, p.traffic.requests), 0)} us per request`,
  ];
  for (const [kind, t] of [...p.traffic.byKind].sort()) {
    lines.push(`      ${kind.padEnd(22)} ${perRefresh(t.requests).padStart(6)} per refresh, ${fmt(t.bytesSent / Math.max(1, t.requests)).padStart(9)} bytes each`);
  }
  return lines;
}

function versions(): string {
  const root = projectRoot();
  const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  const commit = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8' }).stdout.trim();
  return `node ${process.version}, tufkit ${pkg.version}${commit ? ` (${commit})` : ''}`;
}

const load = (): string => loadavg().map((l) => l.toFixed(2)).join(' ');

export async function benchServe(): Promise<void> {
  const { FILES, BINS, CLIENTS, WORKERS, IN_FLIGHT, NGINX_WORKERS, REFRESHES, SECONDS, RELEASES } = settings();
  const work = await mkdtemp(join(tmpdir(), 'tufkit-bench-serve-'));
  let nginx: Nginx | undefined;
  let pool: ClientPool | undefined;
  const cleanUp = async (): Promise<void> => {
    await pool?.stop(); // the clients write into `work` until they have exited
    await nginx?.stop();
    await rm(work, { recursive: true, force: true });
  };
  // Interrupted (Ctrl-C, kill), nothing below gets to its `finally`: clean up, then exit.
  const onSignal = (signal: NodeJS.Signals): void => void cleanUp().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  process.once('SIGINT', onSignal).once('SIGTERM', onSignal);
  try {
    console.log(`serve: ${versions()}; load average at start ${load()}`);

    // What snapshot.json costs: it lists every bin, whatever changed.
    const sizes: SnapshotSize[] = [];
    for (const bins of [1_024, 16_384]) for (const hashes of [true, false]) sizes.push(await snapshotSize(work, bins, hashes));
    console.log('  snapshot.json of repositories with one target in each bin, every bin at version 1 (its size depends on bins and versions, not targets):');
    for (const s of sizes) console.log(`    ${fmt(s.bins).padStart(6)} bins, ${s.hashes ? 'with hashes   ' : 'versions only '} ${sizeCells(s.size)}`);

    // The repository served.
    const t0 = performance.now();
    const built = await buildRepo(join(work, 'repo'), (await generateFiles(join(work, 'files'), FILES)).inputs, BINS, true);
    const { repo } = built;
    const out = join(work, 'out');
    await repo.publish(out);
    console.log(`  served: ${fmt(FILES)} targets in ${fmt(BINS)} bins (snapshot hashes on, consistent snapshots), built and published in ${fmt((performance.now() - t0) / 1000, 1)} s`);

    const binNames = (await repo.roleNames()).filter((n) => n.startsWith('bins-'));
    const binFiles = (await Promise.all(binNames.map(async (name) => ({ name, size: (await roleBytes(repo, name)).length })))).sort((a, b) => a.size - b.size);
    const binSizes = binFiles.map((b) => b.size);
    const medianBin = binSizes[binSizes.length >> 1]!;
    const medianBinName = binFiles[binFiles.length >> 1]!.name;
    const binModel = await binSizeModel(repo, binNames);
    for (const [label, bytes] of [
      ['timestamp.json', await roleBytes(repo, 'timestamp')],
      ['snapshot.json', await roleBytes(repo, 'snapshot')],
      ['targets.json', await roleBytes(repo, 'targets')],
      [`median bin (${medianBinName}.json)`, await roleBytes(repo, medianBinName)],
    ] as const) {
      console.log(`    ${label.padEnd(30)} ${sizeCells(compressedSizes(bytes))}`);
    }
    console.log(
      `    bins: ${fmt(binSizes[0]!)} / ${fmt(medianBin)} / ${fmt(binSizes[binSizes.length - 1]!)} bytes (min / median / max); ` +
        `fitted: ${fmt(binModel.empty)} bytes + ${fmt(binModel.perTarget, 1)} per target listed`,
    );

    nginx = await startNginx(out, join(out, NGINX_FILE), join(work, 'nginx'), NGINX_WORKERS);
    const metadataBaseUrl = `${nginx.url}/metadata/`;
    const targetBaseUrl = `${nginx.url}/targets/`;
    pool = await ClientPool.start(join(work, 'clients'), join(out, 'metadata', '1.root.json'), CLIENTS, WORKERS, IN_FLIGHT, metadataBaseUrl, targetBaseUrl);
    const activePool = pool;
    console.log(
      `  nginx ${nginx.version} (${nginx.workers} worker process(es), no gzip) on ${nginx.url}; ${fmt(CLIENTS)} tufkit clients in ${WORKERS} processes, ${IN_FLIGHT} refreshing at once in each; ` +
        `a refresh: new Updater, refresh(), one lookup that must find the newest target; bytes: nginx's $bytes_sent (headers + body)`,
    );

    let lookupPath = built.paths[built.paths.length >> 1]!;
    let snapshotVersion = (await repo.load('snapshot')).signed.version;
    const phases: Phase[] = [];
    phases.push(await phase('first refresh of each client (from root v1)', nginx, () => activePool.run({ lookupPath, refreshes: 1, seconds: 600, snapshotVersion })));
    phases.push(
      await phase(`unchanged repository (each client up to ${REFRESHES} refreshes or ${SECONDS} s)`, nginx, () =>
        activePool.run({ lookupPath, refreshes: REFRESHES, seconds: SECONDS, snapshotVersion }),
      ),
    );

    const releaseMs: number[] = [];
    const after: Phase[] = [];
    for (let r = 0; r < RELEASES; r++) {
      const extra = await generateFiles(join(work, `release-${r}`), 1);
      const path = `packages/released/r${r}-${Date.now()}.bin`;
      const start = performance.now();
      const [added] = await repo.addTargets([{ file: extra.inputs[0]!.file, path }]);
      await repo.sign(added!.role, built.bins);
      snapshotVersion = await repo.updateSnapshot(built.key);
      await repo.updateTimestamp(built.key);
      await repo.publish(out);
      releaseMs.push(performance.now() - start);
      lookupPath = path;
      after.push(await phase(`after release ${r + 1}`, nginx, () => activePool.run({ lookupPath, refreshes: 1, seconds: SECONDS, snapshotVersion })));
    }
    // One phase for all releases: the refreshes right after each.
    const entries = after.flatMap((p) => p.entries);
    const merged: Phase = {
      label: `right after a one-file release (${RELEASES} releases, one refresh per client after each)`,
      run: {
        latenciesMs: after.flatMap((p) => p.run.latenciesMs),
        failures: after.reduce((a, p) => a + p.run.failures, 0),
        firstFailure: after.find((p) => p.run.firstFailure)?.run.firstFailure,
        wallMs: after.reduce((a, p) => a + p.run.wallMs, 0),
        clientCpuMs: after.reduce((a, p) => a + p.run.clientCpuMs, 0),
      },
      entries,
      traffic: traffic(entries),
      nginxCpuMs: after.reduce((a, p) => a + p.nginxCpuMs, 0),
    };
    phases.push(merged);
    for (const p of phases) for (const line of phaseLines(p)) console.log(line);
    console.log(`  one-file releases (add, sign its bin, snapshot, timestamp, publish): ${releaseMs.map((ms) => `${fmt(ms / 1000, 2)} s`).join(', ')}`);
    console.log(`  load average at the end ${load()}`);

    const refetched = phases[1]!.traffic.byKind.get('V.snapshot.json 200')?.requests ?? 0;
    if (refetched > 0) {
      console.log(`  NOTE: ${fmt(refetched)} snapshot.json download(s) while nothing changed: the clients did not use their cached copy (${fmt((await roleBytes(repo, 'snapshot')).length)} bytes)`);
    }

    // The scenario on paper, from the numbers above.
    const unchanged = phases[1]!;
    const perRefresh = (p: Phase): { requests: number; bytes: number } => ({
      requests: p.traffic.requests / p.run.latenciesMs.length,
      bytes: p.traffic.bytesSent / p.run.latenciesMs.length,
    });
    const u = perRefresh(unchanged);
    const a = perRefresh(merged);
    const servedSnapshot = (await roleBytes(repo, 'snapshot')).length;
    const big = sizes.find((s) => s.bins === SCALE.bins && s.hashes)!;
    const bigNoHashes = sizes.find((s) => s.bins === SCALE.bins && !s.hashes)!;
    const scaleBin = Math.round(binModel.empty + (SCALE.targets / SCALE.bins) * binModel.perTarget);
    // After a release: what was measured, with this repository's snapshot and bin swapped for those at scale.
    const servedBin = merged.traffic.byKind.get('V.bins-x.json 200');
    const binPerRefresh = (servedBin?.requests ?? 0) / merged.run.latenciesMs.length;
    const avgServedBin = servedBin ? servedBin.bytesSent / servedBin.requests : 0;
    const scaleAfter = (snapshot: number): number => a.bytes - servedSnapshot + snapshot + binPerRefresh * (scaleBin - avgServedBin);
    const rate = SCALE.clients / SCALE.refreshSeconds;
    const line = (label: string, requests: number, bytes: number): string =>
      `    ${label.padEnd(44)} ${fmt(requests, 2)} requests, ${fmt(bytes)} bytes per refresh -> ${fmt(rate * requests)} requests/s, ${fmt((rate * bytes) / 1e6, 2)} MB/s = ${fmt((rate * bytes * 8) / 1e9, 3)} Gbit/s`;
    console.log(
      `  on paper: ${fmt(SCALE.clients)} clients refreshing every ${SCALE.refreshSeconds / 3600} h = ${fmt(rate, 1)} refreshes/s, ${fmt(SCALE.targets)} targets in ${fmt(SCALE.bins)} bins ` +
        `(snapshot.json ${kb(big.size.raw)}, a bin of ${fmt(SCALE.targets / SCALE.bins)} targets about ${kb(scaleBin)}):`,
    );
    console.log(line('no release since the last refresh', u.requests, u.bytes));
    console.log(line('a release since (snapshot hashes)', a.requests, scaleAfter(big.size.raw)));
    console.log(line('a release since, gzip -9 snapshot', a.requests, scaleAfter(big.size.gzip9)));
    console.log(line('a release since (versions only in snapshot)', a.requests, scaleAfter(bigNoHashes.size.raw)));
    console.log(line('a release since, versions only, gzip -9', a.requests, scaleAfter(bigNoHashes.size.gzip9)));
    const usPerRequest = (p: Phase): number => (p.nginxCpuMs * 1000) / Math.max(1, p.traffic.requests);
    console.log(
      `    nginx CPU as measured here (${fmt(usPerRequest(unchanged))} us per request unchanged, ${fmt(usPerRequest(merged))} us after a release, at this repository's sizes): ` +
        `${fmt((rate * u.requests * usPerRequest(unchanged)) / 1e6, 2)} core(s) with no release, ${fmt((rate * a.requests * usPerRequest(merged)) / 1e6, 2)} with one`,
    );
    const failed = phases.reduce((a, p) => a + p.run.failures, 0);
    if (failed > 0) throw new Error(`serve bench: ${failed} refresh(es) failed (see above)`);
  } finally {
    process.off('SIGINT', onSignal).off('SIGTERM', onSignal);
    await cleanUp();
  }
}
