import { createReadStream, linkSync, mkdirSync, statSync } from 'node:fs';
import { lstat, mkdir, readFile, stat } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fsyncDir, isErrno, listTempFiles, removeAbandonedTempFiles, writeFileAtomic } from '../client/atomic-file.js';
import { sha256Hex } from '../crypto/hash.js';
import { BadVersionError, FileSystemError, LengthOrHashMismatchError, RepositoryError, UnsignedMetadataError, UsageError } from '../errors.js';
import { StreamingVerifier, type TargetFile } from '../models/files.js';
import { writeFilesAtomic } from './atomic-batch.js';
import type { BlobStore } from './blob-store.js';
import { BLOBS_DIR, checkDistinctFiles, INDEX_DIR, METADATA_DIR, publishedMetadataName, publishedTargetName, SETTINGS_FILE } from './layout.js';
import type { RepoIndex } from './repo-index.js';
import type { RoleStore } from './role-store.js';
import { signatureStatus } from './signatures.js';
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
  written: string[];
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

interface TargetCopy {
  rel: string;
  target: TargetFile;
  /** Its digest in the blob store, and (once it is to be placed) the blob's path. */
  hex: string;
  blob: string;
  immutable: boolean;
  /** The roles listing it. */
  owners: string[];
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

/**
 * Runs `fn` on every item in place, yielding to the event loop every 1,000: for one cheap system
 * call per target (stat, link, at 100,000 targets) a direct call costs a fraction of a trip
 * through the thread pool.
 */
async function eachInBatches<T>(items: readonly T[], fn: (item: T) => void): Promise<void> {
  for (let i = 0; i < items.length; i++) {
    fn(items[i]!);
    if (i % 1000 === 999) await new Promise((r) => setImmediate(r));
  }
}

function existingSize(path: string): number | undefined {
  try {
    const s = statSync(path, { throwIfNoEntry: false });
    return s?.isFile() ? s.size : undefined;
  } catch {
    return undefined;
  }
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
  private linking = true;
  private readonly dirty = new Set<string>();
  private readonly made = new Set<string>();

  /** Links `c` in at `dest` if it is new there: false when it needs place() (it exists, or links are out). */
  tryLink(c: TargetCopy, dest: string): boolean {
    const dir = dirname(dest);
    try {
      if (!this.made.has(dir)) {
        mkdirSync(dir, { recursive: true });
        this.made.add(dir);
      }
      if (!this.linking) return false;
      linkSync(c.blob, dest);
    } catch (e) {
      // Another file system, or one without hard links: copy from now on.
      if (isErrno(e, 'EXDEV', 'EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS')) this.linking = false;
      else if (!isErrno(e, 'EEXIST', 'EMLINK')) throw new FileSystemError('publish a target file', dest, e);
      return false;
    }
    this.dirty.add(dir);
    return true;
  }

  /** Puts `c` at `dest`: true when written, false when `dest` held those contents already. */
  async place(c: TargetCopy, dest: string): Promise<boolean> {
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
    const verifier = new StreamingVerifier(c.target.length, c.target.hashes, `stored contents of target "${c.target.path}"`);
    await writeFileAtomic(dest, verifiedChunks(c.blob, verifier), () => verifier.finish(), { syncDir: false });
    this.dirty.add(dirname(dest));
    return true;
  }

  /** Makes every link and rename durable. */
  async flush(): Promise<void> {
    await mapLimit([...this.dirty], 16, fsyncDir);
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

  // A role file publish writes is read now: it must be the file the index (and so snapshot) knows,
  // and reach its threshold under its delegator's current keys, whatever the index recorded.
  const roleBytes = async (name: string): Promise<Uint8Array> => {
    const bytes = await store.bytes(name);
    const r = index.role(name);
    if (bytes.length !== r.length || sha256Hex(bytes) !== r.sha256) {
      throw new LengthOrHashMismatchError(`cannot publish: ${store.layout.roleFile(name)} (role "${name}") is not the file snapshot version ${snapshotVersion} lists: it changed while publishing; run tufkit status`);
    }
    return bytes;
  };

  // Role files already in OUT as they are now. With consistent snapshots V.<role>.json is that
  // version for good, and publish places targets before the metadata naming them, so every target
  // such a file lists was placed by the publish that wrote it: a re-publish skips them without a
  // stat. A file whose stat is the one recorded when it last held the role's bytes is not read.
  const outKey = resolve(out);
  const metaDir = join(out, 'metadata');
  const inOut = new Set<string>();
  await mapLimit(roleFiles, 16, async ({ name, file }) => {
    const dest = join(metaDir, file);
    if (index.publishedSame(name, outKey, dest)) return void inOut.add(name);
    const state = await compareFile(dest, await roleBytes(name));
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
  const toWrite = roleFiles.filter(({ name }) => !inOut.has(name));
  for (const { name } of toWrite) {
    const sig = signatureStatus(name, await store.load(name), await store.authorisation(name));
    if (!sig.verified) throw new UnsignedMetadataError(`cannot publish: role "${name}" version ${index.role(name).version}: ${sig.valid.length} of ${sig.threshold} needed signature(s)`);
  }
  let compareSnapshot: 'same' | 'other' | 'absent' = 'absent';
  if (consistent) {
    compareSnapshot = await compareFile(join(metaDir, snapshotFile[0]), snapshotFile[1]);
    if (compareSnapshot === 'other') {
      throw new BadVersionError(
        `cannot publish: ${join(metaDir, snapshotFile[0])} was published with other contents (signed again since?); caches keep a published version for good, so the change needs a new version (tufkit expire renews the role and starts one)`,
      );
    }
  }

  // The targets of the roles not in OUT yet: only those roles are read.
  const placedBy = consistent ? inOut : new Set<string>();
  const copies = new Map<string, TargetCopy>();
  let targetCount = 0;
  let skipped = 0;
  const perTarget = consistent ? targetHashes : 1;
  for (const { name } of tree) {
    const count = index.role(name).targets;
    targetCount += count;
    if (placedBy.has(name)) {
      skipped += count * perTarget;
      continue;
    }
    for (const tf of (await store.targets(name)).signed.targets.values()) {
      const storeHex = tf.hashes[blobs.algorithm];
      if (!storeHex) throw new RepositoryError(`internal: target "${tf.path}" of role "${name}" has no ${blobs.algorithm} hash, yet the index let it through`);
      const rels = consistent ? Object.values(tf.hashes).map((hex) => publishedTargetName(tf.path, hex)) : [publishedTargetName(tf.path)];
      for (const rel of rels) {
        const prev = copies.get(rel);
        if (prev) prev.owners.push(name);
        else copies.set(rel, { rel, target: tf, hex: storeHex, blob: blobs.path(storeHex), immutable: consistent, owners: [name] });
      }
    }
  }
  const todo = [...copies.values()];
  await eachInBatches(todo, (c) => {
    if (existingSize(c.blob) !== c.target.length) {
      throw new RepositoryError(`cannot publish: the stored contents of target "${c.target.path}" (${c.blob}) are missing or damaged; add the file again`);
    }
  });

  // Leftovers of killed publishes: in the folders this one writes to, and in those a publish into
  // OUT was writing to when it stopped (recorded before it wrote, kept until they are clean).
  const folders = new Set([join(out, 'targets'), metaDir]);
  for (const rel of copies.keys()) folders.add(dirname(join(out, 'targets', ...rel.split('/'))));
  const pending = await index.publishFolders(outKey);
  await index.setPublishFolders(outKey, [...new Set([...pending, ...folders])]);
  await mapLimit([...new Set([...pending, ...folders])], 16, async (d) => removeAbandonedTempFiles(d, ABANDONED_PUBLISH_MS, await listTempFiles(d)));

  const written: string[] = [];
  let unchanged = skipped;
  const progress: FileProgress = { done: 0, total: todo.length, bytes: 0 };
  const done = (c: TargetCopy, placed: boolean): void => {
    if (placed) {
      written.push(`targets/${c.rel}`);
      progress.bytes += c.target.length;
    } else {
      unchanged++;
    }
    progress.done++;
    opts.onProgress?.({ ...progress });
  };
  const placer = new TargetPlacer();
  const destOf = (c: TargetCopy): string => join(out, 'targets', ...c.rel.split('/'));
  const rest: TargetCopy[] = [];
  await eachInBatches(todo, (c) => {
    if (placer.tryLink(c, destOf(c))) done(c, true);
    else rest.push(c);
  });
  await mapLimit(rest, 16, async (c) => done(c, await placer.place(c, destOf(c))));
  // Every target durable before any metadata names it.
  await placer.flush();

  const rules = cachingRules(consistent);
  const rulesFiles: [string, Uint8Array][] = [
    [join(out, NGINX_FILE), Buffer.from(rules.nginx)],
    [join(out, HEADERS_FILE), Buffer.from(rules.headers)],
  ];
  const newRules: [string, Uint8Array][] = [];
  for (const [path, bytes] of rulesFiles) {
    if ((await compareFile(path, bytes)) === 'same') unchanged++;
    else newRules.push([path, bytes]);
  }
  await writeFilesAtomic(newRules);
  for (const [path] of newRules) written.push(relative(out, path));

  // Each group durable before the next: roots, then the roles, snapshot, and timestamp last.
  const writeMeta = async (files: [string, Uint8Array | (() => Promise<Uint8Array>)][]): Promise<void> => {
    const changed: (readonly [string, Uint8Array])[] = [];
    await mapLimit(files, 16, async ([name, data]) => {
      const dest = join(metaDir, name);
      const bytes = typeof data === 'function' ? await data() : data;
      if ((await compareFile(dest, bytes)) === 'same') {
        unchanged++;
        return;
      }
      await mkdir(dirname(dest), { recursive: true });
      changed.push([dest, bytes]);
      written.push(`metadata/${name}`);
    });
    await writeFilesAtomic(changed);
  };
  await writeMeta(metadata);
  unchanged += inOut.size;
  await writeMeta(toWrite.map(({ name, file }) => [file, () => roleBytes(name)]));
  for (const { name, file } of toWrite) index.recordPublished(name, outKey, join(metaDir, file));
  if (compareSnapshot === 'same') unchanged++;
  else await writeMeta([snapshotFile]);
  await writeMeta([timestampFile]);

  // Clean now, or still holding a killed publish's temp files too young to remove.
  const stillPending: string[] = [];
  for (const d of pending) if ((await listTempFiles(d)).length > 0) stillPending.push(d);
  await index.setPublishFolders(outKey, stillPending);

  return {
    out,
    written,
    unchanged,
    rootVersion,
    snapshotVersion,
    timestampVersion: (await store.load('timestamp')).signed.version,
    targets: targetCount,
  };
}
