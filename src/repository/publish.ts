import { createReadStream } from 'node:fs';
import { lstat, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { setImmediate } from 'node:timers/promises';
import { fsyncDir, isErrno, listTempFiles, removeAbandonedTempFiles, writeFileAtomic } from '../client/atomic-file.js';
import { sha256Hex } from '../crypto/hash.js';
import { BadVersionError, FileSystemError, LengthOrHashMismatchError, RepositoryError, UsageError } from '../errors.js';
import { StreamingVerifier, type TargetFile } from '../models/files.js';
import { StagedFiles, writeFilesAtomic } from './atomic-batch.js';
import { linkLine, TargetLinker, type LinkRequest, type Unlinked } from './link-worker.js';
import type { BlobStore } from './blob-store.js';
import { BLOBS_DIR, checkDistinctFiles, checkTargetPath, INDEX_DIR, METADATA_DIR, publishedMetadataName, SETTINGS_FILE, targetFileName } from './layout.js';
import type { RepoIndex } from './repo-index.js';
import type { RoleStore } from './role-store.js';
import { problemError, repositoryStatus } from './status.js';
import { CHUNK, mapLimit } from './targets-hashing.js';

/*
 * What publish writes into OUT, the folder a web server serves:
 *   OUT/metadata/N.root.json    every root version in root_history (clients walk them one by one)
 *   OUT/metadata/root.json      the current root, for bootstrapping clients (no client fetches it)
 *   OUT/metadata/timestamp.json
 *   OUT/metadata/V.snapshot.json, OUT/metadata/V.<role>.json     with consistent snapshots,
 *   OUT/metadata/snapshot.json,   OUT/metadata/<role>.json       without
 *   OUT/targets/<dir>/<HASH>.<name> for every hash of every target with consistent snapshots,
 *   OUT/targets/<path>              without
 * Files already in OUT are never deleted: with consistent snapshots, clients in the middle of an
 * update still find the versions they started from. Targets are written first and timestamp.json
 * last, so a client never sees metadata naming a file that is not there yet.
 */

/**
 * A temp file in OUT untouched this long was left by a publish that died. OUT has no lock every
 * writer holds (another repository may publish into it), so, as for the client's download folder,
 * only idle ones are removed; a live publish writes its files from local disk without pausing.
 */
export const ABANDONED_PUBLISH_MS = 10 * 60 * 1000;

export interface PublishResult {
  out: string;
  /** Files written (paths relative to OUT, `/`-separated). */
  readonly written: string[];
  /** How many: `written.length`, without listing them. */
  filesWritten: number;
  /** Files already in OUT with the right contents. */
  unchanged: number;
  rootVersion: number;
  snapshotVersion: number;
  timestampVersion: number;
  targets: number;
}

/** How far long work has come: target files hashed (adding) or copied (publishing), of how many. */
export interface FileProgress {
  done: number;
  total: number;
  /** Bytes read or written so far. */
  bytes: number;
}

export interface PublishOptions {
  /** Called as each target file is copied (or found in place); for showing progress. */
  onProgress?: (p: FileProgress) => void;
}

/**
 * A target file to place in OUT: the target's path under OUT/targets, its file named `HASH.name`
 * with consistent snapshots (targetFileName). Paths are made when asked: 100,000 of them kept would
 * be most of the memory publish holds, and the collector's work.
 */
class TargetCopy implements LinkRequest {
  constructor(
    readonly target: TargetFile,
    /** The folder in OUT it goes into, and the last segment of its target path. */
    readonly dir: string,
    private readonly base: string,
    /** The digest in its published name (consistent snapshots), undefined for the plain name. */
    readonly nameHex: string | undefined,
    private readonly blobs: BlobStore,
    private readonly storeHex: string,
  ) {}

  get immutable(): boolean {
    return this.nameHex !== undefined;
  }

  get name(): string {
    return this.nameHex === undefined ? this.base : targetFileName(this.base, this.nameHex);
  }

  get size(): number {
    return this.target.length;
  }

  get blob(): string {
    return this.blobs.path(this.storeHex);
  }

  get dest(): string {
    return `${this.dir}${sep}${this.name}`;
  }
}

/** How PublishResult.written names a target file: `targets/` and its published name. */
function publishedPath(c: TargetCopy): string {
  return `targets/${c.nameHex === undefined ? c.target.path : targetFileName(c.target.path, c.nameHex)}`;
}

/** The target files of one role. */
interface RoleFiles {
  role: string;
  /** Walked again whenever asked. */
  files: Iterable<TargetFile>;
}

/** Roles whose files are linked as one batch (a role of hash bins lists few; a message per role cost more than its links). */
type RoleBatch = RoleFiles[];

/** Files a batch holds at least, but the last one. */
const BATCH_FILES = 256;

/**
 * The files publish places for targets: each target's published names and folders in OUT (the
 * folders kept, one per name). Nothing is kept per file: a role's files are made again from the
 * role when asked (a file not linked, progress, the list of files written).
 */
class TargetFiles {
  /** Folders (relative to OUT/targets, "/"-separated) -> the folder in OUT. */
  readonly folders = new Map<string, string>();
  readonly batches: RoleBatch[] = [];
  /** Files to place, in every batch. */
  count = 0;
  /** The batch being filled, and its text. */
  private next: RoleBatch = [];
  private text = '';
  private inNext = 0;

  constructor(
    private readonly targetsDir: string,
    private readonly blobs: BlobStore,
    private readonly consistent: boolean,
  ) {}

  /** Adds the files of role `role`, sent to `linker` once the batch holds BATCH_FILES (or on flush()). */
  send(linker: TargetLinker<RoleBatch>, files: Iterable<TargetFile>, role: string): void {
    const rf: RoleFiles = { role, files };
    for (const c of this.copiesOf([rf])) {
      this.text += linkLine(c.blob, c.dest, c.size);
      this.inNext++;
    }
    this.next.push(rf);
    if (this.inNext >= BATCH_FILES) this.flush(linker);
  }

  /** Sends the batch being filled. */
  flush(linker: TargetLinker<RoleBatch>): void {
    if (this.next.length === 0) return;
    this.batches.push(this.next);
    linker.send(this.next, this.text);
    this.count += this.inNext;
    this.next = [];
    this.text = '';
    this.inNext = 0;
  }

  /** The files at these positions of their batches. */
  copiesAt(positions: readonly Unlinked<RoleBatch>[]): TargetCopy[] {
    const out: TargetCopy[] = [];
    for (const [batch, at] of byBatch(positions)) {
      let n = 0;
      for (const c of this.copiesOf(batch)) if (at.has(n++)) out.push(c);
    }
    return out;
  }

  /** Where every file but those at `unlinked` was placed, as PublishResult.written names them. */
  linkedPaths(unlinked: readonly Unlinked<RoleBatch>[]): string[] {
    const skip = byBatch(unlinked);
    const out: string[] = [];
    for (const batch of this.batches) {
      const at = skip.get(batch);
      let n = 0;
      for (const c of this.copiesOf(batch)) if (!at?.has(n++)) out.push(publishedPath(c));
    }
    return out;
  }

  /** The files of a batch's roles, in the order listed; a file listed twice is placed once, the second finds it there. */
  private *copiesOf(batch: RoleBatch): Generator<TargetCopy> {
    for (const { files, role } of batch) yield* this.copiesOfRole(files, role);
  }

  private *copiesOfRole(files: Iterable<TargetFile>, role: string): Generator<TargetCopy> {
    const alg = this.blobs.algorithm;
    for (const tf of files) {
      const storeHex = tf.hashes[alg];
      if (!storeHex) throw new RepositoryError(`internal: target "${tf.path}" of role "${role}" has no ${alg} hash, yet the index let it through`);
      const path = tf.path;
      let longest = 0;
      if (this.consistent) for (const a in tf.hashes) longest = Math.max(longest, tf.hashes[a]!.length);
      checkTargetPath(path, longest);
      // Checked: plain segments joined by "/", so concatenation is their join.
      const slash = path.lastIndexOf('/');
      const relDir = slash < 0 ? '' : path.slice(0, slash);
      const base = path.slice(slash + 1);
      let dir = this.folders.get(relDir);
      if (dir === undefined) this.folders.set(relDir, (dir = relDir ? join(this.targetsDir, ...relDir.split('/')) : this.targetsDir));
      if (!this.consistent) yield new TargetCopy(tf, dir, base, undefined, this.blobs, storeHex);
      else for (const a in tf.hashes) yield new TargetCopy(tf, dir, base, tf.hashes[a], this.blobs, storeHex);
    }
  }
}

/** Positions grouped by batch. */
function byBatch(positions: readonly Unlinked<RoleBatch>[]): Map<RoleBatch, Set<number>> {
  const m = new Map<RoleBatch, Set<number>>();
  for (const { batch, position } of positions) {
    let at = m.get(batch);
    if (!at) m.set(batch, (at = new Set()));
    at.add(position);
  }
  return m;
}

function missingBlob(c: TargetCopy): RepositoryError {
  return new RepositoryError(`cannot publish: the stored contents of target "${c.target.path}" (${c.blob}) are missing or damaged; add the file again`);
}

function inside(child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith(sep) ? parent : parent + sep);
}

function checkOutFolder(repoDir: string, out: string): void {
  const repo = resolve(repoDir);
  const o = resolve(out);
  const ours = [join(repo, METADATA_DIR), join(repo, BLOBS_DIR), join(repo, INDEX_DIR), join(repo, SETTINGS_FILE)];
  const theirs = [join(o, 'metadata'), join(o, 'targets')];
  for (const a of ours) {
    for (const b of theirs) {
      if (inside(a, b) || inside(b, a)) throw new UsageError(`publish folder ${out} overlaps the repository's own files (${relative(repo, a) || a})`);
    }
  }
}

/** Whether `path` is a file holding exactly `bytes` (its size is checked before it is read), another file, or absent. */
async function compareFile(path: string, bytes: Uint8Array): Promise<'same' | 'other' | 'absent'> {
  try {
    const s = await stat(path);
    if (!s.isFile()) return 'other';
    if (s.size !== bytes.length) return 'other';
    return Buffer.compare(await readFile(path), bytes) === 0 ? 'same' : 'other';
  } catch (e) {
    if (isErrno(e, 'ENOENT', 'ENOTDIR')) return 'absent';
    throw e;
  }
}

/** The caching rules publish writes beside metadata/ and targets/ (see cachingRules). */
export const HEADERS_FILE = '_headers';
export const NGINX_FILE = 'tufkit-nginx.conf';
const FOREVER = 'public, max-age=31536000, immutable';
const REVALIDATE = 'no-cache';

/**
 * What a host must send for OUT served at the site root: files whose name fixes their contents
 * (N.root.json, and with consistent snapshots V.<role>.json and HASH.<name> targets) cached for a
 * year and immutable; timestamp.json, root.json and every unversioned file revalidated on each
 * request (no-cache: a cache may keep it, but asks the server before each use). As an nginx
 * snippet (to include in a `server { root OUT; }` block) and a `_headers` file (Cloudflare Pages
 * syntax; `! Cache-Control` drops the broader rule's value, which Cloudflare would otherwise join).
 */
export function cachingRules(consistent: boolean): { nginx: string; headers: string } {
  const metadata = consistent ? FOREVER : REVALIDATE;
  const targets = consistent ? FOREVER : REVALIDATE;
  const nginx = [
    '# Written by tufkit publish: caching rules for this folder served at the site root.',
    '# include this file inside a server { root <this folder>; } block.',
    '# Immutable only on success (no "always"): a 404 for a version not published yet must not be kept.',
    `location = /metadata/timestamp.json { add_header Cache-Control "${REVALIDATE}" always; }`,
    `location = /metadata/root.json { add_header Cache-Control "${REVALIDATE}" always; }`,
    `location ~ ^/metadata/[0-9]+\\.root\\.json$ { add_header Cache-Control "${FOREVER}"; }`,
    `location /metadata/ { add_header Cache-Control "${metadata}"${consistent ? '' : ' always'}; }`,
    `location /targets/ { add_header Cache-Control "${targets}"${consistent ? '' : ' always'}; }`,
    `location = /${HEADERS_FILE} { return 404; }`,
    `location = /${NGINX_FILE} { return 404; }`,
    '',
  ].join('\n');
  const rule = (path: string, value: string, detach: boolean): string[] => [path, ...(detach ? ['  ! Cache-Control'] : []), `  Cache-Control: ${value}`];
  const headers = [
    '# Written by tufkit publish: caching rules for this folder served at the site root (Cloudflare Pages _headers format).',
    ...rule('/metadata/*', metadata, false),
    ...rule('/targets/*', targets, false),
    ...(consistent ? [] : rule('/metadata/*.root.json', FOREVER, true)),
    ...rule('/metadata/timestamp.json', REVALIDATE, true),
    ...rule('/metadata/root.json', REVALIDATE, true),
    '',
  ].join('\n');
  return { nginx, headers };
}

async function* verifiedChunks(blob: string, verifier: StreamingVerifier): AsyncGenerator<Uint8Array> {
  for await (const chunk of createReadStream(blob, { highWaterMark: CHUNK })) {
    verifier.update(chunk as Buffer);
    yield chunk as Buffer;
  }
}

/**
 * Puts target files into OUT/targets. A new file is a hard link to its blob when OUT is on the
 * repository's file system (no bytes copied), else a verified copy. A link is safe because no
 * tufkit command ever writes a blob in place: blobs are created by rename under their digest,
 * read-only, and only ever unlinked, and a published file is only ever replaced by rename; so a
 * later edit of the repository cannot change a published file, nor a later publish a blob.
 * A linked file is checked by size only (reading it would cost a copy): clients verify every
 * target's hashes, so damage costs availability, never integrity.
 */
class TargetPlacer {
  private readonly dirty = new Set<string>();
  private readonly made = new Set<string>();

  /** Puts `c` at its place: true when written, false when a file there held those contents already. */
  async place(c: TargetCopy): Promise<boolean> {
    const dest = c.dest;
    const have = await lstat(dest).catch((e: unknown) => {
      if (isErrno(e, 'ENOENT')) return undefined;
      throw e;
    });
    if (have?.isFile()) {
      const blob = await stat(c.blob);
      if (have.ino === blob.ino && have.dev === blob.dev) return false;
      // A HASH.name file's contents are fixed by its name: one of the right size is left alone.
      if (c.immutable && have.size === c.target.length) return false;
    }
    if (!this.made.has(c.dir)) {
      await mkdir(c.dir, { recursive: true });
      this.made.add(c.dir);
    }
    const verifier = new StreamingVerifier(c.target.length, c.target.hashes, `stored contents of target "${c.target.path}"`);
    await writeFileAtomic(dest, verifiedChunks(c.blob, verifier), () => verifier.finish(), { syncDir: false });
    this.dirty.add(c.dir);
    return true;
  }

  /** Makes every link and rename durable: in `linked` (folders the thread linked into), those place() wrote to, and the folders above them up to `top`. */
  async flush(linked: Iterable<string>, top: string): Promise<void> {
    const dirs = new Set<string>();
    const last = resolve(top);
    for (const dir of [...this.dirty, ...linked]) {
      for (let d = dir; !dirs.has(d); d = dirname(d)) {
        dirs.add(d);
        if (resolve(d) === last || dirname(d) === d) break;
      }
    }
    await mapLimit([...dirs], 16, fsyncDir);
  }
}

/** Checks the repository, then writes what clients fetch into `out`. */
export async function publishRepository(
  store: RoleStore,
  index: RepoIndex,
  blobs: BlobStore,
  /** How many hash algorithms each target lists (files per target with consistent snapshots). */
  targetHashes: number,
  out: string,
  now: Date,
  opts: PublishOptions = {},
  retired: Readonly<Record<string, number>> = {},
): Promise<PublishResult> {
  checkOutFolder(store.layout.dir, out);
  const status = await repositoryStatus(store, index, now, retired);
  if (!status.ready) throw problemError(status.problems[0]!, status.problems.length - 1);
  const consistent = status.consistentSnapshot;
  const tree = await store.tree();
  const rank = new Map(tree.map((n, i) => [n.name, i]));
  // Every target path of every role, checked before anything is written (the index keeps what
  // publish refuses, so no role is read for it).
  await index.checkTargets((role) => rank.get(role) ?? tree.length);

  // Metadata, in the order it must appear.
  const metadata: [string, Uint8Array][] = [];
  const rootVersion = (await store.load('root')).signed.version;
  for (const v of status.rootVersions) {
    if (v > rootVersion) continue;
    const bytes = await store.rootHistoryBytes(v);
    if (!bytes) throw new RepositoryError(`cannot publish: metadata/root_history/${v}.root.json vanished`);
    metadata.push([`${v}.root.json`, bytes]);
  }
  metadata.push(['root.json', await store.bytes('root')]);
  const roleFiles = tree.map(({ name }) => ({ name, file: publishedMetadataName(name, consistent ? index.role(name).version : undefined) }));
  const snapshotVersion = (await store.load('snapshot')).signed.version;
  const snapshotFile: [string, Uint8Array] = [publishedMetadataName('snapshot', consistent ? snapshotVersion : undefined), await store.bytes('snapshot')];
  const timestampFile: [string, Uint8Array] = ['timestamp.json', await store.bytes('timestamp')];
  // Role names are checked when roles are made, but this folder may come from elsewhere.
  checkDistinctFiles(
    [
      ...metadata.map(([file]) => ({ file, label: /^\d/.test(file) ? `root version ${file.split('.')[0]}` : 'role "root"' })),
      ...roleFiles.map(({ file, name }) => ({ file, label: `role "${name}"` })),
      { file: snapshotFile[0], label: 'role "snapshot"' },
      { file: timestampFile[0], label: 'role "timestamp"' },
    ],
    'remove the delegation of that role and delegate it under another name',
  );

  // A role file publish writes is read now: it must be the file the index (and so snapshot and
  // the signature verdict status relied on) knows. The store keeps the bytes it read: the ones
  // checked are the ones written.
  const checked = new Set<string>();
  const roleBytes = async (name: string): Promise<Uint8Array> => {
    const bytes = await store.bytes(name);
    if (checked.has(name)) return bytes;
    const r = index.role(name);
    if (bytes.length !== r.length || sha256Hex(bytes) !== r.sha256) {
      throw new LengthOrHashMismatchError(`cannot publish: ${store.layout.roleFile(name)} (role "${name}") is not the file snapshot version ${snapshotVersion} lists: it changed while publishing; run tufkit status`);
    }
    checked.add(name);
    return bytes;
  };

  // Role files already in OUT as they are now. With consistent snapshots V.<role>.json is that
  // version for good, and publish places targets before the metadata naming them, so every target
  // such a file lists was placed by the publish that wrote it: a re-publish skips them without a
  // stat. A file whose stat is the one recorded when it last held the role's bytes is not read.
  // (Every role is read before the targets are linked: reads then wait behind the links' journal.)
  const outKey = resolve(out);
  const metaDir = join(out, 'metadata');
  const inOut = new Set<string>();
  const toWrite: { name: string; file: string }[] = [];
  let compareSnapshot: 'same' | 'other' | 'absent' = 'absent';
  if (consistent) {
    compareSnapshot = await compareFile(join(metaDir, snapshotFile[0]), snapshotFile[1]);
    if (compareSnapshot === 'other') {
      throw new BadVersionError(
        `cannot publish: ${join(metaDir, snapshotFile[0])} was published with other contents (signed again since?); caches keep a published version for good, so the change needs a new version (tufkit expire renews the role and starts one)`,
      );
    }
  }
  // One listing of the folder spares a stat of each file not there (all of them, the first time);
  // names compared ignoring case, as a case-insensitive file system would find them.
  const listed = await readdir(metaDir).catch((e: unknown) => (isErrno(e, 'ENOENT', 'ENOTDIR') ? [] : Promise.reject(e)));
  const present = new Set(listed.map((n) => n.toLowerCase()));
  await mapLimit(roleFiles, 16, async ({ name, file }) => {
    const dest = join(metaDir, file);
    if (index.publishedSame(name, outKey, dest)) return void inOut.add(name);
    const bytes = await roleBytes(name);
    const state = present.has(file.toLowerCase()) ? await compareFile(dest, bytes) : 'absent';
    if (state === 'same') {
      inOut.add(name);
      index.recordPublished(name, outKey, dest);
    }
    // Caches keep a versioned file for a year (cachingRules): its bytes must never change.
    if (state === 'other' && consistent) {
      throw new BadVersionError(
        `cannot publish: ${dest} was published with other contents (signed again since?); caches keep a published version for good, so the change needs a new version (tufkit expire renews the role and starts one)`,
      );
    }
  });

  // Of the roles publish writes, only the target entries are read, from the bytes it writes. Their
  // targets (without consistent snapshots, those of every role) are handed a few roles at a time to
  // a thread that checks each new file's blob (present, of the listed size) and hard-links it into
  // OUT while the next role is read. A target file no metadata names yet is inert: metadata is written only once
  // every target is in place and durable.
  const targetsDir = join(out, 'targets');
  const targetFiles = new TargetFiles(targetsDir, blobs, consistent);
  const progress: FileProgress = { done: 0, total: 0, bytes: 0 };
  const linker = new TargetLinker<RoleBatch>(
    roleFiles.length,
    (linked, bytes) => {
      progress.done = linked;
      progress.bytes = bytes;
      opts.onProgress?.({ ...progress, total: targetFiles.count });
    },
    (batch, position, request, f) =>
      'blob' in f ? missingBlob(targetFiles.copiesAt([{ batch, position }])[0]!) : new FileSystemError('publish a target file', request.dest, f.error),
  );
  const pending = await index.publishFolders(outKey);
  // OUT itself too: the caching rules are written there.
  await index.setPublishFolders(outKey, [...new Set([...pending, out, targetsDir, metaDir])]);
  // Role files are written (temp file, fsync) as they are verified, beside the linking, and put in
  // place once every target is durable.
  const staged = new StagedFiles();
  const fail = async (e: unknown): Promise<never> => {
    await linker.stop();
    await staged.abort(e);
    throw e;
  };
  let targetCount = 0;
  let skipped = 0;
  const perTarget = consistent ? targetHashes : 1;
  // A role to write (or, without consistent snapshots, any role) has target files to place.
  if (!consistent || inOut.size < roleFiles.length) linker.prepare();
  try {
    for (const { name, file } of roleFiles) {
      const count = index.role(name).targets;
      targetCount += count;
      let listed: Iterable<TargetFile> | undefined;
      if (!inOut.has(name)) {
        toWrite.push({ name, file });
        // Only its target entries are read, from the bytes written: status judged these very bytes
        // (roleBytes checks their sha256) in full, signatures counted under the keys its delegator
        // lists now (the index's verdict).
        const bytes = await roleBytes(name);
        listed = await store.listedTargetFiles(name);
        if (staged.size === 0) await mkdir(metaDir, { recursive: true });
        staged.add(join(metaDir, file), bytes);
      }
      if (consistent && inOut.has(name)) {
        skipped += count * perTarget;
        continue;
      }
      const role = listed ? undefined : (await store.targets(name)).signed;
      targetFiles.send(linker, listed ?? { [Symbol.iterator]: () => role!.files() }, name);
      // The files being written beside (role files, index) go on only when this loop lets them.
      if (toWrite.length % 8 === 0) await setImmediate();
    }
    targetFiles.flush(linker);
  } catch (e) {
    return fail(e);
  }
  progress.total = targetFiles.count;

  const targetFolders = [...targetFiles.folders.values()];
  const folders = new Set([...pending, out, targetsDir, metaDir, ...targetFolders]);
  const written: string[] = [];
  let unchanged = skipped;
  // Each group durable before the next: root versions and targets, then the roles, snapshot, and
  // timestamp last.
  const writeMeta = async (files: [string, Uint8Array][]): Promise<void> => {
    const changed: (readonly [string, Uint8Array])[] = [];
    await mapLimit(files, 16, async ([name, bytes]) => {
      const dest = join(metaDir, name);
      if ((await compareFile(dest, bytes)) === 'same') {
        unchanged++;
        return;
      }
      changed.push([dest, bytes]);
      written.push(`metadata/${name}`);
    });
    await writeFilesAtomic(changed);
  };
  // While the thread links: the caching rules, which name no file.
  let later: TargetCopy[];
  let unlinkedAll: Unlinked<RoleBatch>[];
  let linked: number;
  try {
    await index.setPublishFolders(outKey, [...folders]);

    const rules = cachingRules(consistent);
    const newRules: [string, Uint8Array][] = [];
    for (const [path, text] of [[join(out, NGINX_FILE), rules.nginx], [join(out, HEADERS_FILE), rules.headers]] as const) {
      const bytes = Buffer.from(text);
      if ((await compareFile(path, bytes)) === 'same') unchanged++;
      else newRules.push([path, bytes]);
    }
    await writeFilesAtomic(newRules);
    for (const [path] of newRules) written.push(relative(out, path));
    const { unlinked, made } = await linker.finish();
    unlinkedAll = unlinked;
    linked = targetFiles.count - unlinked.length;
    later = targetFiles.copiesAt(unlinked);
    // Leftovers of killed publishes: in the folders this one writes to (but those it made), and in
    // those a publish into OUT was writing to when it stopped (recorded before it writes there,
    // kept until they are clean).
    await mapLimit([...folders].filter((d) => !made.has(d)), 16, async (d) => removeAbandonedTempFiles(d, ABANDONED_PUBLISH_MS, await listTempFiles(d)));
  } catch (e) {
    return fail(e);
  }

  // Files the thread did not link (already there, or another file system): compared, or copied.
  if (targetFiles.count > 0) opts.onProgress?.({ ...progress });

  try {
    const placer = new TargetPlacer();
    const placing = new Set<string>();
    await mapLimit(later, 16, async (c) => {
      const first = !placing.has(c.dest);
      placing.add(c.dest);
      if (first && (await placer.place(c))) {
        written.push(publishedPath(c));
        progress.bytes += c.size;
      } else {
        unchanged++;
      }
      progress.done++;
      opts.onProgress?.({ ...progress });
    });
    // Every target durable before any metadata names it: each folder holding one, and the folders
    // above them up to OUT (new folders are entries in their parents).
    await placer.flush(targetFolders, out);
    // A new root version only once everything it leads to is in place: it may rotate the keys the
    // published timestamp is signed with.
    await mkdir(metaDir, { recursive: true });
    await writeMeta(metadata);
  } catch (e) {
    return fail(e);
  }
  unchanged += inOut.size;
  await staged.commit();
  for (const { file } of toWrite) written.push(`metadata/${file}`);
  for (const { name, file } of toWrite) index.recordPublished(name, outKey, join(metaDir, file));
  if (compareSnapshot === 'same') unchanged++;
  else await writeMeta([snapshotFile]);
  await writeMeta([timestampFile]);

  // Clean now, or still holding a killed publish's temp files too young to remove.
  const stillPending: string[] = [];
  for (const d of pending) if ((await listTempFiles(d)).length > 0) stillPending.push(d);
  await index.setPublishFolders(outKey, stillPending);

  // The linked files are listed only when asked: 100,000 paths a command that counts them never needs.
  let all: string[] | undefined;
  return {
    out,
    get written(): string[] {
      return (all ??= [...targetFiles.linkedPaths(unlinkedAll), ...written]);
    },
    filesWritten: linked + written.length,
    unchanged,
    rootVersion,
    snapshotVersion,
    timestampVersion: (await store.load('timestamp')).signed.version,
    targets: targetCount,
  };
}
