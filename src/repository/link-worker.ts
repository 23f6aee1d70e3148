import * as fs from 'node:fs';
import { dirname } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { Worker } from 'node:worker_threads';

/*
 * Publishing 100,000 targets into OUT on the repository's file system is one stat (the blob's size)
 * and one hard link per target: what `cp -al` pays. Made as synchronous calls on a thread of their
 * own they cost about that, while the main thread goes on reading the roles that list the next
 * targets (issued from the main thread as asynchronous calls, each one's trip through the
 * thread pool cost the main thread about as much again). Once the main thread has sent the last
 * batch it takes batches the thread has not started, from the end, so both finish together.
 */

/** One target file to link into OUT: its blob, where it goes, and the size the blob must have. */
export interface LinkRequest {
  blob: string;
  dest: string;
  size: number;
}

/** How one batch went: files linked and their bytes, and the positions of those left for a copy; or where it stopped. */
type BatchResult = { linked: number; bytes: number; later: number[] } | { fail: number; blob: true } | { fail: number; code: string; message: string };

/**
 * Stats and links one batch (blob NUL dest NUL size NUL, for each request; no path holds a NUL).
 * Run by the thread and by the main thread alike: self-contained, as its source text is what the
 * thread runs. A blob missing or of the wrong size stops the batch there.
 */
function linkBatch(files: typeof fs, parent: typeof dirname, text: string, state: { linking: boolean }): BatchResult {
  const items = text.split('\0');
  const later: number[] = [];
  let linked = 0;
  let bytes = 0;
  for (let i = 0, n = 0; i + 2 < items.length; i += 3, n++) {
    const blob = items[i]!;
    const dest = items[i + 1]!;
    const size = Number(items[i + 2]);
    let st: fs.Stats | undefined;
    try {
      st = files.statSync(blob, { throwIfNoEntry: false });
    } catch {
      st = undefined;
    }
    if (!st?.isFile() || st.size !== size) return { fail: n, blob: true };
    if (!state.linking) {
      later.push(n);
      continue;
    }
    try {
      try {
        files.linkSync(blob, dest);
      } catch (e) {
        // Its folder is made on first need, so a publish refused early leaves OUT as it was.
        if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
        files.mkdirSync(parent(dest), { recursive: true });
        files.linkSync(blob, dest);
      }
    } catch (e) {
      const code = String((e as { code?: unknown }).code ?? '');
      // Another file system, or one without hard links: the rest are copied. Already there: compared.
      if (['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code)) state.linking = false;
      else if (code !== 'EEXIST' && code !== 'EMLINK') return { fail: n, code, message: (e as Error).message };
      later.push(n);
      continue;
    }
    linked++;
    bytes += size;
  }
  return { linked, bytes, later };
}

/** The thread: takes each batch the main thread has not claimed (claims[id] 0 -> 1), in the order sent. */
function linkThread(req: (id: string) => unknown, batch: typeof linkBatch, claims: Int32Array): void {
  const { parentPort } = req('node:worker_threads') as typeof import('node:worker_threads');
  const files = req('node:fs') as typeof fs;
  const { dirname: parent } = req('node:path') as typeof import('node:path');
  const port = parentPort!;
  const state = { linking: true };
  let failed = false;
  port.on('message', (m: { id: number; text: string } | null) => {
    if (m === null) return port.postMessage({ end: true });
    if (failed || Atomics.compareExchange(claims, m.id, 0, 1) !== 0) return;
    const r = batch(files, parent, m.text, state);
    if ('fail' in r) failed = true;
    port.postMessage({ id: m.id, r });
  });
}

/** A batch as the thread reads it: blob NUL dest NUL size NUL, for each request (no path holds a NUL). */
function textOf(items: readonly LinkRequest[]): string {
  let text = '';
  for (const it of items) text += `${it.blob}\0${it.dest}\0${it.size}\0`;
  return text;
}

/** Why linking stopped: the request's blob is missing or of the wrong size, or its link failed. */
export type LinkFailure = { blob: true } | { error: Error & { code: string } };

/**
 * Hard links made on a worker thread (and, at the end, on the main thread), requests sent in
 * batches as they are known. A blob missing or of the wrong size stops it; finish() then rejects.
 */
export class TargetLinker<T extends LinkRequest> {
  private worker: Worker | undefined;
  private readonly claims: Int32Array;
  private readonly batches: (readonly T[])[] = [];
  /** No thread could be started (workers not allowed here): finish() links every batch itself. */
  private noThread = false;
  private readonly results = new Map<number, BatchResult>();
  private linked = 0;
  private bytes = 0;
  private ended: (() => void) | undefined;
  private failure: ((e: unknown) => void) | undefined;
  /** Why the thread stopped before finish() waited for it. */
  private broken: { e: unknown } | undefined;

  constructor(
    /** The most batches that will be sent. */
    capacity: number,
    /** Called as batches are done: files linked so far, and their bytes. */
    private readonly onDone: (linked: number, bytes: number) => void,
    /** The error finish() rejects with when linking stopped at `item`. */
    private readonly toError: (item: T, failure: LinkFailure) => Error,
  ) {
    this.claims = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, capacity)));
  }

  /** Queues `items` (started on first use). */
  send(items: readonly T[]): void {
    if (items.length === 0) return;
    const id = this.batches.length;
    if (id >= this.claims.length) throw new Error('internal: more link batches than announced');
    this.batches.push(items);
    this.start()?.postMessage({ id, text: textOf(items) });
  }

  /** Waits for every request: those not linked (already there, or links not possible), which need a copy. */
  async finish(): Promise<T[]> {
    try {
      if (this.batches.length === 0) return [];
      let ended: Promise<void> = Promise.resolve();
      if (this.worker) {
        ended = new Promise<void>((resolve, reject) => {
          this.ended = resolve;
          this.failure = reject;
        });
        if (this.broken) throw this.broken.e;
        this.worker.postMessage(null);
      }
      // Batches the thread has not started (all of them without a thread) are done here, from the last one back.
      const state = { linking: true };
      for (let id = this.batches.length - 1; id >= 0; id--) {
        if (Atomics.compareExchange(this.claims, id, 0, 2) !== 0) break;
        const r = linkBatch(fs, dirname, textOf(this.batches[id]!), state);
        this.record(id, r);
        if ('fail' in r) break;
        // Other work waiting on this thread (files being written beside) goes on between batches.
        await setImmediate();
      }
      await ended;
      const later: T[] = [];
      for (const [id, items] of this.batches.entries()) {
        const r = this.results.get(id);
        if (!r) continue; // after a failure: never started
        if ('fail' in r) {
          const item = items[r.fail]!;
          throw this.toError(item, 'blob' in r ? { blob: true } : { error: Object.assign(new Error(r.message), { code: r.code }) });
        }
        for (const n of r.later) later.push(items[n]!);
      }
      return later;
    } finally {
      await this.stop();
    }
  }

  /** Starts the thread now, so that it is up when the first batch comes. */
  prepare(): void {
    this.start();
  }

  /** Stops the thread (publish failed, or linking is over). */
  async stop(): Promise<void> {
    await this.worker?.terminate();
  }

  private start(): Worker | undefined {
    if (this.worker || this.noThread) return this.worker;
    let worker: Worker;
    try {
      worker = new Worker(`(${linkThread.toString()})(require, ${linkBatch.toString()}, require('node:worker_threads').workerData)`, {
        eval: true,
        workerData: this.claims,
      });
    } catch {
      // Threads not allowed (a permission model without --allow-worker): linked here, at the end.
      this.noThread = true;
      return undefined;
    }
    worker.on('message', (m: { end: true } | { id: number; r: BatchResult }) => {
      if ('end' in m) return this.ended?.();
      this.record(m.id, m.r);
    });
    const stopped = (e: unknown): void => {
      this.broken ??= { e };
      this.failure?.(e);
    };
    worker.on('error', stopped);
    worker.on('exit', () => stopped(new Error('the link thread stopped')));
    return (this.worker = worker);
  }

  private record(id: number, r: BatchResult): void {
    this.results.set(id, r);
    if ('fail' in r) return;
    this.linked += r.linked;
    this.bytes += r.bytes;
    this.onDone(this.linked, this.bytes);
  }
}
