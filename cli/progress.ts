// A one-line progress counter on stderr for long work (hashing, copying, conformance scenarios).
// Only on a terminal, and never with --json: redirected output and scripts get no \r noise. A
// few lines of ANSI suffice here, so no dependency.

/** What the reporter needs of a stream (process.stderr, or a stand-in in tests). */
export interface ProgressStream {
  isTTY?: boolean;
  columns?: number;
  write(text: string): boolean;
}

export interface Progress {
  /** The line to show now (drawn at most every `intervalMs`, and only once `delayMs` have passed). */
  update(line: string | (() => string)): void;
  /** Removes the line, if one was drawn. */
  done(): void;
}

export interface ProgressOptions {
  json?: boolean;
  stream?: ProgressStream;
  /** Work that ends sooner shows nothing (default 500 ms). */
  delayMs?: number;
  /** Least time between two redraws (default 100 ms). */
  intervalMs?: number;
  now?: () => number;
}

const SILENT: Progress = { update: () => undefined, done: () => undefined };
const CLEAR_LINE = '\r\x1b[K';

export function startProgress(opts: ProgressOptions = {}): Progress {
  const stream = opts.stream ?? process.stderr;
  if (opts.json || !stream.isTTY) return SILENT;
  const now = opts.now ?? Date.now;
  const delayMs = opts.delayMs ?? 500;
  const intervalMs = opts.intervalMs ?? 100;
  const started = now();
  let drawnAt: number | undefined;
  return {
    update(line) {
      const t = now();
      if (t - started < delayMs || (drawnAt !== undefined && t - drawnAt < intervalMs)) return;
      drawnAt = t;
      const text = `tufkit: ${typeof line === 'function' ? line() : line}`;
      // One character short of the width: a full line would wrap and \r would no longer reach its start.
      const width = Math.max(10, (stream.columns || 80) - 1); // a pty without a size reports 0
      stream.write(CLEAR_LINE + (text.length > width ? `${text.slice(0, width - 1)}…` : text));
    },
    done() {
      if (drawnAt !== undefined) stream.write(CLEAR_LINE);
      drawnAt = undefined;
    },
  };
}

/** `1,234 of 20,000 files, 1.2 GB` */
export function filesLine(verb: string, p: { done: number; total: number; bytes: number }): string {
  return `${verb} ${p.done.toLocaleString('en-US')} of ${p.total.toLocaleString('en-US')} files, ${formatBytes(p.bytes)}`;
}

export function formatBytes(n: number): string {
  if (n < 1000) return `${n} bytes`;
  const units = ['kB', 'MB', 'GB', 'TB'];
  let v = n / 1000;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${v.toFixed(1)} ${units[u]}`;
}
