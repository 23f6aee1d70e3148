import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { floorMs } from './client/floor.js';
import { generateRepo, writeBigTarget, type GeneratedRepo, type RepoSpec } from './client/generate.js';
import { measure, type Measurement } from './client/measure.js';
import { best, details, lowerBoundMs, med, size, speedup, table, type Row } from './client/report.js';
import { serveDir } from './client/serve.js';

// The client issue's benchmark: a fresh process that trusts root v1 refreshes, looks up two
// targets and downloads a 10 MB one, with tufkit and with tuf-js (devDependency) on the same
// repositories served over HTTP in the same run, beside the "floor" (hash + parse + canonical
// bytes + one signature check of the same metadata).

const SPECS: RepoSpec[] = [
  { name: 'flat-1000', label: '1,000 flat', targets: 1_000, binBits: 0 },
  { name: 'flat-10000', label: '10,000 flat', targets: 10_000, binBits: 0 },
  { name: 'flat-100000', label: '100,000 flat', targets: 100_000, binBits: 0 },
  { name: 'bins-1024', label: '100,000 in 1,024 bins', targets: 100_000, binBits: 10 },
];

/** Runs per repository and client (best wall time reported); tuf-js repeats only while a run takes under TUFJS_REPEAT_BELOW_MS. */
const RUNS = 5;
const TUFJS_REPEAT_BELOW_MS = 15_000;
/** tuf-js grows with the square of the target count: past this it is killed and reported as a lower bound. */
const TUFJS_TIMEOUT_MS = 180_000;
const TUFKIT_TIMEOUT_MS = 120_000;
/** Repeated lookups in an already verified role must stay below this to count as "no verification". */
const LOOKUP_LIMIT_US = 1000;

function log(line = ''): void {
  console.log(line);
}

/** Runs of both clients, alternating so that both meet the same load from the rest of the machine. */
async function runs(repo: GeneratedRepo, url: string, workDir: string, withTufjs: boolean): Promise<{ tufkit: Measurement[]; tufjs: Measurement[] }> {
  const tufkit: Measurement[] = [];
  const tufjs: Measurement[] = [];
  let tufjsDone = !withTufjs;
  let tufkitDone = false;
  for (let i = 0; i < RUNS && !(tufkitDone && tufjsDone); i++) {
    if (!tufkitDone) {
      const m = await measure('tufkit', repo, url, workDir, TUFKIT_TIMEOUT_MS);
      tufkit.push(m);
      tufkitDone = !m.ok;
    }
    if (!tufjsDone) {
      const m = await measure('tuf-js', repo, url, workDir, TUFJS_TIMEOUT_MS);
      tufjs.push(m);
      tufjsDone = !m.ok || m.processMs > TUFJS_REPEAT_BELOW_MS;
    }
  }
  return { tufkit, tufjs };
}

/** tuf-js at `targets` flat targets, from the power law through its 1,000 and 10,000 points. */
function extrapolateTufjs(rows: Row[], targets: number): { ms: number; exponent: number; lowerBound: boolean } | undefined {
  const at = (n: number): { ms: number; bound: boolean } | undefined => {
    const row = rows.find((r) => r.repo.spec.binBits === 0 && r.repo.spec.targets === n);
    if (!row) return undefined;
    const bound = lowerBoundMs(row.tufjs);
    const value = bound ?? best(row.tufjs);
    return Number.isFinite(value) ? { ms: value, bound: bound !== undefined } : undefined;
  };
  const a = at(1_000);
  const b = at(10_000);
  if (!a || !b) return undefined;
  const exponent = Math.log(b.ms / a.ms) / Math.log(10);
  return { ms: b.ms * (targets / 10_000) ** exponent, exponent, lowerBound: b.bound };
}

function verdict(pass: boolean): string {
  return pass ? 'PASS' : 'MISS';
}

function verdicts(rows: Row[]): string[] {
  const flat = (n: number): Row | undefined => rows.find((r) => r.repo.spec.binBits === 0 && r.repo.spec.targets === n);
  const bins = rows.find((r) => r.repo.spec.binBits !== 0);
  const out: string[] = [];

  const r10 = flat(10_000);
  const s10 = r10 && speedup(r10);
  out.push(
    s10
      ? `${verdict(s10.value >= 50)}  10,000 flat targets: tufkit ${s10.lowerBound ? 'more than ' : ''}${s10.value.toFixed(0)}x faster than tuf-js (goal >= 50x)`
      : 'MISS  10,000 flat targets: no ratio (a run failed)',
  );

  const r100 = flat(100_000);
  if (r100) {
    const k = best(r100.tufkit);
    const floor = r100.floor.bestMs;
    const ratio = k / floor;
    const refresh = Math.min(...r100.tufkit.flatMap((m) => (m.ok ? [m.refreshMs] : [])));
    out.push(
      `${verdict(ratio <= 2)}  100,000 flat targets: tufkit ${k.toFixed(0)} ms = ${ratio.toFixed(2)}x the floor (${floor.toFixed(0)} ms) (goal <= 2x; ` +
        `best refresh alone ${refresh.toFixed(0)} ms = ${(refresh / floor).toFixed(2)}x)`,
    );
  }

  const rss = rows
    .filter((r) => Number.isFinite(med(r.tufjs, 'maxRssBytes')))
    .map((r) => ({ label: r.repo.spec.label, k: med(r.tufkit, 'maxRssBytes'), j: med(r.tufjs, 'maxRssBytes') }));
  const unmeasured = rows.filter((r) => !r.tufjsSkipped && !Number.isFinite(med(r.tufjs, 'maxRssBytes'))).map((r) => r.repo.spec.label);
  const rssText = rss.map((x) => `${x.label} ${(x.k / 2 ** 20).toFixed(0)} vs ${(x.j / 2 ** 20).toFixed(0)} MB`).join(', ');
  out.push(
    `${verdict(rss.length > 0 && rss.every((x) => x.k < x.j))}  peak RSS below tuf-js at every size measured: ${rssText}` +
      (unmeasured.length ? ` (no tuf-js RSS at ${unmeasured.join(', ')}: run killed or failed)` : ''),
  );

  const sb = bins && speedup(bins);
  out.push(sb ? `${verdict(sb.value > 1)}  1,024-bin flow: tufkit ${sb.value.toFixed(1)}x faster than tuf-js` : 'MISS  1,024-bin flow: no ratio (a run failed)');

  const lookups = rows.map((r) => ({ label: r.repo.spec.label, first: med(r.tufkit, 'repeatLookupUs'), mean: med(r.tufkit, 'repeatLookupMeanUs') }));
  const worst = Math.max(...lookups.map((l) => l.first));
  out.push(
    `${verdict(worst < LOOKUP_LIMIT_US)}  lookup in an already verified role, no re-verification: ` +
      lookups.map((l) => `${l.label} ${l.first.toFixed(0)} us (${l.mean.toFixed(1)} us avg)`).join(', ') +
      ` (goal: microseconds, < ${LOOKUP_LIMIT_US} us)`,
  );

  out.push(
    'PASS  download hashed while it streams (code reading): Updater.downloadTarget feeds every chunk from the capped fetch to ' +
      'StreamingVerifier.update as it is written to the temp file; finish() checks length and hashes before the rename; the file is never read back',
  );
  return out;
}

export async function benchClient(): Promise<void> {
  // Generated repositories and client dirs live under the OS temp dir, never in the source tree.
  const benchDir = await mkdtemp(join(tmpdir(), 'tufkit-bench-client-'));
  try {
    log('client: fresh process, root v1 trusted, refresh + 2 lookups + 10 MB download (tufkit vs tuf-js, same server, same run)');
    const tufjsVersion = (createRequire(import.meta.url)('tuf-js/package.json') as { version: string }).version;
    log(`  node ${process.version}, tuf-js ${tufjsVersion}, ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)} at start`);
    const big = await writeBigTarget(benchDir);
    const repos: GeneratedRepo[] = [];
    for (const spec of SPECS) {
      const start = performance.now();
      const repo = await generateRepo(benchDir, spec, big);
      repos.push(repo);
      log(`  generated ${spec.label}: ${size(repo.targetsMetadataBytes)} of targets metadata to verify (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    }
    const server = await serveDir(benchDir);
    const workDir = join(benchDir, 'clients');
    await mkdir(workDir);
    const rows: Row[] = [];
    try {
      for (const repo of repos) {
        const row: Row = { repo, floor: await floorMs(repo), tufkit: [], tufjs: [] };
        const skipTufjs = repo.spec.binBits === 0 && repo.spec.targets > 10_000;
        Object.assign(row, await runs(repo, server.url, workDir, !skipTufjs));
        if (skipTufjs) {
          const x = extrapolateTufjs(rows, repo.spec.targets);
          row.tufjsSkipped = x ? `skipped (quadratic: ${x.lowerBound ? '>' : '~'}${Math.round(x.ms / 60_000)} min extrapolated)` : 'skipped (quadratic)';
        }
        rows.push(row);
        log(`  measured ${repo.spec.label}`);
      }
    } finally {
      await server.close();
    }

    log();
    for (const line of table(rows)) log(line);
    log(`  ms: wall time inside a fresh child, from before importing the client to the end of the download, best of up to ${RUNS} runs`);
    log('  (runs of the two clients alternate); ratio: tuf-js ms / tufkit ms; RSS: process.resourceUsage().maxRSS at the end, median;');
    log('  floor: sha256 + JSON.parse + canonical bytes of signed + one native ed25519 check, in this process, warm, best of 7');
    log('  (flat: targets.json; bins: snapshot, targets and the 2 bins visited)');
    const x = extrapolateTufjs(rows, 100_000);
    if (x) log(`  tuf-js growth from 1,000 to 10,000 flat targets: n^${x.exponent.toFixed(2)}`);
    const k10 = rows.find((r) => r.repo.spec.name === 'flat-10000');
    const k100 = rows.find((r) => r.repo.spec.name === 'flat-100000');
    if (k10 && k100) {
      const growth = Math.log(best(k100.tufkit) / best(k10.tufkit)) / Math.log(10);
      log(`  tufkit growth from 10,000 to 100,000 flat targets: n^${growth.toFixed(2)} (fixed costs included)`);
    }
    log(`  load average ${loadavg()[0]!.toFixed(1)} at the end: wall times stretch with the machine's load, CPU times (below) much less`);
    log();
    for (const line of details(rows)) log(line);
    log();
    for (const line of verdicts(rows)) log(`  ${line}`);
  } finally {
    await rm(benchDir, { recursive: true, force: true });
  }
}
