import { dirname } from 'node:path';
import { fsyncDir, writeFileAtomic } from '../client/atomic-file.js';
import { mapLimit } from './targets-hashing.js';

// Many files replaced at once (1,024 hash bins re-signed): each goes through writeFileAtomic (temp
// file in the same folder, fsync, rename), but each folder is fsynced once at the end rather than
// after every rename, which would cost one journal commit per file.

/** Atomically replaces every `[path, bytes]` (folders must exist), then makes the renames durable. */
export async function writeFilesAtomic(files: readonly (readonly [string, Uint8Array])[], concurrency = 32): Promise<void> {
  const dirs = new Set<string>();
  try {
    await mapLimit(files, concurrency, async ([path, data]) => {
      await writeFileAtomic(path, data, undefined, { syncDir: false });
      dirs.add(dirname(path));
    });
  } finally {
    for (const d of dirs) await fsyncDir(d);
  }
}

/**
 * Files written now and put in place later: each is written to a temp file in its folder and
 * fsynced as soon as it is added (`concurrency` at a time), then waits; commit() renames them all
 * into place and syncs their folders, abort() removes the temp files. Publish writes role files
 * this way while target files are still being placed, and names them only once those are durable.
 */
export class StagedFiles {
  private readonly writes: Promise<void>[] = [];
  private readonly dirs = new Set<string>();
  private readonly waiting: (() => void)[] = [];
  private active = 0;
  private open!: () => void;
  private cancel!: (e: unknown) => void;
  private readonly gate = new Promise<void>((resolve, reject) => {
    this.open = resolve;
    this.cancel = reject;
  });

  constructor(private readonly concurrency = 32) {
    this.gate.catch(() => undefined);
  }

  /** Files added. */
  get size(): number {
    return this.writes.length;
  }

  add(path: string, data: Uint8Array): void {
    const write = this.write(path, data);
    write.catch(() => undefined); // reported by commit() or dropped by abort()
    this.writes.push(write);
  }

  /** Puts every file in place; throws the first failure (the others still renamed). */
  async commit(): Promise<void> {
    this.open();
    const results = await Promise.allSettled(this.writes);
    for (const d of this.dirs) await fsyncDir(d);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  /** Removes every temp file; nothing is put in place. */
  async abort(reason: unknown): Promise<void> {
    this.cancel(reason);
    await Promise.allSettled(this.writes);
  }

  private async write(path: string, data: Uint8Array): Promise<void> {
    if (this.active < this.concurrency) this.active++;
    else await new Promise<void>((r) => this.waiting.push(r));
    let held = true;
    const free = (): void => {
      if (!held) return;
      held = false;
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    };
    try {
      // The slot is freed once the file is written and synced: waiting holds no descriptor.
      await writeFileAtomic(path, data, async () => {
        free();
        await this.gate;
      }, { syncDir: false });
      this.dirs.add(dirname(path));
    } finally {
      free();
    }
  }
}
