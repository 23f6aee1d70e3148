import { join } from 'node:path';
import { fsyncDir, readFileCapped, removeFile, writeFileAtomic } from './atomic-file.js';
import { safeFileName } from './safe-names.js';

/**
 * The metadata dir: trusted metadata only, byte for byte as served, one non-versioned file per
 * role (`root.json`, `timestamp.json`, ..., a delegated role as `<safe name>.json`). Two roles'
 * files differ even ignoring case, and no role's file is root.json unless it is root (delegations
 * never use top-level names, see Delegations.fromJSON), so a role named `Root` cannot replace the
 * trusted root on a case-insensitive disk (see safeFileName).
 *
 * Every file is written atomically (temp file, fsync, rename). The trusted root is made durable at
 * once (folder fsync), before anything it signs is written. The other files are queued: written
 * one after another in the order queued, while the caller goes on verifying the next file, and
 * made durable together by one folder fsync in flush(), which an Updater call awaits before it
 * returns. A crash before that flush can lose the last renames, never tear a file or reorder them:
 * each file is left at a previous verified version, and the next refresh verifies them all again.
 */
export class MetadataStore {
  /** The last queued write (writes never reject: a failure is kept in `failure`). */
  private tail: Promise<void> = Promise.resolve();
  /** The queued write of each file name that is still pending. */
  private readonly pending = new Map<string, Promise<void>>();
  /** The first queued write that failed; the writes queued after it are not made. */
  private failure: { error: unknown } | undefined;
  /** A rename in the dir is not durable yet (see flush). */
  private unflushed = false;

  constructor(readonly dir: string) {}

  /** The file of `role`, always directly inside the dir. */
  path(role: string): string {
    return join(this.dir, fileName(role));
  }

  /** The cached bytes of `role`, or undefined when there are none (after its queued write, if any). */
  async read(role: string, maxLength: number): Promise<Uint8Array | undefined> {
    await this.pending.get(fileName(role));
    return readFileCapped(this.path(role), maxLength, `read ${what(role)}`);
  }

  /** Stores a root that was just verified, durably, once the queued writes are done. */
  async writeRoot(bytes: Uint8Array): Promise<void> {
    await this.settle();
    await writeFileAtomic(this.path('root'), bytes, undefined, { action: `write ${what('root')}`, syncDir: false });
    this.unflushed = true;
    await this.flush();
  }

  /** Queues the bytes of `role` (not root), just verified. */
  queueWrite(role: string, bytes: Uint8Array): void {
    this.queueFileWrite(fileName(role), bytes, `write ${what(role)}`);
  }

  /** Queues a write of file `name` in the dir; `action` is what its failure says was being done. */
  queueFileWrite(name: string, bytes: Uint8Array, action: string): void {
    const write = this.tail.then(async () => {
      if (this.failure) return;
      try {
        await writeFileAtomic(join(this.dir, name), bytes, undefined, { action, syncDir: false });
        this.unflushed = true;
      } catch (error) {
        this.failure = { error };
      } finally {
        if (this.pending.get(name) === write) this.pending.delete(name);
      }
    });
    this.pending.set(name, write);
    this.tail = write;
  }

  /** Deletes the file of `role` durably, once the queued writes are done: the removal is on disk before anything after it. */
  async remove(role: string): Promise<void> {
    await this.settle();
    await removeFile(this.path(role), `remove ${what(role)}`);
  }

  /** Makes every queued write, rename and removal so far durable (one folder fsync); throws the first failed write. */
  async flush(): Promise<void> {
    await this.settle();
    if (!this.unflushed) return;
    await fsyncDir(this.dir);
    this.unflushed = false;
  }

  /** Waits for the queued writes; throws the first that failed (once). */
  private async settle(): Promise<void> {
    await this.tail;
    const failure = this.failure;
    this.failure = undefined;
    if (failure) throw failure.error;
  }
}

function fileName(role: string): string {
  return `${safeFileName(role)}.json`;
}

/** What a file-system error names the file of `role` as. */
function what(role: string): string {
  return role === 'root' ? 'the trusted root' : `the cached metadata of role "${role}"`;
}
