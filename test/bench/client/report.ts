import type { GeneratedRepo } from './generate.js';
import type { Measurement } from './measure.js';

/** What was measured for one repository. */
export interface Row {
  repo: GeneratedRepo;
  floor: { bestMs: number; medianMs: number; firstMs: number };
  tufkit: Measurement[];
  /** Empty when tuf-js was not run (see skipped). */
  tufjs: Measurement[];
  tufjsSkipped?: string;
}

type Ok = Extract<Measurement, { ok: true }>;

const okRuns = (runs: Measurement[]): Ok[] => runs.filter((m): m is Ok => m.ok);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[(s.length - 1) >> 1]!;
}

/** Median of one field over the successful runs. */
export function med(runs: Measurement[], field: keyof Omit<Ok, 'ok'>): number {
  return median(okRuns(runs).map((m) => m[field]));
}

/**
 * Best (lowest) wall time over the successful runs: on a shared machine other processes only ever
 * add time, so the best run is the closest to what the code itself costs. Used for both clients.
 */
export function best(runs: Measurement[]): number {
  const ok = okRuns(runs);
  return ok.length === 0 ? NaN : Math.min(...ok.map((m) => m.wallMs));
}

/** A run killed at its time limit: the time it ran is a lower bound. */
export function lowerBoundMs(runs: Measurement[]): number | undefined {
  const killed = runs.find((m) => !m.ok && m.timedOut);
  return killed?.processMs;
}

export function failure(runs: Measurement[]): string | undefined {
  const f = runs.find((m): m is Extract<Measurement, { ok: false }> => !m.ok && !m.timedOut);
  return f?.error;
}

const ms = (v: number): string => (v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1));
const mb = (bytes: number): string => `${(bytes / 1024 / 1024).toFixed(0)} MB`;
export const size = (bytes: number): string => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`);

/** tuf-js's wall time as shown: measured, a lower bound, skipped or failed. */
export function tufjsCell(row: Row): string {
  if (row.tufjsSkipped) return row.tufjsSkipped;
  const bound = lowerBoundMs(row.tufjs);
  if (bound !== undefined) return `> ${ms(bound)} (killed)`;
  const f = failure(row.tufjs);
  if (f) return `failed: ${f}`;
  return ms(best(row.tufjs));
}

/** How many times faster tufkit is (">" when tuf-js was killed). */
export function speedup(row: Row): { value: number; lowerBound: boolean } | undefined {
  const k = best(row.tufkit);
  const bound = lowerBoundMs(row.tufjs);
  if (bound !== undefined) return { value: bound / k, lowerBound: true };
  const j = best(row.tufjs);
  return Number.isFinite(j) && Number.isFinite(k) ? { value: j / k, lowerBound: false } : undefined;
}

export function table(rows: Row[]): string[] {
  const head = ['size', 'tufkit ms', 'tuf-js ms', 'ratio', 'tufkit RSS', 'tuf-js RSS', 'floor ms', 'tufkit/floor'];
  const body = rows.map((row) => {
    const s = speedup(row);
    const k = best(row.tufkit);
    const jRss = med(row.tufjs, 'maxRssBytes');
    return [
      row.repo.spec.label,
      failure(row.tufkit) ? `failed: ${failure(row.tufkit)}` : ms(k),
      tufjsCell(row),
      s ? `${s.lowerBound ? '> ' : ''}${s.value.toFixed(s.value >= 10 ? 0 : 1)}x` : '-',
      mb(med(row.tufkit, 'maxRssBytes')),
      Number.isFinite(jRss) ? mb(jRss) : '-',
      ms(row.floor.bestMs),
      `${(k / row.floor.bestMs).toFixed(2)}x`,
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  return [line(head), '  ' + widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)];
}

/** Per-phase medians, process times and repeated lookups: where the time goes. */
export function details(rows: Row[]): string[] {
  const out: string[] = [];
  for (const row of rows) {
    out.push(`  ${row.repo.spec.label} (targets metadata verified: ${size(row.repo.targetsMetadataBytes)}; floor best ${ms(row.floor.bestMs)} ms, median ${ms(row.floor.medianMs)} ms, first run ${ms(row.floor.firstMs)} ms)`);
    for (const [name, runs] of [['tufkit', row.tufkit], ['tuf-js', row.tufjs]] as const) {
      const ok = okRuns(runs);
      if (ok.length === 0) continue;
      out.push(
        `    ${name.padEnd(6)} ${ok.length} run(s), best wall ${ms(best(runs))} ms, median wall ${ms(med(runs, 'wallMs'))} ms; medians: boot ${ms(med(runs, 'bootMs'))} + import ${ms(med(runs, 'importMs'))} + refresh ${ms(med(runs, 'refreshMs'))}` +
          ` + 2 lookups ${ms(med(runs, 'lookupsMs'))} + download ${ms(med(runs, 'downloadMs'))} ms; whole process ${ms(med(runs, 'processMs'))} ms, CPU ${ms(med(runs, 'cpuMs'))} ms;` +
          ` repeated lookup ${med(runs, 'repeatLookupUs').toFixed(1)} us (then ${med(runs, 'repeatLookupMeanUs').toFixed(2)} us each)`,
      );
    }
  }
  return out;
}
