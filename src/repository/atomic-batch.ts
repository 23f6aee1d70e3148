import { randomBytes } from 'node:crypto';
import { open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { fsyncDir } from '../client/atomic-file.js';
import { mapLimit } from './targets-hashing.js';

// Many files replaced at once (1,024 hash bins re-signed): each goes through its own temp file in
// the same folder, fsync and rename, as writeFileAtomic does, but each folder is fsynced once at
// the end rather than after every rename, which would cost one journal commit per file.

const TEMP_PREFIX = '.tufkit-tmp-';

async function writeOne(path: string, data: Uint8Array): Promise<void> {
  const temp = join(dirname(path), `${TEMP_PREFIX}${basename(path).slice(0, 100)}-${randomBytes(6).toString('hex')}`);
  let handle: FileHandle | undefined;
  try {
    handle = await open(temp, 'wx', 0o644);
    await handle.writeFile(data);
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temp, path);
  } catch (e) {
    await handle?.close().catch(() => undefined);
    await unlink(temp).catch(() => undefined);
    throw e;
  }
}

/** Atomically replaces every `[path, bytes]` (folders must exist), then makes the renames durable. */
export async function writeFilesAtomic(files: readonly (readonly [string, Uint8Array])[], concurrency = 32): Promise<void> {
  const dirs = new Set<string>();
  try {
    await mapLimit(files, concurrency, async ([path, data]) => {
      await writeOne(path, data);
      dirs.add(dirname(path));
    });
  } finally {
    for (const d of dirs) await fsyncDir(d);
  }
}
