import { join, sep } from 'node:path';
import { UnsafePathError } from '../errors.js';
import { isWindowsDeviceName } from '../client/safe-names.js';
import { TOP_LEVEL_ROLES } from '../models/root.js';

/*
 * The folder of a tufkit repository (DIR), as `Repository` keeps it:
 *
 *   DIR/tufkit-repo.json                    settings: expiry periods, target hash algorithms, whether
 *                                           snapshot lists lengths and hashes (not under metadata/, so
 *                                           no tool mistakes it for a role)
 *   DIR/metadata/<role>.json                the working copy of every role, top-level and delegated
 *                                           (canonical JSON; the version being edited or signed)
 *   DIR/metadata/root_history/<N>.root.json every root version that reached its thresholds, as signed:
 *                                           publish serves them all so clients can walk the chain
 *   DIR/blobs/<alg>/<hh>/<hex>              target contents, named by their digest with the first
 *                                           configured algorithm: two roles may list one path with
 *                                           different contents, and no target path ever becomes a
 *                                           path on disk here
 *   DIR/index/                              what tufkit knows of every targets role without reading
 *                                           it (see repo-index.ts): a cache, rebuilt when it does not match
 *   DIR/.tufkit.lock                        held while a command changes the folder
 *
 * Role names are restricted (see checkRoleName) so that a role's file name, its published names
 * `V.<role>.json` and their URLs are all the name itself; and (checkDelegatedRoleName,
 * checkDistinctFiles) so that no two roles' files, nor two targets' files, are one file on a
 * case-insensitive disk (macOS, Windows).
 */

export const SETTINGS_FILE = 'tufkit-repo.json';
export const METADATA_DIR = 'metadata';
export const ROOT_HISTORY_DIR = 'root_history';
export const BLOBS_DIR = 'blobs';
export const INDEX_DIR = 'index';

/** Longest delegated role name (its file names must fit in 255 bytes with a version prefix). */
const MAX_ROLE_NAME = 200;
/** Longest published file name (most file systems). */
const MAX_FILE_NAME_BYTES = 255;
/** Segments of 1-100 of [A-Za-z0-9_.+-], none starting with ".", joined by "/". */
const PLAIN_PATH = /^[\w+-][\w.+-]{0,99}(?:\/[\w+-][\w.+-]{0,99})*$/;
const ROLE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Throws UnsafePathError unless `name` can be a role name: letters, digits, `_ . -`, not starting with `.` or `-`. */
export function checkRoleName(name: string): void {
  if (!ROLE_NAME.test(name) || name.length > MAX_ROLE_NAME) {
    throw new UnsafePathError(
      `role name "${name}" is not allowed: use at most ${MAX_ROLE_NAME} letters, digits, "_", "." or "-", starting with a letter, digit or "_"`,
    );
  }
}

/**
 * The name a case-insensitive file system (macOS, Windows) sees: two names with one key are one
 * file there. NFC because APFS and HFS+ also ignore normalisation; per-character upper- then
 * lower-casing approximates Unicode simple case folding (`Σ`, `σ` and `ς` are one letter, `ß`
 * stays `ß`). Role names are ASCII, so for them this is plain lower-casing.
 */
export function caseFoldKey(name: string): string {
  // ASCII (nearly every path): the same key, without a loop per character.
  // eslint-disable-next-line no-control-regex
  if (/^[\x00-\x7f]*$/.test(name)) return name.toLowerCase();
  let out = '';
  for (const c of name.normalize('NFC')) {
    const upper = c.toUpperCase();
    out += [...upper].length === 1 ? upper : c;
  }
  return out.toLowerCase().normalize('NFC');
}

/** `root`, `1.root`, `ROOT`, `7.Snapshot`: names of top-level role files, published ones included. */
const TOP_LEVEL_FILE = new RegExp(`^(?:[0-9]+\\.)?(?:${TOP_LEVEL_ROLES.join('|')})$`, 'i');

/**
 * Throws UnsafePathError unless `name` is a role a targets role may delegate: not a top-level
 * name, nor one ignoring case, nor `N.<top-level>`, nor a Windows device name (`nul`, `COM1`). Published, a role `R` is `R.json` or `V.R.json`,
 * so `Root` would replace root.json and `1.root` (without consistent snapshots) 1.root.json,
 * which every client fetches, on any disk or on a case-insensitive one.
 */
export function checkDelegatedRoleName(name: string): void {
  checkRoleName(name);
  if ((TOP_LEVEL_ROLES as readonly string[]).includes(name)) {
    throw new UnsafePathError(`role name "${name}" is a top-level role and cannot be delegated`);
  }
  if (TOP_LEVEL_FILE.test(name)) {
    throw new UnsafePathError(
      `role name "${name}" is not allowed: its metadata file would be named like a top-level role's (${caseFoldKey(name)}.json) on case-insensitive file systems`,
    );
  }
  if (isWindowsDeviceName(name)) {
    throw new UnsafePathError(`role name "${name}" is not allowed: Windows takes ${name}.json for a device, not a file`);
  }
}

/** Something stored under `file` in one folder; `label` says what, for the message ("role \"x\""). */
export interface StoredName {
  file: string;
  label: string;
}

/**
 * Throws UnsafePathError when two of `entries` would be one file: the same file name, or names
 * that differ only in case (one file on macOS and Windows, where python-tuf and tuf-js clients
 * also store them under these names). Entries with the same label are one thing stored once.
 */
export function checkDistinctFiles(entries: Iterable<StoredName>, fix: string): void {
  const seen = new Map<string, StoredName>();
  for (const e of entries) {
    const key = caseFoldKey(e.file);
    const other = seen.get(key);
    if (other === undefined) {
      seen.set(key, e);
    } else if (other.label !== e.label) {
      const where = other.file === e.file ? `"${e.file}"` : `"${other.file}" and "${e.file}", which differ only in case (one file on macOS and Windows)`;
      throw new UnsafePathError(`${other.label} and ${e.label} would be stored as ${where}: ${fix}`);
    }
  }
}

/**
 * Throws UnsafePathError when two target paths differ only in case, whichever roles list them
 * (`listing`: path and a role listing it; one path may come several times): published they share
 * OUT/targets, and clients store downloads under their paths (python-tuf, tuf-js), so on macOS and
 * Windows one would replace the other. Compared as paths, not as the HASH.name files of consistent
 * snapshots: those differ only while the contents do, and a client's download folder has no HASH.
 */
export function checkTargetPathsDistinct(listing: Iterable<readonly [path: string, role: string]>): void {
  const roleOf = new Map<string, string>();
  for (const [path, role] of listing) if (!roleOf.has(path)) roleOf.set(path, role);
  checkDistinctFiles(
    [...roleOf].map(([path, role]) => ({ file: path, label: `target "${path}" of role "${role}"` })),
    'rename one of them',
  );
}

/**
 * Throws UnsafePathError unless `path` is a relative target path whose every segment is a plain
 * name: no empty, `.` or `..` segment, no leading `/`, no `\`, NUL or control character, no drive
 * letter, and every published file name (`HASH.name` for the longest digest) fits in 255 bytes.
 */
export function checkTargetPath(path: string, longestDigestHex = 64): void {
  // Most paths are plain ASCII names of at most 100 bytes a segment: one test proves the rest for them.
  if (longestDigestHex <= MAX_FILE_NAME_BYTES - 101 && PLAIN_PATH.test(path)) return;
  const bad = (why: string): never => {
    throw new UnsafePathError(`target path "${path}" ${why}`);
  };
  if (path.length === 0) bad('is empty');
  if (path.startsWith('/')) bad('is absolute (starts with "/")');
  if (/^[A-Za-z]:/.test(path)) bad('starts with a drive letter');
  // eslint-disable-next-line no-control-regex
  if (/[\\\u0000-\u001f\u007f]/.test(path)) bad('contains "\\" or a control character');
  for (const segment of path.split('/')) {
    if (segment === '') bad('has an empty segment ("//" or a trailing "/")');
    if (segment === '.' || segment === '..') bad(`has a "${segment}" segment`);
    if (Buffer.byteLength(segment) + longestDigestHex + 1 > MAX_FILE_NAME_BYTES) {
      bad(`has a segment longer than ${MAX_FILE_NAME_BYTES - longestDigestHex - 1} bytes`);
    }
  }
  try {
    encodeURIComponent(path);
  } catch {
    bad('is not valid Unicode');
  }
}

/** Paths inside one repository folder. Every name is checked before it becomes a path. */
export class RepoLayout {
  readonly blobsDir: string;

  constructor(readonly dir: string) {
    this.blobsDir = join(dir, BLOBS_DIR);
  }

  get settingsFile(): string {
    return join(this.dir, SETTINGS_FILE);
  }

  get metadataDir(): string {
    return join(this.dir, METADATA_DIR);
  }

  get rootHistoryDir(): string {
    return join(this.dir, METADATA_DIR, ROOT_HISTORY_DIR);
  }

  roleFile(name: string): string {
    checkRoleName(name);
    return join(this.metadataDir, `${name}.json`);
  }

  rootHistoryFile(version: number): string {
    if (!Number.isSafeInteger(version) || version < 1) throw new UnsafePathError(`root version ${version} is not a positive integer`);
    return join(this.rootHistoryDir, `${version}.root.json`);
  }

  blobFile(algorithm: string, hex: string): string {
    if (!/^[a-z0-9-]+$/.test(algorithm) || !/^[0-9a-f]{16,}$/.test(hex)) {
      throw new UnsafePathError(`"${algorithm}:${hex}" is not a digest tufkit can store`);
    }
    // Both checked plain above: concatenation is their join (called once per target by publish).
    return `${this.blobsDir}${sep}${algorithm}${sep}${hex.slice(0, 2)}${sep}${hex}`;
  }
}

/** Where publish writes role metadata inside OUT/metadata. */
export function publishedMetadataName(role: string, version: number | undefined): string {
  checkRoleName(role);
  return version === undefined ? `${role}.json` : `${version}.${role}.json`;
}

/**
 * The path (relative to OUT/targets, `/`-separated) of a target as a client requests it:
 * `dir/HASH.name` with consistent snapshots, else the target path itself.
 */
export function publishedTargetName(targetPath: string, digestHex?: string): string {
  checkTargetPath(targetPath, digestHex?.length ?? 0);
  return digestHex === undefined ? targetPath : targetFileName(targetPath, digestHex);
}

/** `dir/HASH.name` for target path `dir/name`, unchecked (publishedTargetName checks the path). */
export function targetFileName(targetPath: string, digestHex: string): string {
  const i = targetPath.lastIndexOf('/');
  return `${targetPath.slice(0, i + 1)}${digestHex}.${targetPath.slice(i + 1)}`;
}
