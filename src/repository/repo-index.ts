import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { readFileCapped, removeStaleTempFiles, writeFileAtomic } from '../client/atomic-file.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { sha256Hex } from '../crypto/hash.js';
import type { Delegations } from '../models/delegations.js';
import type { TargetFile } from '../models/files.js';
import type { Metadata } from '../models/metadata.js';
import { SuccinctRoles } from '../models/role.js';
import type { Targets } from '../models/targets.js';
import { writeFilesAtomic } from './atomic-batch.js';
import type { EditRound, PlannedWrite } from './edit-round.js';
import { caseFoldKey, checkTargetPath, checkTargetPathsDistinct, INDEX_DIR, targetFileName, type RepoLayout } from './layout.js';
import { isTopLevel, RoleStore, type Authorisation, type ChildRoles } from './role-store.js';
import { signatureStatus, type SignatureStatus } from './signatures.js';
import { RepositoryError, UsageError } from '../errors.js';

/*
 * The repository index (DIR/index/): what snapshot, status and publish need of every targets role,
 * so that a release reads, hashes and verifies only the roles it changed, never the others nor
 * their targets.
 *
 *   index.json        per targets role: its file's stat identity (inode, size, mtime, ctime), length
 *                     and sha256, version, expiry, target count, delegations, its signature verdict
 *                     with a digest of the keys and threshold it was judged against (judged again when
 *                     they differ), and the stat of its published copy in the last OUT; the digest of
 *                     every shard; the records that hold something publish refuses.
 *   g-<random>/<xxx>.json   shards of records, shard = hash of the record's key: "p:" + a case-folded
 *                     target path (every listing of a path with that key: role, hashes), "n:" + a
 *                     case-folded published name (files and folders there), "b:" + a blob digest (how
 *                     many listings name it). One changed target updates a few shards.
 *   publish-folders.json    folders in OUT a publish was writing into (its temp files' cleanup).
 *
 * The index is a cache, never trusted on its own word. Opening it stats every targets role file:
 * a role whose stat differs from the one recorded (edited, replaced or restored behind tufkit's
 * back, or a command killed between writing roles and writing the index), a missing or damaged
 * index.json, another consistent_snapshot or blob algorithm, or a shard whose digest is not the
 * recorded one, and the index is rebuilt from the role files. It is written by the locked command
 * that writes the roles, after them: shards (temp file, fsync, rename), then index.json last; a
 * rebuild writes a new shard folder, so an old index.json never meets new shards.
 */

const FORMAT = 1;
const MAIN_FILE = 'index.json';
const PUBLISH_FOLDERS_FILE = 'publish-folders.json';
const SHARD_BITS = 12;
const MAX_INDEX_FILE = 1024 * 1024 * 1024;
/** Thrown inside apply() when a shard turns out damaged after changes were applied to others. */
const RESTART = Symbol('restart');

/** A delegation as the index keeps it: delegated role names, or succinct bins [prefix, bit length]. */
type DelegationSummary = { r: string[] } | { s: [string, number] };

interface RoleEntry {
  /** Stat identity of DIR/metadata/<role>.json when the entry was made ("" until written). */
  id: string;
  len: number;
  sha: string;
  v: number;
  /** Expiry, milliseconds since the epoch. */
  exp: number;
  /** Number of targets listed. */
  n: number;
  del?: DelegationSummary;
  /** Digest of the authorisation the verdict was judged against; positions of the valid keyids in its list; ignored keyids. */
  auth?: string;
  ok?: number[];
  ig?: string[];
  /**
   * Stat identity of its published file in `out` when it held this entry's bytes (found there or
   * written). A new entry (the role written again, or the index rebuilt) has none.
   */
  pub?: string;
}

interface MainFile {
  format: number;
  consistent: boolean;
  alg: string;
  gen: string;
  shards: Record<string, string>;
  problems: string[];
  out?: string;
  roles: Record<string, RoleEntry>;
}

/** Every listing of a path: path -> role -> hashes. */
type PathRecord = Record<string, Record<string, Record<string, string>>>;
/** Published names with one case-folded key: files (exact name -> listings), and listings below it as a folder. */
interface NameRecord {
  f?: Record<string, number>;
  d?: number;
}

function shardOf(key: string): string {
  // FNV-1a: a cheap spread; the key's owner can only load their own repository's shards.
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return ((h >>> 0) & ((1 << SHARD_BITS) - 1)).toString(16).padStart(3, '0');
}

/** What a file's stat says of its identity: any write or replacement changes it (ctime and inode). */
export function statIdentity(path: string): string | undefined {
  const s = statSync(path, { bigint: true, throwIfNoEntry: false });
  return s?.isFile() ? `${s.ino}:${s.size}:${s.mtimeNs}:${s.ctimeNs}` : undefined;
}

function summary(d: Delegations | undefined): DelegationSummary | undefined {
  if (!d) return undefined;
  if (d.succinctRoles) return { s: [d.succinctRoles.namePrefix, d.succinctRoles.bitLength] };
  return d.roles && d.roles.size > 0 ? { r: [...d.roles.keys()] } : undefined;
}

function childRoles(s: DelegationSummary): ChildRoles {
  if ('s' in s) {
    const succinct = new SuccinctRoles([], 1, s.s[1], s.s[0]);
    return { list: () => [...succinct.getRoles()], has: (n) => succinct.isDelegatedRole(n), succinctPrefix: s.s[0] };
  }
  const names = new Set(s.r);
  return { list: () => [...s.r], has: (n) => names.has(n) };
}

function sameHashes(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => a[k] === b[k]);
}

/** The published file names of a target (relative to OUT/targets) and the folders above them. */
function publishedNames(path: string, hashes: Record<string, string>, consistent: boolean): { files: string[]; folders: string[] } {
  const files = consistent ? Object.values(hashes).map((hex) => targetFileName(path, hex)) : [path];
  const folders: string[] = [];
  for (let d = dirname(path); d !== '.' && d !== '/'; d = dirname(d)) folders.push(d);
  return { files, folders };
}

/** A listing of a target path by a role, as the index records it. */
export interface Listing {
  path: string;
  role: string;
  hashes: Record<string, string>;
}

/**
 * What publish refuses about the listings of one case-folded path, checked in the order publish
 * reports them (`stage` 1: each listing and two roles' contents; 2: case variants). `order` is the
 * client search order of the roles (the first role named is the one found first).
 */
export function checkListings(listings: Listing[], stage: 1 | 2, consistent: boolean, alg: string, order: (role: string) => number, longestHex: number): void {
  const sorted = [...listings].sort((a, b) => order(a.role) - order(b.role));
  if (stage === 2) {
    checkTargetPathsDistinct(sorted.map((l) => [l.path, l.role] as const));
    return;
  }
  const byRel = new Map<string, Listing>();
  for (const l of sorted) {
    const storeHex = l.hashes[alg];
    if (!storeHex) throw new RepositoryError(`cannot publish: target "${l.path}" of role "${l.role}" has no ${alg} hash, so tufkit holds no copy of it`);
    checkTargetPath(l.path, consistent ? longestHex : 0);
    for (const rel of publishedNames(l.path, l.hashes, consistent).files) {
      const prev = byRel.get(rel);
      if (prev && prev.hashes[alg] !== storeHex) {
        throw new UsageError(`cannot publish: target "${l.path}" is listed by roles "${prev.role}" and "${l.role}" with different contents (possible only with consistent snapshots)`);
      }
      byRel.set(rel, l);
    }
  }
}

/** Ignoring case: on macOS and Windows "A" cannot be a file while "a/x" makes "a" a folder. */
function checkName(rec: NameRecord): void {
  const file = Object.keys(rec.f ?? {})[0];
  if (file !== undefined && (rec.d ?? 0) > 0) throw new UsageError(`cannot publish: target "${file}" is both a file and a folder of other targets`);
}

function listingsOf(rec: PathRecord): Listing[] {
  const out: Listing[] = [];
  for (const [path, roles] of Object.entries(rec)) for (const [role, hashes] of Object.entries(roles)) out.push({ path, role, hashes });
  return out;
}

/** index.json: the sha256 of the JSON text on the first line, the JSON on the second (a damaged file is not used). */
function mainFileBytes(main: MainFile): Uint8Array {
  const json = JSON.stringify(main);
  return Buffer.from(`${sha256Hex(Buffer.from(json))}\n${json}`);
}

function parseMain(bytes: Uint8Array): MainFile | undefined {
  try {
    const text = Buffer.from(bytes).toString('utf8');
    const nl = text.indexOf('\n');
    const json = text.slice(nl + 1);
    if (nl !== 64 || sha256Hex(Buffer.from(json)) !== text.slice(0, 64)) return undefined;
    const m = JSON.parse(json) as MainFile;
    if (m?.format !== FORMAT || typeof m.gen !== 'string' || !/^g-[0-9a-f]{12}$/.test(m.gen) || typeof m.roles !== 'object' || typeof m.shards !== 'object' || !Array.isArray(m.problems)) return undefined;
    return m;
  } catch {
    return undefined;
  }
}

export class RepoIndex {
  private readonly roles = new Map<string, RoleEntry>();
  private shardDigests = new Map<string, string>();
  private readonly shards = new Map<string, Record<string, unknown>>();
  private readonly dirtyShards = new Set<string>();
  private readonly problems = new Set<string>();
  private readonly unstatted = new Set<string>();
  private gen = '';
  /** Everything rebuilt: written into a new shard folder. */
  private fresh = false;
  private changed = false;
  private out: string | undefined;
  private applying = false;
  private readonly authDigests = new WeakMap<object, Map<string, string>>();
  /** Why the last open rebuilt the index (for tests and diagnostics), or undefined. */
  rebuiltBecause: string | undefined;

  private constructor(
    private readonly layout: RepoLayout,
    readonly consistent: boolean,
    readonly alg: string,
    private readonly longestHex: number,
  ) {}

  private get dir(): string {
    return join(this.layout.dir, INDEX_DIR);
  }

  /**
   * The index of the repository in `layout`, checked against every targets role file's stat,
   * rebuilt (in memory; save() writes it) from the role files when it does not match. Reads the
   * files on disk: a command may open it after editing roles in memory.
   */
  static async open(layout: RepoLayout, alg: string, longestHex: number): Promise<RepoIndex> {
    const store = new RoleStore(layout);
    const root = await store.load('root');
    const index = new RepoIndex(store.layout, root.signed.consistentSnapshot === true, alg, longestHex);
    const why = await index.load();
    if (why !== undefined) {
      index.rebuiltBecause = why;
      await index.rebuild(store);
    }
    return index;
  }

  /** Undefined when index.json is usable as it is, else why not. */
  private async load(): Promise<string | undefined> {
    let bytes: Uint8Array | undefined;
    try {
      bytes = await readFileCapped(join(this.dir, MAIN_FILE), MAX_INDEX_FILE);
    } catch {
      return 'index.json cannot be read'; // a folder or FIFO in its place, say: save() replaces it or says why not
    }
    if (!bytes) return 'no index';
    const main = parseMain(bytes);
    if (!main) return 'index.json is damaged';
    if (main.consistent !== this.consistent || main.alg !== this.alg) return 'consistent_snapshot or the blob algorithm changed';
    for (const [name, e] of Object.entries(main.roles)) {
      if (typeof e?.id !== 'string' || e.id === '' || statIdentity(this.layout.roleFile(name)) !== e.id) return `role file ${name}.json is not as indexed`;
      this.roles.set(name, e);
    }
    // Exactly the roles of the delegation tree, as the indexed delegations make it.
    const seen = new Set<string>();
    const stack = ['targets'];
    while (stack.length > 0) {
      const name = stack.pop()!;
      if (seen.has(name)) continue;
      const e = this.roles.get(name);
      if (!e) return `role ${name} is not indexed`;
      seen.add(name);
      if (e.del) stack.push(...childRoles(e.del).list());
    }
    if (seen.size !== this.roles.size) return 'the index lists roles outside the delegation tree';
    this.gen = main.gen;
    this.shardDigests = new Map(Object.entries(main.shards));
    for (const p of main.problems) this.problems.add(p);
    this.out = main.out;
    return undefined;
  }

  /** Rebuilds every entry and record from the role files (the store reads them). */
  private async rebuild(store: RoleStore): Promise<void> {
    this.roles.clear();
    this.resetRecords();
    const tree = await store.tree();
    for (const { name } of tree) {
      const id = statIdentity(this.layout.roleFile(name)) ?? '';
      const md = await store.targets(name);
      const bytes = await store.bytes(name);
      const entry = this.entryOf(md, bytes, id);
      this.roles.set(name, entry);
      await this.judge(name, entry, md, store);
      for (const tf of md.signed.targets.values()) await this.list(name, tf.path, tf.hashes, 1);
    }
    this.changed = true;
  }

  private resetRecords(): void {
    this.shards.clear();
    this.dirtyShards.clear();
    this.problems.clear();
    this.shardDigests = new Map();
    this.fresh = true;
    this.gen = `g-${randomBytes(6).toString('hex')}`;
    for (let i = 0; i < 1 << SHARD_BITS; i++) this.shards.set(i.toString(16).padStart(3, '0'), {});
  }

  /** Rebuilds the records alone, from the role files as on disk (a shard was missing or damaged). */
  private async rebuildRecords(): Promise<void> {
    const store = new RoleStore(this.layout);
    this.resetRecords();
    for (const { name } of await store.tree()) {
      for (const tf of (await store.targets(name)).signed.targets.values()) await this.list(name, tf.path, tf.hashes, 1);
    }
    this.changed = true;
  }

  private entryOf(md: Metadata<Targets>, bytes: Uint8Array, id: string): RoleEntry {
    const del = summary(md.signed.delegations);
    return { id, len: bytes.length, sha: sha256Hex(bytes), v: md.signed.version, exp: md.signed.expires.getTime(), n: md.signed.targets.size, ...(del ? { del } : {}) };
  }

  // ---- roles -------------------------------------------------------------------------------

  has(name: string): boolean {
    return this.roles.has(name);
  }

  /** The delegations of an indexed role (undefined when it delegates nothing). */
  delegation(name: string): ChildRoles | undefined {
    const d = this.roles.get(name)?.del;
    return d && childRoles(d);
  }

  /** Version, expiry, length, sha256 and target count of an indexed role. */
  role(name: string): { version: number; expires: Date; length: number; sha256: string; targets: number } {
    const e = this.roles.get(name);
    if (!e) throw new RepositoryError(`internal: role "${name}" is not in the repository index`);
    return { version: e.v, expires: new Date(e.exp), length: e.len, sha256: e.sha, targets: e.n };
  }

  private authDigest(auth: Authorisation): string {
    let byRole = this.authDigests.get(auth.keys);
    if (!byRole) this.authDigests.set(auth.keys, (byRole = new Map()));
    const memo = `${auth.role.threshold}:${auth.role.keyids.join(',')}`;
    let d = byRole.get(memo);
    if (!d) {
      const keys = auth.role.keyids.map((k) => [k, auth.keys.get(k)?.toJSON() ?? null]);
      d = sha256Hex(canonicalBytes({ threshold: auth.role.threshold, keyids: auth.role.keyids, keys: Object.fromEntries(keys) } as never, 'authorisation')).slice(0, 32);
      byRole.set(memo, d);
    }
    return d;
  }

  private async judge(name: string, entry: RoleEntry, md: Metadata, store: RoleStore): Promise<void> {
    const auth = await store.authorisation(name);
    const sig = signatureStatus(name, md, auth);
    entry.auth = this.authDigest(auth);
    entry.ok = sig.valid.map((k) => auth.role.keyids.indexOf(k));
    if (sig.ignored.length > 0) entry.ig = sig.ignored;
    else delete entry.ig;
    this.changed = true;
  }

  /**
   * How role `name`'s signatures stand under its delegator's current keys and threshold: the
   * recorded verdict while those are what it was judged against, else judged again (read).
   */
  async signatures(name: string, store: RoleStore): Promise<SignatureStatus> {
    const entry = this.roles.get(name);
    if (!entry) throw new RepositoryError(`internal: role "${name}" is not in the repository index`);
    const auth = await store.authorisation(name);
    if (entry.auth !== this.authDigest(auth) || !entry.ok) await this.judge(name, entry, await store.load(name), store);
    const valid = entry.ok!.map((i) => auth.role.keyids[i]!);
    const missing = auth.role.keyids.filter((k) => !valid.includes(k));
    const verified = valid.length >= auth.role.threshold;
    return { role: name, threshold: auth.role.threshold, valid: [...valid], missing, verified, ignored: [...(entry.ig ?? [])], previous: undefined, complete: verified };
  }

  // ---- records -----------------------------------------------------------------------------

  private async shard(id: string): Promise<Record<string, unknown>> {
    let s = this.shards.get(id);
    if (s) return s;
    const want = this.shardDigests.get(id);
    if (want === undefined) {
      s = {};
    } else {
      let bytes: Uint8Array | undefined;
      try {
        bytes = await readFileCapped(join(this.dir, this.gen, `${id}.json`), MAX_INDEX_FILE);
      } catch {
        bytes = undefined; // unreadable: rebuilt like a damaged one
      }
      if (!bytes || sha256Hex(bytes).slice(0, 32) !== want) {
        this.rebuiltBecause = `shard ${id} is missing or damaged`;
        if (this.applying) throw RESTART;
        await this.rebuildRecords();
        return this.shards.get(id)!;
      }
      s = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
    }
    this.shards.set(id, s);
    return s;
  }

  private async record<T>(key: string): Promise<T | undefined> {
    return (await this.shard(shardOf(key)))[key] as T | undefined;
  }

  private async setRecord(key: string, value: unknown, problem: boolean): Promise<void> {
    const id = shardOf(key);
    const s = await this.shard(id);
    if (value === undefined) delete s[key];
    else s[key] = value;
    this.dirtyShards.add(id);
    if (problem) this.problems.add(key);
    else this.problems.delete(key);
    this.changed = true;
  }

  private pathProblem(rec: PathRecord): boolean {
    const listings = listingsOf(rec);
    try {
      checkListings(listings, 1, this.consistent, this.alg, () => 0, this.longestHex);
      checkListings(listings, 2, this.consistent, this.alg, () => 0, this.longestHex);
      return false;
    } catch {
      return true;
    }
  }

  /** Adds (+1) or removes (-1) the listing of `path` with `hashes` by `role`. */
  private async list(role: string, path: string, hashes: Record<string, string>, sign: 1 | -1): Promise<void> {
    const pk = `p:${caseFoldKey(path)}`;
    const rec = { ...(await this.record<PathRecord>(pk)) };
    const roles = { ...rec[path] };
    if (sign > 0) roles[role] = hashes;
    else delete roles[role];
    if (Object.keys(roles).length > 0) rec[path] = roles;
    else delete rec[path];
    const empty = Object.keys(rec).length === 0;
    await this.setRecord(pk, empty ? undefined : rec, !empty && this.pathProblem(rec));

    const { files, folders } = publishedNames(path, hashes, this.consistent);
    const bump = async (name: string, file: boolean): Promise<void> => {
      const nk = `n:${caseFoldKey(name)}`;
      const r: NameRecord = { ...(await this.record<NameRecord>(nk)) };
      if (file) {
        const f = { ...r.f };
        const c = (f[name] ?? 0) + sign;
        if (c > 0) f[name] = c;
        else delete f[name];
        if (Object.keys(f).length > 0) r.f = f;
        else delete r.f;
      } else {
        const c = (r.d ?? 0) + sign;
        if (c > 0) r.d = c;
        else delete r.d;
      }
      const none = r.f === undefined && r.d === undefined;
      await this.setRecord(nk, none ? undefined : r, !none && r.f !== undefined && r.d !== undefined);
    };
    for (const f of new Set(files)) await bump(f, true);
    for (const d of folders) await bump(d, false);
    const hex = hashes[this.alg];
    if (hex) {
      const bk = `b:${hex}`;
      const c = ((await this.record<number>(bk)) ?? 0) + sign;
      await this.setRecord(bk, c > 0 ? c : undefined, false);
    }
  }

  /** How many listings name the blob `hex`. */
  async blobRefs(hex: string): Promise<number> {
    return (await this.record<number>(`b:${hex}`)) ?? 0;
  }

  /** The roles listing exactly `path`. */
  async rolesListing(path: string): Promise<string[]> {
    return Object.keys((await this.record<PathRecord>(`p:${caseFoldKey(path)}`))?.[path] ?? {});
  }

  /**
   * Throws what publish refuses about target paths anywhere in the repository (two roles listing
   * a path with different contents, case variants, a name both file and folder), in the order it
   * reports them; `order` ranks roles in the client's search order.
   */
  async checkTargets(order: (role: string) => number): Promise<void> {
    const keys = [...this.problems].sort();
    const paths: Listing[][] = [];
    for (const k of keys.filter((k) => k.startsWith('p:'))) paths.push(listingsOf((await this.record<PathRecord>(k)) ?? {}));
    for (const stage of [1, 2] as const) for (const l of paths) checkListings(l, stage, this.consistent, this.alg, order, this.longestHex);
    for (const k of keys.filter((k) => k.startsWith('n:'))) checkName((await this.record<NameRecord>(k)) ?? {});
  }

  // ---- changes -----------------------------------------------------------------------------

  /**
   * Applies a command's planned writes (before they are written: `store` holds the new roles in
   * memory, `round` the roles as they were). Only the roles written are read; their stat is taken
   * by save(), after the write.
   */
  async apply(round: EditRound, writes: PlannedWrite[], store: RoleStore): Promise<void> {
    this.applying = true;
    try {
      await this.applyOnce(round, writes, store);
    } catch (e) {
      if (e !== RESTART) throw e;
      // A shard was damaged half-way: records again from the role files, then every change again.
      this.applying = false;
      await this.rebuildRecords();
      await this.applyOnce(round, writes, store);
    } finally {
      this.applying = false;
    }
  }

  private async applyOnce(round: EditRound, writes: PlannedWrite[], store: RoleStore): Promise<void> {
    for (const w of writes) {
      if (isTopLevel(w.role) && w.role !== 'targets') continue;
      if (!w.bytes) {
        for (const tf of (await store.targets(w.role)).signed.targets.values()) await this.list(w.role, tf.path, tf.hashes, -1);
        this.roles.delete(w.role);
        this.unstatted.delete(w.role);
        this.changed = true;
        continue;
      }
      const md = await store.targets(w.role);
      const before = round.before(w.role);
      if (before !== undefined) {
        const old = before === null ? new Map<string, TargetFile>() : (before as Metadata<Targets>).signed.targets;
        for (const [path, tf] of old) {
          const now = md.signed.targets.get(path);
          if (!now || !sameHashes(now.hashes, tf.hashes)) await this.list(w.role, path, tf.hashes, -1);
        }
        for (const [path, tf] of md.signed.targets) {
          const then = old.get(path);
          if (!then || !sameHashes(then.hashes, tf.hashes)) await this.list(w.role, path, tf.hashes, 1);
        }
      }
      const entry = this.entryOf(md, w.bytes, '');
      this.roles.set(w.role, entry);
      this.unstatted.add(w.role);
      await this.judge(w.role, entry, md, store);
    }
  }

  // ---- publishing --------------------------------------------------------------------------

  /** Whether `file` (role `name`'s published copy in `out`) is as recorded when it last held the role's current bytes. */
  publishedSame(name: string, out: string, file: string): boolean {
    const e = this.roles.get(name);
    if (!e?.pub || this.out !== out) return false;
    return statIdentity(file) === e.pub;
  }

  /** Records that `file` in `out` now holds role `name`'s current bytes. */
  recordPublished(name: string, out: string, file: string): void {
    if (this.out !== out) {
      for (const e of this.roles.values()) delete e.pub;
      this.out = out;
    }
    const e = this.roles.get(name);
    const id = statIdentity(file);
    if (e && id) e.pub = id;
    this.changed = true;
  }

  /** Folders in `out` that a publish was writing into when it stopped (temp files may be left there). */
  async publishFolders(out: string): Promise<string[]> {
    const bytes = await readFileCapped(join(this.dir, PUBLISH_FOLDERS_FILE), MAX_INDEX_FILE).catch(() => undefined);
    if (!bytes) return [];
    try {
      const all = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, unknown>;
      const list = all[out];
      return Array.isArray(list) ? list.filter((d): d is string => typeof d === 'string') : [];
    } catch {
      return [];
    }
  }

  /** Records (durably) the folders of `out` a publish writes into, or that still hold young temp files. */
  async setPublishFolders(out: string, folders: string[]): Promise<void> {
    const file = join(this.dir, PUBLISH_FOLDERS_FILE);
    let all: Record<string, string[]> = {};
    const bytes = await readFileCapped(file, MAX_INDEX_FILE).catch(() => undefined);
    try {
      if (bytes) all = JSON.parse(Buffer.from(bytes).toString('utf8')) as Record<string, string[]>;
    } catch {
      all = {};
    }
    if (folders.length > 0) all[out] = folders;
    else delete all[out];
    await mkdir(this.dir, { recursive: true });
    await writeFileAtomic(file, Buffer.from(JSON.stringify(all)));
  }

  // ---- writing -----------------------------------------------------------------------------

  /** Writes what changed: shards first, index.json last (call after the role files are written). */
  async save(): Promise<void> {
    for (const name of this.unstatted) {
      const e = this.roles.get(name);
      if (e) e.id = statIdentity(this.layout.roleFile(name)) ?? '';
    }
    this.unstatted.clear();
    if (!this.changed) return;
    const genDir = join(this.dir, this.gen);
    await mkdir(genDir, { recursive: true });
    await removeStaleTempFiles(genDir); // of a killed save (save runs under the repository's lock)
    const ids = this.fresh ? [...this.shards.keys()] : [...this.dirtyShards];
    const files: [string, Uint8Array][] = [];
    for (const id of ids) {
      const s = this.shards.get(id)!;
      if (Object.keys(s).length === 0) {
        this.shardDigests.delete(id);
        continue;
      }
      const bytes = Buffer.from(JSON.stringify(s));
      this.shardDigests.set(id, sha256Hex(bytes).slice(0, 32));
      files.push([join(genDir, `${id}.json`), bytes]);
    }
    await writeFilesAtomic(files);
    const main: MainFile = {
      format: FORMAT,
      consistent: this.consistent,
      alg: this.alg,
      gen: this.gen,
      shards: Object.fromEntries(this.shardDigests),
      problems: [...this.problems],
      ...(this.out !== undefined ? { out: this.out } : {}),
      roles: Object.fromEntries(this.roles),
    };
    await writeFileAtomic(join(this.dir, MAIN_FILE), mainFileBytes(main));
    // Shard folders of earlier indexes, or of a rebuild killed before its index.json.
    for (const d of await readdir(this.dir)) if (/^g-[0-9a-f]{12}$/.test(d) && d !== this.gen) await rm(join(this.dir, d), { recursive: true, force: true });
    this.fresh = false;
    this.dirtyShards.clear();
    this.changed = false;
  }
}
