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
