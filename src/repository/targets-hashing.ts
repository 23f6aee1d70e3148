import { createHash, type Hash } from 'node:crypto';
import { close, fstat, open as fsOpen, read } from 'node:fs';

// Target files are read once, in bounded chunks, and every configured hash algorithm (and, when
// adding to the repository, the copy into the blob store) is fed from the same chunk: a file of
// any size costs one read pass and at most CHUNK bytes of memory.

export const CHUNK = 256 * 1024;

/** The length and hex digests of one file. */
export interface FileDigest {
  length: number;
  hashes: Record<string, string>;
}

/**
 * Hashes `file` with every algorithm in one pass. `sink` gets each chunk too (it must finish with
 * the chunk before resolving: the buffer is reused). `buffer` lets a caller reuse one read buffer
 * across many files.
 */
export async function hashFile(
  file: string,
  algorithms: string[],
  sink?: (chunk: Uint8Array) => Promise<void>,
  buffer: Buffer = Buffer.allocUnsafe(CHUNK),
): Promise<FileDigest> {
  const hashers: Hash[] = algorithms.map((a) => createHash(a));
  // The callback API on a bare descriptor: with 100,000 small files, FileHandle objects and their
  // promise plumbing cost a third of the time.
  const fd = await new Promise<number>((resolve, reject) => fsOpen(file, 'r', (e, v) => (e ? reject(e) : resolve(v))));
  let length = 0;
  try {
    // Reads the size fstat gives (a small file is then one read, as readFile does it); hash and
    // copy see exactly the same bytes even if the file changes meanwhile.
    const size = await new Promise<number>((resolve, reject) => fstat(fd, (e, st) => (e ? reject(e) : resolve(st.size))));
    while (length < size) {
      const want = Math.min(buffer.length, size - length);
      const bytesRead = await new Promise<number>((resolve, reject) => read(fd, buffer, 0, want, length, (e, n) => (e ? reject(e) : resolve(n))));
      if (bytesRead === 0) break;
      const chunk = buffer.subarray(0, bytesRead);
      for (const h of hashers) h.update(chunk);
      if (sink) await sink(chunk);
      length += bytesRead;
    }
  } finally {
    await new Promise<void>((resolve) => close(fd, () => resolve()));
  }
  const hashes: Record<string, string> = {};
  algorithms.forEach((a, i) => (hashes[a] = hashers[i]!.digest('hex')));
  return { length, hashes };
}

/** Runs `fn` on every item with at most `limit` running at once; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const i = next++;
      try {
        out[i] = await fn(items[i]!, i);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.min(limit, items.length) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
  return out;
}

/** Hashes many files, a few at a time (reads overlap with hashing), one buffer per worker. */
export async function hashFiles(files: readonly string[], algorithms: string[], concurrency = 8): Promise<FileDigest[]> {
  const buffers: Buffer[] = [];
  return mapLimit(files, concurrency, async (file) => {
    const buf = buffers.pop() ?? Buffer.allocUnsafe(CHUNK);
    try {
      return await hashFile(file, algorithms, undefined, buf);
    } finally {
      buffers.push(buf);
    }
  });
}
