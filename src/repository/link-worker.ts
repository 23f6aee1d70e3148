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

/** A request as a batch's text holds it: blob NUL dest NUL size NUL (no path holds a NUL). */
export function linkLine(blob: string, dest: string, size: number): string {
  return `${blob}\0${dest}\0${size}\0`;
}

/** How one batch went: files linked and their bytes, and the positions of those left for a copy; or where it stopped. */
type BatchResult = { linked: number; bytes: number; later: number[]; made: string[] } | { fail: number; blob: true } | { fail: number; code: string; message: string };

/**
 * Stats and links one batch (blob NUL dest NUL size NUL, for each request; no path holds a NUL).
 * Run by the thread and by the main thread alike: self-contained, as its source text is what the
 * thread runs. A blob missing or of the wrong size stops the batch there.
 */
function linkBatch(files: typeof fs, parent: typeof dirname, text: string, state: { linking: boolean }): BatchResult {
  const items = text.split('\0');
  const later: number[] = [];
  const made: string[] = [];
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
        const first = files.mkdirSync(parent(dest), { recursive: true });
        // Folders made here (the first one made, and those below it): they hold nothing else.
        for (let d = parent(dest); first !== undefined; d = parent(d)) {
          made.push(d);
          if (d === first || d === parent(d)) break;
        }
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
  return { linked, bytes, later, made };
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

/** Request `position` of a batch's text. */
function requestAt(text: string, position: number): LinkRequest {
  let start = 0;
  for (let i = 0; i < 3 * position; i++) start = text.indexOf('\0', start) + 1;
  const [blob, dest, size] = text.slice(start).split('\0', 3) as [string, string, string];
  return { blob, dest, size: Number(size) };
}

/** Why linking stopped: the request's blob is missing or of the wrong size, or its link failed. */
export type LinkFailure = { blob: true } | { error: Error & { code: string } };

/** A request finish() left unlinked (already there, or links not possible): its batch and position in it. */
export interface Unlinked<B> {
  batch: B;
  position: number;
}

/**
 * Hard links made on a worker thread (and on the main thread: at the end, and whenever the thread
 * is far behind), requests sent in batches as they are known, each as text (linkLine per request):
 * a batch costs one string, not an object per file. A blob missing or of the wrong size stops it;
 * finish() then rejects.
 */
export class TargetLinker<B> {
  private worker: Worker | undefined;
  private readonly claims: Int32Array;
  private readonly batches: B[] = [];
  /** Each batch's text until it is done (then dropped: a batch only ever needs it to be linked). */
  private readonly texts: (string | undefined)[] = [];
  /** Characters of each batch posted to the thread (0: linked here), and of those not done yet. */
  private readonly posted: number[] = [];
  private queued = 0;
  /** A batch failed: no more are linked (finish() reports it). */
  private stopped = false;
  /** Whether links are still tried on this thread (false once the file system refused one: copies then). */
  private readonly here = { linking: true };
  /** No thread could be started (workers not allowed here): every batch is linked here as it is sent. */
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
    /** The error finish() rejects with when linking stopped at request `position` of `batch`. */
    private readonly toError: (batch: B, position: number, request: LinkRequest, failure: LinkFailure) => Error,
    /**
     * Characters of batches waiting for the thread beyond which a batch is linked here instead:
     * each waits twice (its text, and its copy in the thread's queue), so a publish of 1,000,000
     * targets that outruns the thread would otherwise hold them all.
     */
    private readonly maxQueued = 16 * 1024 * 1024,
  ) {
    this.claims = new Int32Array(new SharedArrayBuffer(4 * Math.max(1, capacity)));
  }

  /** Queues `batch`, whose requests `text` holds (linkLine each); the thread is started on first use. */
  send(batch: B, text: string): void {
    if (text === '') return;
    const id = this.batches.length;
    if (id >= this.claims.length) throw new Error('internal: more link batches than announced');
    this.batches.push(batch);
    this.texts.push(text);
    this.posted.push(0);
    if (this.stopped) return;
    const worker = this.start();
    if (worker && (this.queued === 0 || this.queued + text.length <= this.maxQueued)) {
      this.posted[id] = text.length;
      this.queued += text.length;
      worker.postMessage({ id, text });
      return;
    }
    // The thread is that far behind, or there is none: linked here, now (the thread never sees it).
    Atomics.store(this.claims, id, 2);
    this.record(id, linkBatch(fs, dirname, text, this.here));
  }

  /**
   * Waits for every request: those not linked (already there, or links not possible), which need a
   * copy; and the folders made for the links.
   */
  async finish(): Promise<{ unlinked: Unlinked<B>[]; made: Set<string> }> {
    try {
      if (this.batches.length === 0) return { unlinked: [], made: new Set() };
      let ended: Promise<void> = Promise.resolve();
      if (this.worker) {
        ended = new Promise<void>((resolve, reject) => {
          this.ended = resolve;
          this.failure = reject;
        });
        if (this.broken) throw this.broken.e;
        this.worker.postMessage(null);
      }
      // Batches the thread has not started are done here, from the last one back, down to the
      // first one it has (it takes them in order; those linked here already are passed over).
      for (let id = this.batches.length - 1; id >= 0 && !this.stopped; id--) {
        const was = Atomics.compareExchange(this.claims, id, 0, 2);
        if (was === 1) break;
        if (was === 2) continue;
        this.record(id, linkBatch(fs, dirname, this.texts[id]!, this.here));
        // Other work waiting on this thread (files being written beside) goes on between batches.
        await setImmediate();
      }
      await ended;
      const later: Unlinked<B>[] = [];
      const made = new Set<string>();
      for (const [id, batch] of this.batches.entries()) {
        const r = this.results.get(id);
        if (!r) continue; // after a failure: never started
        if ('fail' in r) {
          const failure: LinkFailure = 'blob' in r ? { blob: true } : { error: Object.assign(new Error(r.message), { code: r.code }) };
          throw this.toError(batch, r.fail, requestAt(this.texts[id]!, r.fail), failure);
        }
        for (const position of r.later) later.push({ batch, position });
        for (const d of r.made) made.add(d);
      }
      return { unlinked: later, made };
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
      // Threads not allowed (a permission model without --allow-worker): linked here, as sent.
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
    this.queued -= this.posted[id]!;
    this.posted[id] = 0;
    if ('fail' in r) {
      this.stopped = true;
      return;
    }
    this.texts[id] = undefined;
    this.linked += r.linked;
    this.bytes += r.bytes;
    this.onDone(this.linked, this.bytes);
  }
}
