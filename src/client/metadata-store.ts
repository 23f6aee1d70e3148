import { join } from 'node:path';
import { fsyncDir, readFileCapped, removeFile, writeFileAtomic } from './atomic-file.js';
import { safeFileName } from './safe-names.js';

/**
 * The metadata dir: trusted metadata only, byte for byte as served, one non-versioned file per
 * role (`root.json`, `timestamp.json`, ..., a delegated role as `<safe name>.json`).
 *
 * Every file is written atomically (temp file, fsync, rename). The trusted root's rename is made
 * durable at once (folder fsync), so nothing it signs can outlive it in a crash; the other files
 * of one Updater call share one folder fsync, made by flush() before the call returns. A crash
 * before that flush can lose some of those renames, never tear a file: what is left is each
 * file's previous verified version, all of which the next refresh verifies again anyway.
 */
export class MetadataStore {
  /** A rename in the dir is not durable yet (see flush). */
  private unflushed = false;

  constructor(readonly dir: string) {}

  /** The file of `role`, always directly inside the dir. */
  path(role: string): string {
    return join(this.dir, `${safeFileName(role)}.json`);
  }

  /** The cached bytes of `role`, or undefined when there are none. */
  read(role: string, maxLength: number): Promise<Uint8Array | undefined> {
    return readFileCapped(this.path(role), maxLength, `read ${what(role)}`);
  }

  /** Stores bytes that were just verified: durable on return for root, else once flush() returns. */
  write(role: string, bytes: Uint8Array): Promise<void> {
    return this.writeFile(`${safeFileName(role)}.json`, bytes, `write ${what(role)}`, role === 'root');
  }

  /** Writes `name` in the dir atomically; its rename is durable once flush() returns (at once when `durable`). */
  async writeFile(name: string, bytes: Uint8Array, action: string, durable = false): Promise<void> {
    await writeFileAtomic(join(this.dir, name), bytes, undefined, { action, syncDir: false });
    this.unflushed = true;
    if (durable) await this.flush();
  }

  /** Deletes the file of `role` durably: the removal is on disk before anything written after it. */
  remove(role: string): Promise<void> {
    return removeFile(this.path(role), `remove ${what(role)}`);
  }

  /** Makes every rename and removal so far durable (one folder fsync), if there is any. */
  async flush(): Promise<void> {
    if (!this.unflushed) return;
    await fsyncDir(this.dir);
    this.unflushed = false;
  }
}

/** What a file-system error names the file of `role` as. */
function what(role: string): string {
  return role === 'root' ? 'the trusted root' : `the cached metadata of role "${role}"`;
}
