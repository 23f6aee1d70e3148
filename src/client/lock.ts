import { randomBytes } from 'node:crypto';
import { open, readFile, stat, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { FileSystemError, StorageError } from '../errors.js';
import { fsStep, isErrno } from './atomic-file.js';

/** The lock file of a metadata dir (not *.json: tools read every *.json there as metadata). */
export const LOCK_FILE = '.tufkit.lock';
/** Held only while a stale lock is being removed, so two processes never both remove one. */
const BREAK_FILE = '.tufkit.lock.break';
/** A lock file still empty after this long was left by a process that died while creating it. */
const EMPTY_LOCK_GRACE_MS = 5_000;
/** A break file older than this was left by a process that died while breaking a lock. */
const BREAK_GRACE_MS = 10_000;
/** What a failure of the lock's file operations says was being done. */
const TAKING = 'take the lock';

interface Owner {
  pid: number;
  host: string;
  token: string;
}

function parseOwner(text: string): Owner | undefined {
  const m = /^(\d+) (\S+) ([0-9a-f]+)\n$/.exec(text);
  return m ? { pid: Number(m[1]), host: m[2]!, token: m[3]! } : undefined;
}

function processIsAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return !isErrno(e, 'ESRCH'); // EPERM: alive, owned by another user
  }
}

/**
 * An exclusive lock on a directory shared by several processes: a file created with O_EXCL that
 * holds "pid host token". A lock whose owner process is gone (same host, pid not running) is stale
 * and removed; a lock from another host is never presumed stale. Not re-entrant: a second
 * acquire in the same process waits like any other process would.
 */
export class DirLock {
  private released = false;

  private constructor(
    private readonly path: string,
    private readonly content: string,
  ) {}

  static async acquire(dir: string, timeoutMs: number): Promise<DirLock> {
    const path = join(dir, LOCK_FILE);
    const content = `${process.pid} ${hostname().replace(/\s/g, '_')} ${randomBytes(8).toString('hex')}\n`;
    const deadline = Date.now() + timeoutMs;
    for (let wait = 5; ; wait = Math.min(wait * 2, 100)) {
      let handle: FileHandle | undefined;
      try {
        handle = await open(path, 'wx', 0o644);
      } catch (e) {
        if (!isErrno(e, 'EEXIST')) throw new FileSystemError(TAKING, path, e);
      }
      if (handle) {
        await writeOwner(handle, path, content);
        return new DirLock(path, content);
      }
      // A folder (or anything unreadable) at the lock path fails here at once, not at the timeout.
      if (await fsStep(TAKING, path, () => breakIfStale(dir, path))) continue;
      if (Date.now() >= deadline) {
        const holder = await readFile(path, 'utf8').catch(() => '');
        const owner = parseOwner(holder);
        throw new StorageError(
          `${path} is held${owner ? ` by process ${owner.pid} on ${owner.host}` : ''} for more than ${timeoutMs} ms; ` +
            'remove it if no tufkit process is using this metadata dir',
        );
      }
      await sleep(wait);
    }
  }

  /** Releases the lock, unless someone removed it meanwhile (then the file is not ours). */
  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    const now = await readFile(this.path, 'utf8').catch(() => undefined);
    if (now === this.content) await unlink(this.path).catch(() => undefined);
  }
}

/** Fills a lock file just created; when that fails (full disk), the file is ours to remove. */
async function writeOwner(handle: FileHandle, path: string, content: string): Promise<void> {
  try {
    await handle.writeFile(content);
    await handle.close();
  } catch (e) {
    await handle.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw new FileSystemError(TAKING, path, e);
  }
}

/** Removes the lock at `path` if its owner is dead; true when it was removed (or vanished). */
async function breakIfStale(dir: string, path: string): Promise<boolean> {
  if (!(await isStale(path))) return false;
  const breakPath = join(dir, BREAK_FILE);
  try {
    await (await open(breakPath, 'wx')).close();
  } catch (e) {
    if (!isErrno(e, 'EEXIST')) throw e;
    const age = await ageMs(breakPath);
    if (age !== undefined && age > BREAK_GRACE_MS) await unlink(breakPath).catch(() => undefined);
    return false;
  }
  try {
    // Look again under the break lock: the stale file may have been replaced by a live owner's.
    if (await isStale(path)) await unlink(path).catch(() => undefined);
    return true;
  } finally {
    await unlink(breakPath).catch(() => undefined);
  }
}

async function isStale(path: string): Promise<boolean> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    if (isErrno(e, 'ENOENT')) return false; // gone: the next acquire attempt will tell
    throw e;
  }
  const owner = parseOwner(text);
  if (!owner) {
    const age = await ageMs(path);
    return age !== undefined && age > EMPTY_LOCK_GRACE_MS;
  }
  return owner.host === hostname().replace(/\s/g, '_') && !processIsAlive(owner.pid);
}

async function ageMs(path: string): Promise<number | undefined> {
  try {
    return Date.now() - (await stat(path)).mtimeMs;
  } catch {
    return undefined;
  }
}
