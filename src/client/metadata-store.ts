import { join } from 'node:path';
import { readFileCapped, removeFile, writeFileAtomic } from './atomic-file.js';
import { safeFileName } from './safe-names.js';

/**
 * The metadata dir: trusted metadata only, byte for byte as served, one non-versioned file per
 * role (`root.json`, `timestamp.json`, ..., a delegated role as `<safe name>.json`). Two roles'
 * files differ even ignoring case, and no role's file is root.json unless it is root (delegations
 * never use top-level names, see Delegations.fromJSON), so a role named `Root` cannot replace the
 * trusted root on a case-insensitive disk (see safeFileName).
 */
export class MetadataStore {
  constructor(readonly dir: string) {}

  /** The file of `role`, always directly inside the dir. */
  path(role: string): string {
    return join(this.dir, `${safeFileName(role)}.json`);
  }

  /** The cached bytes of `role`, or undefined when there are none. */
  read(role: string, maxLength: number): Promise<Uint8Array | undefined> {
    return readFileCapped(this.path(role), maxLength, `read ${what(role)}`);
  }

  /** Stores bytes that were just verified. */
  write(role: string, bytes: Uint8Array): Promise<void> {
    return writeFileAtomic(this.path(role), bytes, undefined, { action: `write ${what(role)}` });
  }

  remove(role: string): Promise<void> {
    return removeFile(this.path(role), `remove ${what(role)}`);
  }
}

/** What a file-system error names the file of `role` as. */
function what(role: string): string {
  return role === 'root' ? 'the trusted root' : `the cached metadata of role "${role}"`;
}
