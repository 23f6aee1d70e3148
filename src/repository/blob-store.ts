import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import { mkdir, readFile, rename, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsyncDir, isErrno, removeStaleTempFiles, TEMP_PREFIX } from '../client/atomic-file.js';
import { INDEX_DIR, type RepoLayout } from './layout.js';
import { CHUNK, hashFile, type FileDigest } from './targets-hashing.js';

/**
 * Deletes the temp files a killed command left in the repository (a half-copied target in
 * blobs/, a half-written role file or settings). Call only holding the repository's lock: every
 * command that writes there holds it, so no live command owns any of them.
 */
export async function removeStaleRepositoryTempFiles(layout: RepoLayout): Promise<void> {
  for (const dir of [layout.dir, layout.metadataDir, layout.rootHistoryDir, layout.blobsDir, join(layout.dir, INDEX_DIR)]) await removeStaleTempFiles(dir);
}

/** A node:fs callback call as a promise. */
function call<T>(fn: (cb: (e: NodeJS.ErrnoException | null, v: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => fn((e, v) => (e ? reject(e) : resolve(v))));
}

/**
 * Target contents kept inside the repository, each under its digest (DIR/blobs/<alg>/<hh>/<hex>).
 * Adding a file reads it once: hashed with every algorithm and copied to a temp file in the same
 * pass; the temp file is fsynced and renamed to its digest name. Identical contents are stored once.
 * A blob is never written again once named: publish hard-links published files to it (read-only
 * so that no other tool edits it in place either).
 */
export class BlobStore {
  /**
   * Lists, one digest a line, every blob a command created before the roles naming it were
   * written: a command killed in between leaves blobs no role names, which the next command finds
   * here (recoverUnfinished). Written before each rename, removed once the command is done.
   */
  static readonly JOURNAL = '.tufkit-new-blobs';
  private journalFd: number | undefined;
  private readonly madeDirs = new Set<string>();
  /** Temp names: one random prefix per store, then a counter (no random bytes per file). */
  private readonly tempPrefix = `${TEMP_PREFIX}${randomBytes(6).toString('hex')}-`;
  private tempCounter = 0;
  private readonly dirtyDirs = new Set<string>();
  /** Blobs and folders created since the last flush(), removed again by rollback(). */
  private createdBlobs: string[] = [];
  private createdDirs: string[] = [];

  constructor(
    private readonly layout: RepoLayout,
    /** The algorithm whose digest names the blobs (the first target hash algorithm). */
    readonly algorithm: string,
  ) {}

  path(hex: string): string {
    return this.layout.blobFile(this.algorithm, hex);
  }

  async has(hex: string): Promise<boolean> {
    try {
      return (await stat(this.path(hex))).isFile();
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return false;
      throw e;
    }
  }

  /**
   * Copies `file` into the store, hashing it with `algorithms` (which include the store's own) on
   * the way. `created` is false when the same contents were stored already.
   */
  async add(file: string, algorithms: string[], buffer: Buffer = Buffer.allocUnsafe(CHUNK)): Promise<{ digest: FileDigest; created: boolean }> {
    await this.ensureDir(this.layout.blobsDir);
    const temp = join(this.layout.blobsDir, `${this.tempPrefix}${this.tempCounter++}`);
    // Bare descriptors and callbacks, as in hashFile: this runs once per target.
    let fd: number | undefined = await call<number>((cb) => fs.open(temp, 'wx', 0o444, cb));
    try {
      const out = fd;
      const digest = await hashFile(file, algorithms, async (chunk) => {
        for (let off = 0; off < chunk.length; ) off += await call<number>((cb) => fs.write(out, chunk, off, chunk.length - off, null, cb));
      }, buffer);
      await call<void>((cb) => fs.fsync(out, cb));
      await call<void>((cb) => fs.close(out, cb));
      fd = undefined;
      const hex = digest.hashes[this.algorithm]!;
      const dest = this.path(hex);
      if (await this.has(hex)) {
        await unlink(temp);
        return { digest, created: false };
      }
      await this.ensureDir(dirname(dest));
      await this.journal(hex);
      await rename(temp, dest);
      this.createdBlobs.push(dest);
      this.dirtyDirs.add(dirname(dest));
      return { digest, created: true };
    } catch (e) {
      if (fd !== undefined) fs.close(fd, () => undefined);
      await unlink(temp).catch(() => undefined);
      throw e;
    }
  }

  /** Makes the renames of every add() since the last flush durable. */
  async flush(): Promise<void> {
    const dirs = [...this.dirtyDirs];
    this.dirtyDirs.clear();
    this.createdBlobs = [];
    this.createdDirs = [];
    for (const d of dirs) await fsyncDir(d);
  }

  /**
   * The blobs a killed command may have left without any role naming them (the journal of its
   * created blobs), or [] when the last command finished. Call holding the repository's lock.
   */
  async unfinished(): Promise<string[]> {
    let text: string;
    try {
      text = await readFile(this.journalPath(), 'utf8');
    } catch (e) {
      if (isErrno(e, 'ENOENT')) return [];
      throw e;
    }
    return text.split('\n').filter((hex) => /^[0-9a-f]+$/.test(hex));
  }

  /** Ends the command's journal: every blob it created is named by a role, or was removed. */
  async closeJournal(): Promise<void> {
    await this.releaseJournal();
    await unlink(this.journalPath()).catch((e: unknown) => {
      if (!isErrno(e, 'ENOENT')) throw e;
    });
  }

  /** Closes the journal file, keeping it for the next command (a command that failed half-way). */
  async releaseJournal(): Promise<void> {
    if (this.journalFd === undefined) return;
    const fd = this.journalFd;
    this.journalFd = undefined;
    await call<void>((cb) => fs.close(fd, cb));
  }

  private journalPath(): string {
    return join(this.layout.blobsDir, BlobStore.JOURNAL);
  }

  /** Appends `hex` to the journal (a write per blob, no fsync: it guards against a killed process). */
  private async journal(hex: string): Promise<void> {
    if (this.journalFd === undefined) this.journalFd = await call<number>((cb) => fs.open(this.journalPath(), 'a', 0o644, cb));
    const line = Buffer.from(`${hex}\n`);
    const fd = this.journalFd;
    for (let off = 0; off < line.length; ) off += await call<number>((cb) => fs.write(fd, line, off, line.length - off, null, cb));
  }

  /** Removes every blob and folder created since the last flush() (a command that failed), and the journal. */
  async rollback(): Promise<void> {
    for (const p of this.createdBlobs) await unlink(p).catch(() => undefined);
    await this.closeJournal(); // before the folders: it may be in one the command created
    for (const d of this.createdDirs.reverse()) await rmdir(d).catch(() => undefined);
    this.createdBlobs = [];
    this.createdDirs = [];
    this.madeDirs.clear();
    this.dirtyDirs.clear();
  }

  /** Deletes the blob `hex` if present (durably: its folder is fsynced by flush()). */
  async remove(hex: string): Promise<void> {
    const p = this.path(hex);
    try {
      await unlink(p);
      this.dirtyDirs.add(dirname(p));
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    const first = await mkdir(dir, { recursive: true });
    if (first !== undefined) {
      // Every folder from `first` down to `dir` is new.
      const made: string[] = [];
      for (let d = dir; d.length >= first.length; d = dirname(d)) made.unshift(d);
      this.createdDirs.push(...made);
    }
    this.madeDirs.add(dir);
  }
}
