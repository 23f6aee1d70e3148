import { createHash } from 'node:crypto';
import type { FileHandle } from 'node:fs/promises';
import { open, readdir, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { DownloadCancelledError, LengthOrHashMismatchError, UsageError } from '../errors.js';
import { StreamingVerifier, type TargetFile } from '../models/files.js';
import { fsStep, fsyncDir, readFileChunks, regularFileSize, removeFile } from './atomic-file.js';
import { fetchStream, fetchStreamFrom, type Fetcher } from './fetcher.js';

/** How downloadTarget and downloadTargets run a download. */
export interface DownloadOptions {
  /** Called as bytes arrive: bytes of the file so far (resumed bytes included) and its listed length. */
  onProgress?: (received: number, total: number) => void;
  /** Aborting it stops the download with DownloadCancelledError; its temp file is removed. */
  signal?: AbortSignal;
  /**
   * Keep the bytes of an interrupted download (a failed request, not a cancellation) and continue
   * them with an HTTP range request next time. The whole file is verified at the end.
   */
  resume?: boolean;
}

export const PARTIAL_PREFIX = '.tufkit-partial-';

/** The partial file of `info` for `path`: named after the target's length and hashes, so a new release never continues an old one. */
function partialPathOf(path: string, info: TargetFile): string {
  const id = createHash('sha256').update(JSON.stringify([info.length, info.hashes])).digest('hex').slice(0, 16);
  return join(dirname(path), `${partialStem(path)}${id}`);
}

function partialStem(path: string): string {
  return `${PARTIAL_PREFIX}${basename(path).slice(0, 100)}-`;
}

/** The partial downloads of `path` (of any release) among the names of its folder. */
export function partialsOf(path: string, names: readonly string[]): string[] {
  const stem = partialStem(path);
  return names.filter((n) => n.startsWith(stem));
}

/** A body verified as it streams, reporting progress and cancellation. */
async function* verifiedChunks(
  body: AsyncIterable<Uint8Array>,
  verifier: StreamingVerifier,
  start: number,
  total: number,
  onProgress: DownloadOptions['onProgress'],
): AsyncGenerator<Uint8Array> {
  let received = start;
  for await (const chunk of body) {
    verifier.update(chunk);
    received += chunk.length;
    onProgress?.(received, total);
    yield chunk;
  }
}

/** The stream downloadTarget writes (non-resumable): `info`'s bytes from `url`, hashed as they come. */
export function targetStream(fetcher: Fetcher, url: string, info: TargetFile, verifier: StreamingVerifier, options: DownloadOptions): AsyncGenerator<Uint8Array> {
  return verifiedChunks(fetchStream(fetcher, url, info.length, { signal: options.signal }), verifier, 0, info.length, options.onProgress);
}

/** Throws DownloadCancelledError if `signal` was aborted. */
export function checkNotCancelled(signal: AbortSignal | undefined, info: TargetFile): void {
  if (signal?.aborted) throw new DownloadCancelledError(`target "${info.path}": download cancelled`);
}

/** The verified bytes of `info` from `url`, in memory (for small targets). */
export async function fetchVerifiedBytes(fetcher: Fetcher, url: string, info: TargetFile, options: DownloadOptions): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of verifiedStream(fetcher, url, info, options)) chunks.push(chunk);
  return Buffer.concat(chunks);
}

/**
 * The bytes of `info` from `url` as a stream that fails before its end if they do not verify: the
 * last chunk is held back until the whole body has the listed length and hashes, so a consumer
 * that acts on the bytes only once the stream has ended never acts on unverified ones.
 */
export async function* verifiedStream(fetcher: Fetcher, url: string, info: TargetFile, options: DownloadOptions): AsyncGenerator<Uint8Array> {
  const verifier = new StreamingVerifier(info.length, info.hashes, `target "${info.path}" (${url})`);
  let held: Uint8Array | undefined;
  for await (const chunk of targetStream(fetcher, url, info, verifier, options)) {
    if (held) yield held;
    held = chunk;
  }
  verifier.finish();
  checkNotCancelled(options.signal, info);
  if (held) yield held;
}

/**
 * Downloads `info` to `path` through a partial file beside it that survives a failed request:
 * the next call continues it with a range request (a server ignoring the range sends the whole
 * file, which then replaces it). The whole file is verified against the listed length and hashes
 * before it is renamed into place; if a continued file does not verify, it starts over once from
 * nothing. A cancellation removes the partial file.
 */
export async function downloadResumable(fetcher: Fetcher, url: string, info: TargetFile, path: string, options: DownloadOptions): Promise<void> {
  const partial = partialPathOf(path, info);
  const action = `write target "${info.path}"`;
  const what = `target "${info.path}" (${url})`;
  for (let attempt = 0; ; attempt++) {
    let offset = (await regularFileSize(partial, `read the partial download of target "${info.path}"`)) ?? 0;
    // A partial as long as the file (a crash before the rename) would get a 416 for its range: start over.
    if (offset >= info.length) {
      await removeFile(partial, `remove the partial download of target "${info.path}"`);
      offset = 0;
    }
    const verifier = new StreamingVerifier(info.length, info.hashes, what);
    let handle: FileHandle | undefined;
    try {
      const { start, body } = await fetchStreamFrom(fetcher, url, offset, info.length, { signal: options.signal });
      if (start > 0) {
        for await (const chunk of readFileChunks(partial, `read the partial download of target "${info.path}"`)) verifier.update(chunk);
      }
      const h = (handle = await fsStep(action, partial, () => open(partial, start > 0 ? 'a' : 'w', 0o644)));
      for await (const chunk of verifiedChunks(body, verifier, start, info.length, options.onProgress)) {
        await fsStep(action, partial, () => h.write(chunk).then(() => undefined));
      }
      await fsStep(action, partial, () => h.sync());
      await fsStep(action, partial, () => h.close());
      handle = undefined;
      checkNotCancelled(options.signal, info);
      try {
        verifier.finish();
      } catch (e) {
        await unlink(partial).catch(() => undefined);
        if (e instanceof LengthOrHashMismatchError && start > 0 && attempt === 0) continue;
        throw e;
      }
      await fsStep(action, path, () => rename(partial, path));
      await fsyncDir(dirname(path));
      await removeOtherPartials(path);
      return;
    } catch (e) {
      await handle?.close().catch(() => undefined);
      if (e instanceof DownloadCancelledError || options.signal?.aborted) await unlink(partial).catch(() => undefined);
      throw e;
    }
  }
}

/** Partial downloads of earlier releases of `path` (best effort: what a new release left behind). */
async function removeOtherPartials(path: string): Promise<void> {
  const dir = dirname(path);
  const names = await readdir(dir).catch(() => [] as string[]);
  await Promise.all(partialsOf(path, names).map((n) => unlink(join(dir, n)).catch(() => undefined)));
}

/**
 * Runs `run` on every item, at most `concurrency` at a time, in order of the items; the results
 * keep their order. The first failure aborts the others (through the signal each run gets) and is
 * the error once every run has stopped.
 */
export async function runLimited<T, R>(items: readonly T[], concurrency: number, outer: AbortSignal | undefined, run: (item: T, signal: AbortSignal) => Promise<R>): Promise<R[]> {
  if (!Number.isSafeInteger(concurrency) || concurrency < 1) throw new UsageError(`concurrency must be a positive integer, got ${String(concurrency)}`);
  const controller = new AbortController();
  const onAbort = (): void => controller.abort();
  if (outer?.aborted) controller.abort();
  outer?.addEventListener('abort', onAbort);
  const results: R[] = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (!failure && next < items.length) {
      const i = next++;
      try {
        results[i] = await run(items[i]!, controller.signal);
      } catch (error) {
        failure ??= { error };
        controller.abort();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(concurrency, items.length) }, worker));
  } finally {
    outer?.removeEventListener('abort', onAbort);
  }
  if (failure) throw failure.error;
  return results;
}
