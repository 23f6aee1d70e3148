import { Worker } from 'node:worker_threads';

/*
 * Publishing 100,000 targets into OUT on the repository's file system is one stat (the blob's size)
 * and one hard link per target: what `cp -al` pays. Made as synchronous calls on a thread of their
 * own they cost about that, while the main thread goes on reading and verifying the roles that list
 * the next targets; issued from the main thread as asynchronous calls, each one's trip through the
 * thread pool cost the main thread about as much again.
 */

/** One target file to link into OUT: its blob, where it goes, and the size the blob must have. */
export interface LinkRequest {
  blob: string;
  dest: string;
  size: number;
}

/** What the thread reports: batches done, the end (files it left for a copy), or the failure that stopped it. */
type Report = { done: number; bytes: number } | { later: number[] } | { fail: number; blob: true } | { fail: number; code: string; message: string };

/**
 * The thread's code (run from its source text: a self-contained function, given `require`, so it
 * loads alike from the compiled files and the bundle). Requests are numbered in the order sent.
 */
function linkThread(req: (id: string) => unknown): void {
  const { parentPort } = req('node:worker_threads') as typeof import('node:worker_threads');
  const fs = req('node:fs') as typeof import('node:fs');
  const { dirname } = req('node:path') as typeof import('node:path');
  const port = parentPort!;
  const later: number[] = [];
  let linked = 0;
  let bytes = 0;
  let linking = true;
  let failed = false;
  let n = 0;
  port.on('message', (m: string | null) => {
    if (failed) return;
    if (m === null) return port.postMessage({ later });
    // blob NUL dest NUL size NUL, for each request (no path holds a NUL).
    const items = m.split('\0');
    for (let i = 0; i + 2 < items.length; i += 3, n++) {
      const blob = items[i]!;
      const dest = items[i + 1]!;
      const size = Number(items[i + 2]);
      let st: import('node:fs').Stats | undefined;
      try {
        st = fs.statSync(blob, { throwIfNoEntry: false });
      } catch {
        st = undefined;
      }
      if (!st?.isFile() || st.size !== size) {
        failed = true;
        return port.postMessage({ fail: n, blob: true });
      }
      if (!linking) {
        later.push(n);
        continue;
      }
      try {
        try {
          fs.linkSync(blob, dest);
        } catch (e) {
          // Its folder is made on first need, so a publish refused early leaves OUT as it was.
          if ((e as { code?: unknown }).code !== 'ENOENT') throw e;
          fs.mkdirSync(dirname(dest), { recursive: true });
          fs.linkSync(blob, dest);
        }
      } catch (e) {
        const code = String((e as { code?: unknown }).code ?? '');
        // Another file system, or one without hard links: the rest are copied. Already there: compared.
        if (['EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS'].includes(code)) linking = false;
        else if (code !== 'EEXIST' && code !== 'EMLINK') {
          failed = true;
          return port.postMessage({ fail: n, code, message: (e as Error).message });
        }
        later.push(n);
        continue;
      }
      linked++;
      bytes += size;
    }
    port.postMessage({ done: linked, bytes });
  });
}

/** Why a thread stopped: the request's blob is missing or of the wrong size, or its link failed. */
export type LinkFailure = { blob: true } | { error: Error & { code: string } };

/** One thread and the requests sent to it, in order (the thread numbers them alike). */
class LinkThread<T extends LinkRequest> {
  readonly worker = new Worker(`(${linkThread.toString()})(require)`, { eval: true });
  readonly sent: T[] = [];
  linked = 0;
  bytes = 0;
  readonly result: Promise<T[]>;

  constructor(onDone: () => void, toError: (item: T, failure: LinkFailure) => Error) {
    this.result = new Promise<T[]>((resolve, reject) => {
      this.worker.on('message', (r: Report) => {
        if ('done' in r) {
          this.linked = r.done;
          this.bytes = r.bytes;
          return onDone();
        }
        if ('later' in r) return resolve(r.later.map((i) => this.sent[i]!));
        const failure: LinkFailure = 'blob' in r ? { blob: true } : { error: Object.assign(new Error(r.message), { code: r.code }) };
        reject(toError(this.sent[r.fail]!, failure));
      });
      this.worker.on('error', reject);
      this.worker.on('exit', () => reject(new Error('a link thread stopped')));
    });
    // A rejection is handled by whoever awaits finish(); until then it must not count as unhandled.
    this.result.catch(() => undefined);
  }
}

/**
 * Hard links made on worker threads, requests sent in batches as they are known; the caller picks
 * each batch's thread (the same folder always to the same thread: links into one folder take its
 * lock in turn). A blob missing or of the wrong size stops its thread; finish() then rejects.
 */
export class TargetLinker<T extends LinkRequest> {
  private readonly threads: LinkThread<T>[] = [];

  constructor(
    readonly size: number,
    /** Called as batches are done: files linked so far, and their bytes. */
    private readonly onDone: (linked: number, bytes: number) => void,
    /** The error finish() rejects with when a thread stopped at `item`. */
    private readonly toError: (item: T, failure: LinkFailure) => Error,
  ) {}

  /** Queues `items` on thread `thread` (0 to size - 1; started on first use). */
  send(thread: number, items: readonly T[]): void {
    if (items.length === 0) return;
    const t = (this.threads[thread] ??= new LinkThread<T>(() => this.progress(), this.toError));
    let message = '';
    for (const it of items) {
      message += `${it.blob}\0${it.dest}\0${it.size}\0`;
      t.sent.push(it);
    }
    t.worker.postMessage(message);
  }

  /** Waits for every request: those not linked (already there, or links not possible), which need a copy. */
  async finish(): Promise<T[]> {
    const started = this.threads.filter((t) => t !== undefined);
    for (const t of started) t.worker.postMessage(null);
    try {
      return (await Promise.all(started.map((t) => t.result))).flat();
    } finally {
      await this.stop();
    }
  }

  /** Stops every thread (publish failed before finish). */
  async stop(): Promise<void> {
    await Promise.all(this.threads.filter((t) => t !== undefined).map((t) => t.worker.terminate()));
  }

  private progress(): void {
    let linked = 0;
    let bytes = 0;
    for (const t of this.threads) {
      if (!t) continue;
      linked += t.linked;
      bytes += t.bytes;
    }
    this.onDone(linked, bytes);
  }
}
