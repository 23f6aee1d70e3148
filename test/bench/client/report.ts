import type { GeneratedRepo } from './generate.js';
import type { Measurement } from './measure.js';
import type { ClientName } from './runner.js';

export const CLIENTS: readonly ClientName[] = ['tufkit', 'tuf-js-patched', 'tuf-js', 'floor'];

/** What was measured for one repository. */
export interface Row {
  repo: GeneratedRepo;
  /** The in-process verification floor (floor.ts). */
  verifyFloor: { bestMs: number; medianMs: number; firstMs: number };
  /** Runs per client, in the order they ran (run i of each client ran in the same round). */
  runs: Record<ClientName, Measurement[]>;
  /** Why a client was not run on this repository. */
  skipped: Partial<Record<ClientName, string>>;
}

type Ok = Extract<Measurement, { ok: true }>;
export type Field = keyof Omit<Ok, 'ok' | 'files'>;

export const okRuns = (runs: Measurement[]): Ok[] => runs.filter((m): m is Ok => m.ok);

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  if (s.length === 0) return NaN;
  const mid = s.length >> 1;
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export interface Spread {
  median: number;
  min: number;
  max: number;
  n: number;
}

function spreadOf(values: number[]): Spread {
  return { median: median(values), min: Math.min(...values), max: Math.max(...values), n: values.length };
}

/** Median, best (min) and max of one field over the successful runs. */
export function stat(runs: Measurement[], field: Field): Spread {
  return spreadOf(okRuns(runs).map((m) => m[field]));
}

/**
 * a / b run by run over the rounds where both succeeded (they ran back to back, so they met the same
 * load from the rest of the machine), as median and min-max.
 */
export function pairedRatio(a: Measurement[], b: Measurement[], field: Field): Spread | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.ok && y.ok) ratios.push(x[field] / y[field]);
  }
  return ratios.length ? spreadOf(ratios) : undefined;
}

/** A run killed at its time limit: the time it ran is a lower bound. */
export function lowerBoundMs(runs: Measurement[]): number | undefined {
  return runs.find((m) => !m.ok && m.timedOut)?.processMs;
}

export function failure(runs: Measurement[]): string | undefined {
  const f = runs.find((m): m is Extract<Measurement, { ok: false }> => !m.ok && !m.timedOut);
  return f?.error;
}

export const ms = (v: number): string => (!Number.isFinite(v) ? '-' : v >= 100 ? Math.round(v).toLocaleString('en') : v.toFixed(1));
export const mb = (bytes: number): string => (Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(0)} MB` : '-');
export const size = (bytes: number): string => (bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`);
const x2 = (s: Spread | undefined): string => (s ? `${s.median.toFixed(2)}x (${s.min.toFixed(2)}-${s.max.toFixed(2)})` : '-');

/** A client's whole-process time as shown: median (min-max), or why there is none. */
export function timeCell(row: Row, client: ClientName): string {
  const skipped = row.skipped[client];
  if (skipped) return skipped;
  const runs = row.runs[client];
  const bound = lowerBoundMs(runs);
  if (bound !== undefined && okRuns(runs).length === 0) return `> ${ms(bound)} (killed)`;
  const f = failure(runs);
  if (f) return `failed: ${f}`;
  const s = stat(runs, 'processMs');
  return s.n === 0 ? '-' : s.n === 1 ? `${ms(s.median)} (1 run)` : `${ms(s.median)} (${ms(s.min)}-${ms(s.max)})`;
}

function render(head: string[], body: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => '  ' + cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(' | ');
  return [line(head), '  ' + widths.map((w) => '-'.repeat(w)).join('-|-'), ...body.map(line)];
}

export function table(rows: Row[]): string[] {
  const head = ['repository', 'tufkit ms', 'tuf-js patched ms', 'tuf-js stock ms', 'floor ms', 'tufkit / patched', 'tufkit / floor', 'peak RSS tufkit / patched / stock / floor'];
  const body = rows.map((row) => [
    row.repo.spec.label,
    timeCell(row, 'tufkit'),
    timeCell(row, 'tuf-js-patched'),
    timeCell(row, 'tuf-js'),
    timeCell(row, 'floor'),
    x2(pairedRatio(row.runs.tufkit, row.runs['tuf-js-patched'], 'processMs')),
    x2(pairedRatio(row.runs.tufkit, row.runs.floor, 'processMs')),
    CLIENTS.map((c) => mb(stat(row.runs[c], 'maxRssBytes').median).replace(' MB', '')).join(' / ') + ' MB',
  ]);
  return render(head, body);
}

/** Per client: best, in-child phases, CPU; where the time goes. */
export function details(rows: Row[]): string[] {
  const out: string[] = [];
  for (const row of rows) {
    const f = row.verifyFloor;
    out.push(
      `  ${row.repo.spec.label} (targets metadata verified: ${size(row.repo.targetsMetadataBytes)}; in-process verification floor best ${ms(f.bestMs)} ms, median ${ms(f.medianMs)} ms, first ${ms(f.firstMs)} ms)`,
    );
    for (const client of CLIENTS) {
      const runs = row.runs[client];
      const ok = okRuns(runs);
      if (ok.length === 0) continue;
      const m = (field: Field): string => ms(stat(runs, field).median);
      out.push(
        `    ${client.padEnd(14)} ${ok.length} run(s): process best ${ms(stat(runs, 'processMs').min)} ms; medians: boot ${m('bootMs')} + import ${m('importMs')} + refresh ${m('refreshMs')}` +
          ` + 2 lookups ${m('lookupsMs')} + download ${m('downloadMs')} = in-child ${m('wallMs')} ms (best ${ms(stat(runs, 'wallMs').min)}), CPU ${m('cpuMs')} ms` +
          (client === 'tufkit' ? `; repeated lookup ${stat(runs, 'repeatLookupUs').median.toFixed(1)} us, then ${stat(runs, 'repeatLookupMeanUs').median.toFixed(2)} us each` : ''),
      );
    }
    const inChild = pairedRatio(row.runs.tufkit, row.runs['tuf-js-patched'], 'wallMs');
    const inChildFloor = pairedRatio(row.runs.tufkit, row.runs.floor, 'wallMs');
    const cpu = pairedRatio(row.runs.tufkit, row.runs['tuf-js-patched'], 'cpuMs');
    out.push(`    in-child ratios (import to end of download): tufkit / patched ${x2(inChild)}, tufkit / floor ${x2(inChildFloor)}; CPU tufkit / patched ${x2(cpu)}`);
  }
  return out;
}
