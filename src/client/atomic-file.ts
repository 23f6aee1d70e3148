import { randomBytes } from 'node:crypto';
import fs, { closeSync, constants, createReadStream, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { mkdir, open, readdir, rename, rmdir, stat, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { FileSystemError, StorageError, TufError } from '../errors.js';

// Temporary files start with this and never end in ".json": tools that read every *.json file of
// a metadata dir as metadata must not see a half-written one.
export const TEMP_PREFIX = '.tufkit-tmp-';

/** Whether `e` is a system error with one of `codes` (the one errno check of client and repository). */
export function isErrno(e: unknown, ...codes: string[]): boolean {
  return e instanceof Error && 'code' in e && codes.includes(e.code as string);
}

/**
 * Runs one file-system step; a failure becomes a FileSystemError saying what was being done
 * (`action`) on which `path`, with the system error as cause (tufkit errors pass unchanged). The
 * client's file access goes through these helpers, so no raw EISDIR or ENOSPC reaches a caller.
 */
export async function fsStep<T>(action: string, path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (e) {
    throw e instanceof TufError ? e : new FileSystemError(action, path, e);
  }
}

/**
 * Whether reading a cached file failed in a way that must not pass for "nothing cached": any
 * FileSystemError but a folder standing in the file's place (EISDIR), which holds no data.
 */
export function isDiskFailure(e: unknown): e is FileSystemError {
  return e instanceof FileSystemError && e.code !== 'EISDIR';
}

/** Whether `e` is a FileSystemError whose system error code is one of `codes`. */
export function isFileSystemError(e: unknown, ...codes: string[]): e is FileSystemError {
  return e instanceof FileSystemError && codes.includes(e.code);
}

/** Flushes a directory entry change (create, rename, unlink) to disk where the OS allows it. */
export async function fsyncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (e) {
    // Windows cannot open or fsync a directory; the rename itself is still atomic there.
    if (!isErrno(e, 'EISDIR', 'EPERM', 'EACCES', 'EINVAL', 'EBADF')) throw new FileSystemError('flush the folder', dir, e);
  } finally {
    await handle?.close().catch(() => undefined); // nothing was written through this handle
  }
}

/** Creates folder `dir` (and its parents) unless it exists. */
export async function makeDir(dir: string, action: string): Promise<void> {
  await fsStep(action, dir, () => mkdir(dir, { recursive: true }));
}

/**
 * Replaces `path` with `data` so that a crash at any moment leaves either the old or the new file:
 * temp file in the same folder, write, fsync, rename over `path`, fsync the folder. `data` may be
 * a stream of chunks; `beforeCommit` runs once everything is written and may throw to abandon the
 * write (the old file is then untouched and the temp file removed). `syncDir: false` leaves the
 * folder fsync to a caller that replaces many files in it (see writeFilesAtomic).
 */
function tempNameFor(path: string): string {
  return `${tempStem(path)}${randomHex12()}`;
}

/** Random bytes for temp names, drawn 512 names at a time (one draw per name cost publish 24 ms per 1,000 files). */
const random = { pool: Buffer.alloc(0), next: 0 };

function randomHex12(): string {
  if (random.next + 6 > random.pool.length) {
    random.pool = randomBytes(6 * 512);
    random.next = 0;
  }
  random.next += 6;
  return random.pool.toString('hex', random.next - 6, random.next);
}

/** Whether `name` is a temp file tempNameFor made for `path`. */
function isTempNameFor(path: string, name: string): boolean {
  const stem = tempStem(path);
  return name.startsWith(stem) && /^[0-9a-f]{12}$/.test(name.slice(stem.length));
}

function tempStem(path: string): string {
  return `${TEMP_PREFIX}${basename(path).slice(0, 100)}-`;
}

export async function writeFileAtomic(
  path: string,
  data: Uint8Array | AsyncIterable<Uint8Array>,
  beforeCommit?: () => void | Promise<void>,
  { syncDir = true, action = 'write' }: { syncDir?: boolean; action?: string } = {},
): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, tempNameFor(path));
  // Only the file-system steps are wrapped: a failure of `data` or `beforeCommit` is the caller's
  // own error and passes unchanged.
  const step = <T>(fn: () => Promise<T>): Promise<T> => fsStep(action, path, fn);
  let handle: FileHandle | undefined;
  try {
    if (data instanceof Uint8Array) {
      await step(() => writeNewFile(temp, data));
    } else {
      const h = (handle = await step(() => open(temp, 'wx', 0o644)));
      await writeChunks(h, data, step);
      await step(() => h.sync());
      await step(() => h.close());
      handle = undefined;
    }
    await beforeCommit?.();
    await step(() => renameOver(temp, path));
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
  if (syncDir) await fsyncDir(dir);
}

/**
 * Creates file `path` holding `data`, fsynced, closed (also on failure). One chain of callbacks:
 * through a FileHandle each step costs a promise or two, which publish, writing a thousand role
 * files while its link thread works, paid on its main thread (about 2.5x the CPU, measured).
 */
function writeNewFile(path: string, data: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) => {
    fs.open(path, 'wx', 0o644, (e, fd) => {
      if (e) return reject(e);
      const closeAndFail = (cause: unknown): void => fs.close(fd, () => reject(cause));
      const writeFrom = (off: number): void => {
        if (off >= data.length) {
          return fs.fsync(fd, (e2) => (e2 ? closeAndFail(e2) : fs.close(fd, (e3) => (e3 ? reject(e3) : resolve()))));
        }
        fs.write(fd, data, off, data.length - off, null, (e2, n) => (e2 ? closeAndFail(e2) : writeFrom(off + n)));
      };
      writeFrom(0);
    });
  });
}

/**
 * rename(2) of `temp` over `path`. A folder standing where the file belongs is replaced when it is
 * empty: it holds nothing, and keeping it would fail every later write of this file for good (a
 * cache wedged by one stray mkdir). A folder with anything in it is never deleted: EISDIR then.
 */
async function renameOver(temp: string, path: string): Promise<void> {
  try {
    await rename(temp, path);
  } catch (e) {
    if (!isErrno(e, 'EISDIR') || !(await rmdir(path).then(() => true, () => false))) throw e;
    await rename(temp, path);
  }
}

/** Chunks gathered into one write while the previous write runs (bytes, and buffers for one writev). */
const BATCH_BYTES = 1024 * 1024;
const BATCH_CHUNKS = 256;
/**
 * Written bytes after which a datasync starts while the stream goes on: the disk then takes most
 * of a large file during the download instead of all of it in the final fsync (which still runs,
 * so this only moves work earlier). A 10 MB file's final fsync went from about 8 ms to about 1.
 */
const EARLY_SYNC_BYTES = 3 * 1024 * 1024;

/**
 * Writes a stream of chunks, taking the next chunks while a batch is being written. A writer that
 * waited for every write would make the HTTP client pause and queue socket reads, then copy them
 * into one new buffer on resuming: a 10 MB download then left about twice its size as garbage.
 */
async function writeChunks(
  handle: FileHandle,
  data: AsyncIterable<Uint8Array>,
  step: (fn: () => Promise<void>) => Promise<void>,
): Promise<void> {
  let writing: Promise<void> = Promise.resolve();
  let syncing: Promise<void> = Promise.resolve();
  let failure: { error: unknown } | undefined;
  let batch: Uint8Array[] = [];
  let batchBytes = 0;
  let unsynced = 0;
  // Caught at once (a rejection left waiting for the next chunk would be unhandled), rethrown below.
  const failed = (error: unknown): void => void (failure ??= { error });
  const rethrow = (): void => {
    if (failure) throw failure.error;
  };
  const write = (chunks: Uint8Array[], bytes: number): void => {
    writing = step(() => writeAllChunks(handle, chunks)).catch(failed);
    unsynced += bytes;
    if (unsynced < EARLY_SYNC_BYTES) return;
    unsynced = 0;
    const written = writing;
    syncing = syncing.then(() => written).then(() => step(() => handle.datasync())).catch(failed);
  };
  try {
    for await (const chunk of data) {
      batch.push(chunk);
      batchBytes += chunk.length;
      if (batchBytes < BATCH_BYTES && batch.length < BATCH_CHUNKS) continue;
      await writing;
      rethrow();
      write(batch, batchBytes);
      batch = [];
      batchBytes = 0;
    }
    await writing;
    rethrow();
    await step(() => writeAllChunks(handle, batch));
    await syncing;
    rethrow();
  } finally {
    // Never leave a write or a sync running on a handle the caller is about to close.
    await writing;
    await syncing;
  }
}

async function writeAllChunks(handle: FileHandle, chunks: Uint8Array[]): Promise<void> {
  if (chunks.length === 0) return;
  const total = chunks.reduce((n, c) => n + c.length, 0);
  let { bytesWritten } = await handle.writev(chunks);
  if (bytesWritten === total) return;
  for (const chunk of chunks) {
    // A short writev (rare on files): the rest goes chunk by chunk.
    if (bytesWritten >= chunk.length) {
      bytesWritten -= chunk.length;
      continue;
    }
    await writeAll(handle, chunk.subarray(bytesWritten));
    bytesWritten = 0;
  }
}

async function writeAll(handle: FileHandle, chunk: Uint8Array): Promise<void> {
  for (let off = 0; off < chunk.length; ) {
    const { bytesWritten } = await handle.write(chunk, off, chunk.length - off);
    off += bytesWritten;
  }
}

/**
 * Reads a whole file of at most `maxLength` bytes; undefined when it does not exist. A longer file
 * is a StorageError: its content is never read into memory. Any other failure (a folder in its
 * place: EISDIR) is a FileSystemError for `action`.
 */
export async function readFileCapped(path: string, maxLength: number, action = 'read'): Promise<Uint8Array | undefined> {
  let handle: FileHandle;
  try {
    // Non-blocking: opening a FIFO put where a cached file belongs would otherwise wait forever.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw new FileSystemError(action, path, e);
  }
  try {
    return await fsStep(action, path, () => readOpenFile(handle, path, maxLength));
  } finally {
    await handle.close().catch(() => undefined); // nothing was written through this handle
  }
}

/** The buffer a read of an open file fills: one byte more than allowed, so a file growing under us is caught too. */
function readBuffer(stats: Stats, path: string, maxLength: number): Buffer {
  if (!stats.isFile() && !stats.isDirectory()) throw new StorageError(`${path}: not a regular file`);
  // A folder's size means nothing: reading it fails with the real EISDIR.
  if (stats.isFile() && stats.size > maxLength) throw new StorageError(`${path}: ${stats.size} bytes, more than the allowed ${maxLength}`);
  return Buffer.allocUnsafe(Math.min(stats.size, maxLength) + 1);
}

/** Counts a read into `buf`: whether it is full (or the file ended). */
function filledUp(buf: Buffer, filled: number, path: string, maxLength: number): boolean {
  if (filled > maxLength) throw new StorageError(`${path}: more than the allowed ${maxLength} bytes`);
  return filled === buf.length;
}

async function readOpenFile(handle: FileHandle, path: string, maxLength: number): Promise<Uint8Array> {
  const buf = readBuffer(await handle.stat(), path, maxLength);
  let filled = 0;
  for (;;) {
    const { bytesRead } = await handle.read(buf, filled, buf.length - filled, filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
    if (filledUp(buf, filled, path, maxLength)) break;
  }
  return buf.subarray(0, filled);
}

/**
 * readFileCapped as one blocking call: for the repository tools, which read many small files
 * from local disk, where four trips through the thread pool per file cost more than the read.
 */
export function readFileCappedSync(path: string, maxLength: number, action = 'read'): Uint8Array | undefined {
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return undefined;
    throw new FileSystemError(action, path, e);
  }
  try {
    const buf = readBuffer(fstatSync(fd), path, maxLength);
    let filled = 0;
    for (;;) {
      const bytesRead = readSync(fd, buf, filled, buf.length - filled, filled);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filledUp(buf, filled, path, maxLength)) break;
    }
    return buf.subarray(0, filled);
  } catch (e) {
    throw e instanceof TufError ? e : new FileSystemError(action, path, e);
  } finally {
    closeSync(fd);
  }
}

/**
 * The size of the regular file at `path`; undefined when there is none (nothing there, or a
 * folder or something else in its place).
 */
export async function regularFileSize(path: string, action: string): Promise<number | undefined> {
  try {
    const stats = await stat(path);
    return stats.isFile() ? stats.size : undefined;
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return undefined;
    throw new FileSystemError(action, path, e);
  }
}

/** Streams the bytes of the file at `path`. */
export async function* readFileChunks(path: string, action: string): AsyncGenerator<Uint8Array> {
  try {
    for await (const chunk of createReadStream(path)) yield chunk as Buffer;
  } catch (e) {
    throw e instanceof TufError ? e : new FileSystemError(action, path, e);
  }
}

/** Deletes `path` if it exists, durably. */
export async function removeFile(path: string, action = 'remove'): Promise<void> {
  try {
    await unlink(path);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw new FileSystemError(action, path, e);
  }
  await fsyncDir(dirname(path));
}

/** Deletes temp files a crashed writer left in `dir`. Call only while holding the dir's lock. */
export async function removeStaleTempFiles(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return;
    throw new FileSystemError('clean up the temp files in the folder', dir, e);
  }
  await Promise.all(names.filter((n) => n.startsWith(TEMP_PREFIX)).map((n) => unlink(join(dir, n)).catch(() => undefined)));
}

/**
 * Deletes the temp files that writes of `path` left behind when their process died (a download
 * killed half-way would otherwise keep its bytes forever), once untouched for `idleMs`: a live
 * writer touches its file with every batch, so only abandoned ones are that old. `names` lists
 * the temp files of path's folder (listTempFiles). Best effort.
 */
export async function removeAbandonedTempFilesOf(path: string, idleMs: number, names: readonly string[]): Promise<void> {
  await removeAbandonedTempFiles(dirname(path), idleMs, names.filter((n) => isTempNameFor(path, n)));
}

/**
 * Deletes the temp files `names` of `dir` (listTempFiles) untouched for `idleMs`, whatever file
 * they were for: for folders that writers share without a common lock. Best effort.
 */
export async function removeAbandonedTempFiles(dir: string, idleMs: number, names: readonly string[]): Promise<void> {
  const cutoff = Date.now() - idleMs;
  await Promise.all(
    names.map(async (n) => {
      const file = join(dir, n);
      try {
        if ((await stat(file)).mtimeMs < cutoff) await unlink(file);
      } catch {
        // gone already, or not ours to delete: best effort
      }
    }),
  );
}

/** The names of the temp files in `dir` (names starting with one of `prefixes`); none when it cannot be read. */
export async function listTempFiles(dir: string, prefixes: readonly string[] = [TEMP_PREFIX]): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => prefixes.some((p) => n.startsWith(p)));
  } catch {
    return [];
  }
}
