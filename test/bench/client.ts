import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { floorMs } from './client/floor.js';
import { generateRepo, writeBigTarget, type GeneratedRepo, type RepoSpec } from './client/generate.js';
import { measure, type Measurement } from './client/measure.js';
import { CLIENTS, details, lowerBoundMs, mb, okRuns, pairedRatio, size, stat, table, type Row } from './client/report.js';
import type { ClientName } from './client/runner.js';
import { serveDir } from './client/serve.js';
import { buildPatchedTufjs, projectRoot, stockTufjs } from './client/tufjs-patched.js';

// The client issue's benchmark: a fresh process that trusts root v1 refreshes, looks up two
// targets and downloads a 10 MB one, with tufkit, tuf-js with its quadratic idiom patched (the fair
// anchor), stock tuf-js and the floor (the same requests and files, nothing verified), on the same
// repositories served over HTTP, run by run in turn.

const SPECS: RepoSpec[] = [
  { name: 'flat-1000', label: '1,000 flat', targets: 1_000, binBits: 0 },
  { name: 'flat-10000', label: '10,000 flat', targets: 10_000, binBits: 0 },
  { name: 'flat-100000', label: '100,000 flat', targets: 100_000, binBits: 0 },
  { name: 'bins-256', label: '100,000 in 256 bins', targets: 100_000, binBits: 8 },
  { name: 'bins-1024', label: '100,000 in 1,024 bins', targets: 100_000, binBits: 10 },
];

const DEFAULT_RUNS = 5;
/** Stock tuf-js repeats only while a run takes under this (it is quadratic: one run at 10,000 flat takes about a minute). */
const TUFJS_REPEAT_BELOW_MS = 15_000;
/** Stock tuf-js past this is killed and reported as a lower bound. */
const TUFJS_TIMEOUT_MS = 180_000;
const TIMEOUT_MS = 120_000;
/** Repeated lookups in an already verified role must stay below this to count as "no verification". */
const LOOKUP_LIMIT_US = 1000;

const USAGE = `client [--only ${SPECS.map((s) => s.name).join(',')}] [--runs N]`;

function log(line = ''): void {
  console.log(line);
}

function parseOptions(args: string[]): { specs: RepoSpec[]; runs: number } {
  let specs = SPECS;
  let runs = DEFAULT_RUNS;
  for (let i = 0; i < args.length; i++) {
    const value = args[i + 1];
    if (args[i] === '--only' && value) {
      const names = value.split(',');
      const unknown = names.filter((n) => !SPECS.some((s) => s.name === n));
      if (unknown.length) throw new Error(`bench client: unknown size(s) ${unknown.join(', ')}; usage: ${USAGE}`);
      specs = SPECS.filter((s) => names.includes(s.name));
      i++;
    } else if (args[i] === '--runs' && value && /^[1-9]\d*$/.test(value)) {
      runs = Number(value);
      i++;
    } else {
      throw new Error(`bench client: bad option ${args[i]}; usage: ${USAGE}`);
    }
  }
  return { specs, runs };
}

function versionOf(pkg: string): string {
  const file = createRequire(join(projectRoot(), 'package.json')).resolve(`${pkg}/package.json`);
  return (JSON.parse(readFileSync(file, 'utf8')) as { version: string }).version;
}

function tufkitVersion(): string {
  const root = projectRoot();
  const { version } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string };
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    return `${version} (${commit}${dirty ? ', modified' : ''})`;
  } catch {
    return version;
  }
}

/** The clients that run on `repo` and why the others do not. */
function plan(repo: GeneratedRepo, rows: Row[]): Partial<Record<ClientName, string>> {
  if (repo.spec.binBits !== 0 || repo.spec.targets <= 10_000) return {};
  const x = extrapolateStock(rows, repo.spec.targets);
  return { 'tuf-js': x ? `skipped (quadratic: ${x.lowerBound ? '>' : '~'}${Math.round(x.ms / 60_000)} min extrapolated)` : 'skipped (quadratic)' };
}

/**
 * Rounds of one run per client, in turn, each round starting one client later so that no client
 * always runs first: all meet the same load from the rest of the machine.
 */
async function runRounds(
  repo: GeneratedRepo,
  url: string,
  workDir: string,
  runs: number,
  entries: Record<'tuf-js' | 'tuf-js-patched', string>,
  skipped: Partial<Record<ClientName, string>>,
  checkFlow: (client: ClientName, run: () => Promise<Measurement>) => Promise<Measurement>,
): Promise<Record<ClientName, Measurement[]>> {
  const out = Object.fromEntries(CLIENTS.map((c) => [c, [] as Measurement[]])) as Record<ClientName, Measurement[]>;
  const done = new Set<ClientName>(CLIENTS.filter((c) => skipped[c]));
  for (let round = 0; round < runs && done.size < CLIENTS.length; round++) {
    for (let k = 0; k < CLIENTS.length; k++) {
      const client = CLIENTS[(round + k) % CLIENTS.length]!;
      if (done.has(client)) continue;
      const stock = client === 'tuf-js';
      const entry = client === 'tuf-js' || client === 'tuf-js-patched' ? entries[client] : undefined;
      const run = (): Promise<Measurement> => measure(client, repo, url, workDir, stock ? TUFJS_TIMEOUT_MS : TIMEOUT_MS, entry);
      const m = round === 0 ? await checkFlow(client, run) : await run();
      out[client].push(m);
      if (!m.ok || (stock && m.processMs > TUFJS_REPEAT_BELOW_MS)) done.add(client);
    }
  }
  return out;
}

/** Stock tuf-js at `targets` flat targets, from the power law through its 1,000 and 10,000 points. */
function extrapolateStock(rows: Row[], targets: number): { ms: number; exponent: number; lowerBound: boolean } | undefined {
  const at = (n: number): { ms: number; bound: boolean } | undefined => {
    const row = rows.find((r) => r.repo.spec.binBits === 0 && r.repo.spec.targets === n);
    if (!row) return undefined;
    const bound = lowerBoundMs(row.runs['tuf-js']);
    const value = bound ?? stat(row.runs['tuf-js'], 'processMs').median;
    return Number.isFinite(value) ? { ms: value, bound: bound !== undefined && okRuns(row.runs['tuf-js']).length === 0 } : undefined;
  };
  const a = at(1_000);
  const b = at(10_000);
  if (!a || !b) return undefined;
  const exponent = Math.log(b.ms / a.ms) / Math.log(10);
  return { ms: b.ms * (targets / 10_000) ** exponent, exponent, lowerBound: b.bound };
}

const verdict = (pass: boolean): string => (pass ? 'PASS' : 'MISS');
const r2 = (v: number): string => v.toFixed(2);

/** The goals, each from this run's paired ratios of whole-process medians. */
function goals(rows: Row[]): string[] {
  const out: string[] = [];
  const row = (name: string): Row | undefined => rows.find((r) => r.repo.spec.name === name);
  const vsPatched = (name: string, limit: number, rssStrict: boolean, what: string): void => {
    const r = row(name);
    const label = SPECS.find((s) => s.name === name)!.label;
    if (!r) return void out.push(`-     ${label}: ${what} (not run: pick it with --only)`);
    const ratio = pairedRatio(r.runs.tufkit, r.runs['tuf-js-patched'], 'processMs');
    const k = stat(r.runs.tufkit, 'maxRssBytes').median;
    const j = stat(r.runs['tuf-js-patched'], 'maxRssBytes').median;
    if (!ratio || !Number.isFinite(k) || !Number.isFinite(j)) return void out.push(`MISS  ${label}: ${what} (a run failed)`);
    const rssOk = rssStrict ? k < j : k <= j;
    out.push(
      `${verdict(ratio.median < limit && rssOk)}  ${label}: ${what}: tufkit / patched tuf-js ${r2(ratio.median)}x (${r2(ratio.min)}-${r2(ratio.max)}), ` +
        `peak RSS ${mb(k)} vs ${mb(j)}`,
    );
  };
  const vsFloor = (name: string): void => {
    const r = row(name);
    const label = SPECS.find((s) => s.name === name)!.label;
    if (!r) return void out.push(`-     ${label}: within 1.25x of the floor (not run: pick it with --only)`);
    const ratio = pairedRatio(r.runs.tufkit, r.runs.floor, 'processMs');
    if (!ratio) return void out.push(`MISS  ${label}: within 1.25x of the floor (a run failed)`);
    out.push(`${verdict(ratio.median <= 1.25)}  ${label}: within 1.25x of the floor: tufkit / floor ${r2(ratio.median)}x (${r2(ratio.min)}-${r2(ratio.max)})`);
  };
  for (const name of ['flat-1000', 'flat-10000', 'bins-256', 'bins-1024']) vsPatched(name, 1, false, 'faster than patched tuf-js, no more peak RSS');
  vsPatched('flat-100000', 1 / 3, true, 'at least 3x faster than patched tuf-js (ratio < 0.33), less peak RSS');
  for (const name of ['flat-1000', 'bins-256', 'bins-1024']) vsFloor(name);

  const lookups = rows.map((r) => ({ label: r.repo.spec.label, first: stat(r.runs.tufkit, 'repeatLookupUs').median }));
  if (lookups.length) {
    const worst = Math.max(...lookups.map((l) => l.first));
    out.push(
      `${verdict(worst < LOOKUP_LIMIT_US)}  lookup in an already verified role, no re-verification (< ${LOOKUP_LIMIT_US} us): ` +
        lookups.map((l) => `${l.label} ${l.first.toFixed(0)} us`).join(', '),
    );
  }
  return out;
}

export async function benchClient(args: string[] = []): Promise<void> {
  const { specs, runs } = parseOptions(args);
  // Generated repositories and client dirs live under the OS temp dir, never in the source tree.
  const benchDir = await mkdtemp(join(tmpdir(), 'tufkit-bench-client-'));
  const loads: number[] = [];
  try {
    log('client: fresh process per run, root v1 trusted, refresh + 2 lookups + 10 MB download; tufkit, tuf-js patched, tuf-js stock, floor in turn');
    const patched = await buildPatchedTufjs(log);
    const stock = await stockTufjs();
    log(
      `  node ${process.version}, tufkit ${tufkitVersion()}, tuf-js ${stock.tufjsVersion} (@tufjs/models ${stock.modelsVersion}), undici ${versionOf('undici')}; ` +
        `${availableParallelism()} cores, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')} at start`,
    );
    const big = await writeBigTarget(benchDir);
    const repos: GeneratedRepo[] = [];
    for (const spec of specs) {
      const start = performance.now();
      repos.push(await generateRepo(benchDir, spec, big));
      log(`  generated ${spec.label}: ${size(repos.at(-1)!.targetsMetadataBytes)} of targets metadata to verify (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    }
    const server = await serveDir(benchDir);
    const workDir = join(benchDir, 'clients');
    await mkdir(workDir);
    const rows: Row[] = [];
    try {
      for (const repo of repos) {
        // The floor must make tufkit's requests and write tufkit's files, else it is not the floor of this flow.
        let tufkitFlow: { requests: string[]; files: string[] } | undefined;
        let floorFlow: { requests: string[]; files: string[] } | undefined;
        const checkFlow = async (client: ClientName, run: () => Promise<Measurement>): Promise<Measurement> => {
          if (client !== 'tufkit' && client !== 'floor') return run();
          server.requests.length = 0;
          const m = await run();
          if (!m.ok) return m;
          const seen = { requests: [...server.requests], files: m.files.filter((f) => !f.split('/').pop()!.startsWith('.')) };
          if (client === 'tufkit') tufkitFlow = seen;
          const other = client === 'tufkit' ? floorFlow : tufkitFlow;
          if (client === 'floor') floorFlow = seen;
          if (other && JSON.stringify(other) !== JSON.stringify(seen)) {
            throw new Error(`bench: the floor's flow differs from tufkit's on ${repo.spec.name}: ${JSON.stringify({ tufkit: tufkitFlow, floor: floorFlow })}`);
          }
          return m;
        };
        const skipped = plan(repo, rows);
        loads.push(loadavg()[0]!);
        const measured = await runRounds(repo, server.url, workDir, runs, { 'tuf-js': stock.entry, 'tuf-js-patched': patched.entry }, skipped, checkFlow);
        loads.push(loadavg()[0]!);
        rows.push({ repo, verifyFloor: await floorMs(repo), runs: measured, skipped });
        const flow = tufkitFlow && floorFlow ? `floor made tufkit's ${tufkitFlow.requests.length} requests and wrote its ${tufkitFlow.files.length} files` : 'floor flow not checked (a run failed)';
        log(`  measured ${repo.spec.label} (${flow})`);
      }
    } finally {
      await server.close();
    }

    log();
    for (const line of table(rows)) log(line);
    log(`  ms: whole process (spawn to exit, less the bench's own lookups after the flow), median (min-max) of up to ${runs} runs per client, run in turn;`);
    log('  ratios: median (min-max) of the run-by-run ratios; peak RSS: median maxRSS of the process.');
    log('  tuf-js patched: @tufjs/models with its O(N^2) object-spread reduce rewritten to a loop; floor: a fresh node that makes');
    log("  tufkit's HTTP requests with undici loaded as tufkit loads it and writes the bodies to tufkit's files, verifying nothing.");
    const x = extrapolateStock(rows, 100_000);
    if (x) log(`  stock tuf-js growth from 1,000 to 10,000 flat targets: n^${x.exponent.toFixed(2)}`);
    log(`  load average (1 min) ${Math.min(...loads).toFixed(1)}-${Math.max(...loads).toFixed(1)} during the runs, ${loadavg()[0]!.toFixed(1)} at the end (${availableParallelism()} cores)`);
    log();
    for (const line of details(rows)) log(line);
    log('  in-process verification floor: sha256 + JSON.parse + canonical bytes + one native ed25519 check of the targets metadata');
    log('  the flow verifies (flat: targets.json; bins: snapshot, targets and the 2 bins visited), warm, in the bench process.');
    log();
    for (const line of goals(rows)) log(`  ${line}`);
  } finally {
    await rm(benchDir, { recursive: true, force: true });
  }
}
