import { mkdir, readdir, stat } from 'node:fs/promises';
import { isErrno, readFileCapped, removeFile, writeFileAtomic } from '../client/atomic-file.js';
import { DirLock } from '../client/lock.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { digest, sha256Hex } from '../crypto/hash.js';
import { InMemorySigner, type Signer } from '../crypto/signer.js';
import { KeyError, RepositoryError, RoleNotFoundError, StorageError, TufError, UsageError } from '../errors.js';
import { Delegations } from '../models/delegations.js';
import { formatExpires } from '../models/fields.js';
import { MetaFile, TargetFile } from '../models/files.js';
import type { Key } from '../models/key.js';
import { Metadata, metadataFileBytes, Signature } from '../models/metadata.js';
import { DelegatedRole, Role, SuccinctRoles } from '../models/role.js';
import { Root, TOP_LEVEL_ROLES, type TopLevelRole } from '../models/root.js';
import { Snapshot } from '../models/snapshot.js';
import { Targets } from '../models/targets.js';
import { Timestamp } from '../models/timestamp.js';
import { writeFilesAtomic } from './atomic-batch.js';
import { BlobStore, removeStaleRepositoryTempFiles } from './blob-store.js';
import { expiryAfter } from './durations.js';
import { EditRound, type PlannedWrite } from './edit-round.js';
import { checkDelegatedRoleName, checkDistinctFiles, checkTargetPath, checkTargetPathsDistinct, RepoLayout } from './layout.js';
import { rebinSuccinct, type RebinResult } from './rebin.js';
import { publishRepository, type FileProgress, type PublishOptions, type PublishResult } from './publish.js';
import { RepoIndex } from './repo-index.js';
import { isTopLevel, RoleStore, type TreeNode } from './role-store.js';
import { checkTargetHashes, DEFAULT_EXPIRY, settingsFromBytes, settingsToBytes, type ExpiryPeriods, type RepoSettings } from './settings.js';
import { signatureStatus, type SignatureStatus } from './signatures.js';
import { repositoryStatus, type RepositoryStatus } from './status.js';
import { CHUNK, mapLimit } from './targets-hashing.js';

const LOCK_TIMEOUT_MS = 30_000;
const MAX_SETTINGS_FILE = 1024 * 1024;
/** Largest number of hash bins `delegate --bins` creates (one metadata file each). */
export const MAX_BINS = 65_536;

/** The keys of one top-level role at init, and how many of them must sign. */
export interface RoleKeys {
  keys: Key[];
  /** Default 1. */
  threshold?: number;
}

export interface InitOptions {
  roles: Record<TopLevelRole, RoleKeys>;
  /** Seconds each role stays valid after a new version starts (defaults: DEFAULT_EXPIRY). */
  expiry?: Partial<ExpiryPeriods>;
  /** Default true. */
  consistentSnapshot?: boolean;
  /** Hash algorithms listed for every target (default ["sha256"]). */
  targetHashes?: string[];
  /** Whether snapshot lists lengths and hashes of the targets roles (default true). */
  snapshotHashes?: boolean;
}

/** One file to add as a target: where it is now, and its target path. */
export interface TargetInput {
  file: string;
  path: string;
}

export interface AddTargetsOptions {
  /** The role to list the targets in (default "targets"); a role delegating to hash bins puts each in its bin. */
  role?: string;
  /** The `custom` field of every added target (any JSON that canonical JSON can encode). */
  custom?: unknown;
  /** Called as each file is hashed and stored; for showing progress. */
  onProgress?: (p: FileProgress) => void;
}

export interface AddedTarget {
  path: string;
  role: string;
  length: number;
  hashes: Record<string, string>;
}

/** A delegation from one targets role: exactly one of `paths`, `pathHashPrefixes` and `bins`. */
export interface DelegationSpec {
  /** The delegated role's name, or with `bins` the prefix of the bin names (`NAME-xxx`). */
  name: string;
  keys: Key[];
  threshold: number;
  paths?: string[];
  pathHashPrefixes?: string[];
  /** Number of succinct hash bins, a power of two from 2 to MAX_BINS. */
  bins?: number;
  terminating?: boolean;
}

export interface SignResult {
  role: string;
  keyid: string;
  version: number;
}

/** Anything that signs: a Signer, or an ExternalSigner whose key is found from its signature (empty keyid). */
export type RoleSigner = Pick<Signer, 'keyid'> & { sign(data: Uint8Array, context?: { role?: string }): Promise<Uint8Array> };

/** log2(bins), for a number of hash bins from 2 to MAX_BINS. */
function binBitLength(bins: number): number {
  const bitLength = Math.log2(bins);
  if (!Number.isInteger(bitLength) || bitLength < 1 || bins > MAX_BINS) throw new UsageError(`number of hash bins must be a power of two from 2 to ${MAX_BINS}, got ${bins}`);
  return bitLength;
}

function checkThreshold(threshold: number, keyCount: number, role: string): void {
  if (!Number.isSafeInteger(threshold) || threshold < 1) throw new UsageError(`threshold of role "${role}" must be a whole number of at least 1, got ${threshold}`);
  if (threshold > keyCount) throw new UsageError(`threshold ${threshold} of role "${role}" is larger than its ${keyCount} key(s)`);
}

function distinctKeys(keys: Key[], role: string): Key[] {
  const seen = new Set<string>();
  for (const k of keys) {
    if (seen.has(k.keyid)) throw new UsageError(`key ${k.keyid} is given twice for role "${role}"`);
    seen.add(k.keyid);
  }
  return keys;
}

/**
 * A TUF repository kept in a folder (layout: see layout.ts). Every method that changes the folder
 * holds its lock, re-reads the roles it needs, checks everything, and only then writes, each
 * file atomically: a method that throws leaves the folder as it was.
 */
export class Repository {
  readonly layout: RepoLayout;
  /** The time edits, status and publish use (replaceable for tests). */
  now: () => Date = () => new Date();

  private constructor(
    dir: string,
    public settings: RepoSettings,
  ) {
    this.layout = new RepoLayout(dir);
  }

  /**
   * A cache of the folder's role files for one operation. Each call gets its own, so calls never
   * see each other's unwritten edits, and every call starts from the folder as it is now.
   */
  private reader(): RoleStore {
    return new RoleStore(this.layout);
  }

  /** A reader that takes the delegation tree, versions and verdicts of targets roles from the index. */
  private async indexedReader(settings = this.settings): Promise<{ store: RoleStore; index: RepoIndex }> {
    const store = this.reader();
    const index = await this.openIndex(settings);
    store.index = async () => index;
    return { store, index };
  }

  private openIndex(settings: RepoSettings): Promise<RepoIndex> {
    return RepoIndex.open(this.layout, settings.targetHashes[0]!, longestDigestHex(settings.targetHashes));
  }

  private blobStore(settings = this.settings): BlobStore {
    return new BlobStore(this.layout, settings.targetHashes[0]!);
  }

  get dir(): string {
    return this.layout.dir;
  }

  // ---- creating and opening ------------------------------------------------------------------

  /** Creates a repository in `dir` (which must not hold one): root, targets, snapshot and timestamp version 1, unsigned. */
  static async init(dir: string, opts: InitOptions, now = new Date()): Promise<Repository> {
    const settings: RepoSettings = {
      expiry: { ...DEFAULT_EXPIRY, ...opts.expiry },
      targetHashes: checkTargetHashes(opts.targetHashes ?? ['sha256']),
      snapshotHashes: opts.snapshotHashes ?? true,
      retiredVersions: {},
    };
    for (const [kind, seconds] of Object.entries(settings.expiry)) {
      if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new UsageError(`expiry period of ${kind} must be a positive number of seconds`);
    }
    const root = new Root({ version: 1, expires: expiryAfter(now, settings.expiry.root), consistentSnapshot: opts.consistentSnapshot ?? true });
    for (const name of TOP_LEVEL_ROLES) {
      const spec = opts.roles[name];
      if (!spec || spec.keys.length === 0) throw new UsageError(`role "${name}" needs at least one key`);
      distinctKeys(spec.keys, name);
      const threshold = spec.threshold ?? 1;
      checkThreshold(threshold, spec.keys.length, name);
      for (const k of spec.keys) root.addKey(k, name);
      root.getRole(name).threshold = threshold;
    }
    const layout = new RepoLayout(dir);
    for (const existing of [layout.settingsFile, layout.metadataDir]) {
      try {
        await stat(existing);
        throw new UsageError(`${dir} already holds a tufkit repository (${existing} exists)`);
      } catch (e) {
        if (!isErrno(e, 'ENOENT', 'ENOTDIR')) throw e;
      }
    }
    try {
      if (!(await stat(dir)).isDirectory()) throw new UsageError(`${dir} exists and is not a folder`);
    } catch (e) {
      if (!isErrno(e, 'ENOENT')) throw e;
    }

    const targets = new Metadata(new Targets({ version: 1, expires: expiryAfter(now, settings.expiry.targets) }));
    const targetsBytes = targets.toBytes();
    const snapshot = new Metadata(
      new Snapshot({ version: 1, expires: expiryAfter(now, settings.expiry.snapshot), meta: new Map([['targets.json', metaFor(1, targetsBytes, settings.snapshotHashes)]]) }),
    );
    const snapshotBytes = snapshot.toBytes();
    const timestamp = new Metadata(
      new Timestamp({ version: 1, expires: expiryAfter(now, settings.expiry.timestamp), snapshotMeta: metaFor(1, snapshotBytes, true) }),
    );
    const files: [string, Uint8Array][] = [
      [layout.roleFile('root'), new Metadata(root).toBytes()],
      [layout.roleFile('targets'), targetsBytes],
      [layout.roleFile('snapshot'), snapshotBytes],
      [layout.roleFile('timestamp'), timestamp.toBytes()],
    ];
    await mkdir(layout.metadataDir, { recursive: true });
    for (const [file, bytes] of files) await writeFileAtomic(file, bytes);
    // Written last: a folder without settings is not a repository, so a crash above leaves none.
    await writeFileAtomic(layout.settingsFile, settingsToBytes(settings));
    const repo = new Repository(dir, settings);
    await (await repo.indexedReader()).index.save();
    return repo;
  }

  /** Opens the repository in `dir`. */
  static async open(dir: string): Promise<Repository> {
    return new Repository(dir, await readSettings(new RepoLayout(dir)));
  }

  // ---- reading -------------------------------------------------------------------------------

  /** The working copy of a role (top-level or delegated). */
  async load(name: string): Promise<Metadata> {
    const store = this.reader();
    await store.checkExists(name);
    return store.load(name);
  }

  async root(): Promise<Metadata<Root>> {
    return this.reader().load('root');
  }

  async targets(name = 'targets'): Promise<Metadata<Targets>> {
    const store = this.reader();
    await store.checkExists(name);
    return store.targets(name);
  }

  /** Every role: root, timestamp, snapshot, then the targets roles in delegation order. */
  async roleNames(): Promise<string[]> {
    return ['root', 'timestamp', 'snapshot', ...(await this.tree()).map((n) => n.name)];
  }

  /** The targets roles with their delegators, in the order clients search them. */
  async tree(): Promise<TreeNode[]> {
    return (await this.indexedReader()).store.tree();
  }

  /** Root versions that reached their thresholds (root_history), ascending. */
  async rootVersions(): Promise<number[]> {
    return this.reader().rootVersions();
  }

  async rootAt(version: number): Promise<Metadata<Root> | undefined> {
    return this.reader().rootAt(version);
  }

  /** The keys that may sign `name` (for root N > 1 also root N-1's root keys). */
  async authorisedKeys(name: string): Promise<Key[]> {
    const store = this.reader();
    await store.checkExists(name);
    return [...(await candidateKeys(store, name)).values()];
  }

  /** How `name`'s signatures stand against its thresholds. */
  async signatureStatus(name: string): Promise<SignatureStatus> {
    const store = this.reader();
    await store.checkExists(name);
    const md = await store.load(name);
    const previous = name === 'root' && md.signed.version > 1 ? await store.rootAt(md.signed.version - 1) : undefined;
    return signatureStatus(name, md, await store.authorisation(name), previous ?? null);
  }

  /** Every role's version, expiry, signatures and problems. */
  async status(now = this.now()): Promise<RepositoryStatus> {
    const settings = await readSettings(this.layout);
    const { store, index } = await this.indexedReader(settings);
    return repositoryStatus(store, index, now, settings.retiredVersions);
  }

  /** The path of the stored contents of a target. */
  blobPath(target: TargetFile): string {
    const blobs = this.blobStore();
    const hex = target.hashes[blobs.algorithm];
    if (!hex) throw new UsageError(`target "${target.path}" has no ${blobs.algorithm} hash`);
    return blobs.path(hex);
  }

  // ---- targets -------------------------------------------------------------------------------

  /**
   * Lists files as targets: each is read once (hashed with every configured algorithm and copied
   * into the repository). A path already listed gets the new contents (and keeps its custom data
   * unless `custom` is given).
   */
  async addTargets(inputs: TargetInput[], opts: AddTargetsOptions = {}): Promise<AddedTarget[]> {
    const algorithms = this.settings.targetHashes;
    const longest = longestDigestHex(algorithms);
    if (inputs.length === 0) throw new UsageError('no target files given');
    const seen = new Set<string>();
    for (const t of inputs) {
      checkTargetPath(t.path, longest);
      if (seen.has(t.path)) throw new UsageError(`target path "${t.path}" is given twice`);
      seen.add(t.path);
    }
    if (opts.custom !== undefined) canonicalBytes(opts.custom, 'custom');

    return this.mutate(async ({ round, store, blobs }) => {
      const base = opts.role ?? 'targets';
      const succinct = await binsOf(store, base);
      const roleOf = inputs.map((t) => (succinct ? succinct.getRoleForTarget(t.path) : base));
      const roles = [...new Set(roleOf)];
      for (const r of roles) await round.editTargets(r);
      const coverage = new Map<string, Awaited<ReturnType<typeof delegationChain>>>();
      for (const r of roles) coverage.set(r, await delegationChain(store, r));
      inputs.forEach((t, i) => checkCovered(coverage.get(roleOf[i]!)!, roleOf[i]!, t.path));
      // Against the roles being edited only: a path's case variant may be in any of 1,024 bins, and
      // reading them all would make every add cost a snapshot. publish checks the whole repository.
      const listed: (readonly [string, string])[] = [];
      for (const r of roles) for (const path of (await store.targets(r)).signed.targets.keys()) listed.push([path, r]);
      checkTargetPathsDistinct([...listed, ...inputs.map((t, i) => [t.path, roleOf[i]!] as const)]);

      const buffers: Buffer[] = [];
      const progress: FileProgress = { done: 0, total: inputs.length, bytes: 0 };
      const digests = await mapLimit(inputs, 16, async (t) => {
        const buf = buffers.pop() ?? Buffer.allocUnsafe(CHUNK);
        try {
          const { digest } = await blobs.add(t.file, algorithms, buf);
          progress.done++;
          progress.bytes += digest.length;
          opts.onProgress?.({ ...progress });
          return digest;
        } catch (e) {
          // A missing or unreadable file is found here, not by a stat of every file beforehand
          // (100,000 more system calls); the contents stored so far are removed on the way out.
          if (isErrno(e, 'ENOENT', 'ENOTDIR')) throw new UsageError(`target file "${t.file}" does not exist`);
          if (isErrno(e, 'EISDIR')) throw new UsageError(`target file "${t.file}" is a folder, not a file`);
          if (isErrno(e, 'EACCES', 'EPERM')) throw new UsageError(`target file "${t.file}" cannot be read (permission denied)`);
          throw e;
        } finally {
          buffers.push(buf);
        }
      });
      const added: AddedTarget[] = [];
      const storeAlg = blobs.algorithm;
      for (let i = 0; i < inputs.length; i++) {
        const { path } = inputs[i]!;
        const md = await store.targets(roleOf[i]!);
        const previous = md.signed.targets.get(path);
        const unrecognized = { ...previous?.unrecognized };
        if (opts.custom !== undefined) unrecognized.custom = opts.custom;
        const { length, hashes } = digests[i]!;
        if (previous && previous.hashes[storeAlg] !== hashes[storeAlg] && previous.hashes[storeAlg]) round.blobCandidates.add(previous.hashes[storeAlg]);
        md.signed.targets.set(path, new TargetFile(path, length, hashes, unrecognized));
        added.push({ path, role: roleOf[i]!, length, hashes });
      }
      return added;
    });
  }

  /** Removes targets; each path must be listed by `role`, or (without it) by exactly one role. */
  async removeTargets(paths: string[], opts: { role?: string } = {}): Promise<{ path: string; role: string }[]> {
    if (paths.length === 0) throw new UsageError('no target paths given');
    return this.mutate(async ({ round, store, blobs, index: openIndex }) => {
      const index = await openIndex();
      const plan: { path: string; role: string }[] = [];
      for (const path of paths) {
        if (opts.role !== undefined) {
          const succinct = await binsOf(store, opts.role);
          const role = succinct ? succinct.getRoleForTarget(path) : opts.role;
          if (!(await store.targets(role)).signed.targets.has(path)) throw new UsageError(`target "${path}" is not listed by role "${role}"`);
          plan.push({ path, role });
          continue;
        }
        const roles = await index.rolesListing(path);
        if (roles.length === 0) throw new UsageError(`target "${path}" is not listed by any role`);
        if (roles.length > 1) throw new UsageError(`target "${path}" is listed by roles ${roles.join(', ')}: choose one with --role`);
        plan.push({ path, role: roles[0]! });
      }
      for (const { role } of plan) await round.editTargets(role);
      for (const { path, role } of plan) {
        const md = await store.targets(role);
        const tf = md.signed.targets.get(path);
        if (!tf) throw new UsageError(`target "${path}" is given twice`);
        const hex = tf.hashes[blobs.algorithm];
        if (hex) round.blobCandidates.add(hex);
        md.signed.targets.delete(path);
      }
      return plan;
    });
  }

  // ---- delegations ---------------------------------------------------------------------------

  /** Delegates from targets role `from`; returns the roles created (one, or every hash bin). */
  async delegate(from: string, spec: DelegationSpec): Promise<string[]> {
    const kinds = [spec.paths, spec.pathHashPrefixes, spec.bins].filter((x) => x !== undefined).length;
    if (kinds !== 1) throw new UsageError('a delegation needs exactly one of paths, path hash prefixes or hash bins');
    distinctKeys(spec.keys, spec.name);
    if (spec.keys.length === 0) throw new UsageError(`role "${spec.name}" needs at least one key`);
    checkThreshold(spec.threshold, spec.keys.length, spec.name);
    if (spec.paths) {
      if (spec.paths.length === 0 || spec.paths.some((p) => p.length === 0)) throw new UsageError('delegated paths must be non-empty patterns');
      if (new Set(spec.paths).size !== spec.paths.length) throw new UsageError('a delegated path pattern is given twice');
    }
    if (spec.pathHashPrefixes) {
      if (spec.pathHashPrefixes.length === 0 || spec.pathHashPrefixes.some((p) => !/^[0-9a-f]{1,64}$/.test(p))) {
        throw new UsageError('path hash prefixes must be lowercase hex, 1 to 64 digits');
      }
      if (new Set(spec.pathHashPrefixes).size !== spec.pathHashPrefixes.length) throw new UsageError('a path hash prefix is given twice');
    }
    const bitLength = spec.bins !== undefined ? binBitLength(spec.bins) : 0;
    if (spec.bins !== undefined) checkDelegatedRoleName(`${spec.name}-${'0'.repeat(Math.ceil(bitLength / 4))}`);
    else checkDelegatedRoleName(spec.name);

    return this.mutate(async ({ round, store }) => {
      const parent = await round.editTargets(from);
      const existing = new Set((await store.tree()).map((n) => n.name));
      const keyids = spec.keys.map((k) => k.keyid);
      let created: string[];
      let newDelegations: Delegations;
      const d = parent.signed.delegations;
      if (spec.bins !== undefined) {
        if (d && (d.succinctRoles || (d.roles && d.roles.size > 0))) {
          throw new UsageError(`role "${from}" already delegates; hash bins must be its only delegation`);
        }
        const succinct = new SuccinctRoles(keyids, spec.threshold, bitLength, spec.name);
        created = [...succinct.getRoles()];
        newDelegations = new Delegations(new Map(spec.keys.map((k) => [k.keyid, k])), undefined, succinct);
      } else {
        if (d?.succinctRoles) throw new UsageError(`role "${from}" delegates to hash bins, which must be its only delegation`);
        const role = new DelegatedRole(spec.name, keyids, spec.threshold, spec.terminating ?? false, spec.paths, spec.pathHashPrefixes);
        created = [spec.name];
        if (existing.has(spec.name)) throw new UsageError(`role "${spec.name}" exists already (remove its delegation first)`);
        newDelegations = d ?? new Delegations(new Map(), new Map());
        newDelegations.roles!.set(spec.name, role);
        for (const k of spec.keys) newDelegations.keys.set(k.keyid, k);
      }
      for (const name of created) {
        if (existing.has(name)) throw new UsageError(`role "${name}" exists already (remove its delegation first)`);
      }
      checkDistinctFiles(
        [...existing, ...created].map((n) => ({ file: `${n}.json`, label: `role "${n}"` })),
        'choose a name no other role has, ignoring case',
      );
      parent.signed.delegations = newDelegations;
      for (const name of created) round.create(name, new Metadata(new Targets()));
      return created;
    });
  }

  /** Removes the delegation of `name` (or of all hash bins named `name-*`) from `from`, with every role below it. */
  async removeDelegation(from: string, name: string): Promise<string[]> {
    return this.mutate(async ({ round, store, blobs }) => {
      const parent = await round.editTargets(from);
      const d = parent.signed.delegations;
      let top: string[];
      if (d?.roles?.has(name)) {
        top = [name];
      } else if (d?.succinctRoles && (d.succinctRoles.namePrefix === name || d.succinctRoles.isDelegatedRole(name))) {
        top = [...d.succinctRoles.getRoles()];
      } else {
        throw new RoleNotFoundError(`role "${from}" does not delegate "${name}"`);
      }
      const tree = await store.tree();
      const removed = new Set<string>(top);
      for (const node of tree) if (node.parent !== undefined && removed.has(node.parent)) removed.add(node.name);
      for (const r of removed) {
        for (const tf of (await store.targets(r)).signed.targets.values()) {
          const hex = tf.hashes[blobs.algorithm];
          if (hex) round.blobCandidates.add(hex);
        }
      }
      if (d.roles?.has(name)) {
        d.roles.delete(name);
        pruneKeys(d);
        if (d.roles.size === 0) parent.signed.delegations = undefined;
      } else {
        parent.signed.delegations = undefined;
      }
      for (const r of removed) await round.delete(r);
      return [...removed];
    });
  }

  /**
   * Re-bins the hash bins `prefix-…` that `from` delegates to into `bins` bins, in place (see
   * rebin.ts); signs the new bins when `signer` is given. The delegator then needs signing, then
   * snapshot and timestamp, like any release.
   */
  async rebin(from: string, prefix: string, bins: number, signer?: RoleSigner): Promise<RebinResult> {
    const bitLength = binBitLength(bins);
    return this.mutate(async ({ round, store }) => {
      const result = await rebinSuccinct(round, store, from, prefix, bitLength);
      if (signer) {
        if (signer.keyid) await authorisedKey(store, result.created[0]!, signer.keyid);
        await round.settle();
        for (const name of result.created) await signRole(store, round, name, signer);
      }
      return result;
    });
  }

  // ---- keys, thresholds, expiry --------------------------------------------------------------

  /**
   * Changes who may sign `role`: adds and removes keys, sets the threshold. A top-level role is
   * changed in root (root's next version must be signed by a threshold of the old root keys and
   * of the new ones); a delegated role in its delegator; for hash bins, `role` is the name prefix
   * or any bin.
   */
  async changeKeys(role: string, change: { add?: Key[]; remove?: string[]; threshold?: number }): Promise<{ keyids: string[]; threshold: number }> {
    const add = distinctKeys(change.add ?? [], role);
    const remove = change.remove ?? [];
    if (add.length === 0 && remove.length === 0 && change.threshold === undefined) throw new UsageError('nothing to change');
    return this.mutate(async ({ round, store }) => {
      let r: Role;
      let keys: Map<string, Key>;
      let delegations: Delegations | undefined;
      if (isTopLevel(role)) {
        const root = (await round.editRoot()).signed;
        r = root.getRole(role);
        keys = root.keys;
      } else {
        const found = await findDelegation(store, role);
        delegations = (await round.editTargets(found.parent)).signed.delegations!;
        r = found.role;
        keys = delegations.keys;
      }
      for (const k of add) if (r.keyids.includes(k.keyid)) throw new UsageError(`key ${k.keyid} is already authorised for role "${role}"`);
      for (const id of remove) if (!r.keyids.includes(id)) throw new UsageError(`key ${id} is not authorised for role "${role}"`);
      if (new Set(remove).size !== remove.length) throw new UsageError('a key to remove is given twice');
      const keyids = [...r.keyids.filter((k) => !remove.includes(k)), ...add.map((k) => k.keyid)];
      const threshold = change.threshold ?? r.threshold;
      if (keyids.length === 0) throw new UsageError(`role "${role}" would have no keys left`);
      checkThreshold(threshold, keyids.length, role);
      if (isTopLevel(role)) {
        const root = (await store.load('root')).signed;
        for (const id of remove) root.revokeKey(id, role);
        for (const k of add) root.addKey(k, role);
      } else {
        r.keyids = keyids;
        for (const k of add) keys.set(k.keyid, k);
        pruneKeys(delegations!);
      }
      r.threshold = threshold;
      return { keyids, threshold };
    });
  }

  /** Sets when `role` expires (a new version if the current one is complete). */
  async setExpiry(role: string, expires: Date): Promise<void> {
    const now = this.now();
    if (Number.isNaN(expires.getTime())) throw new UsageError('invalid expiry date');
    if (expires.getTime() <= now.getTime()) throw new UsageError(`expiry ${formatExpires(expires)} of role "${role}" is in the past`);
    formatExpires(expires);
    await this.mutate(async ({ round, store }) => {
      await store.checkExists(role);
      await round.setExpiry(role, new Date(Math.floor(expires.getTime() / 1000) * 1000));
    });
  }

  // ---- signing -------------------------------------------------------------------------------

  /**
   * Adds `signer`'s signature to each role, replacing an earlier one by the same key. The signed
   * part never changes. Every role is checked (key authorised) before any is signed.
   */
  async sign(roles: string | string[], signer: RoleSigner): Promise<SignResult[]> {
    const names = typeof roles === 'string' ? [roles] : roles;
    if (names.length === 0) throw new UsageError('no role to sign');
    return this.mutate(async ({ round, store }) => {
      for (const name of names) await store.checkExists(name);
      // Read every file at once: with 1,024 hash bins one-by-one reads would dominate.
      await mapLimit(names, 32, (name) => store.bytes(name));
      if (signer.keyid !== '') {
        for (const name of names) await authorisedKey(store, name, signer.keyid);
      }
      const out: SignResult[] = [];
      for (const name of names) out.push(await signRole(store, round, name, signer));
      return out;
    });
  }

  /**
   * Merges the signatures in `bytes` (a copy of role `name` signed elsewhere, by an offline key
   * holder: `tufkit sign-file`) into the role. Refused unless the copy signs exactly the role's
   * current content, and every signature in it verifies under a key that may sign the role;
   * signatures already present are kept, so holders' copies merge in any order.
   */
  async importSignatures(name: string, bytes: Uint8Array, source: string): Promise<SignResult[]> {
    return this.mutate(async ({ round, store }) => {
      await store.checkExists(name);
      const md = await store.load(name);
      const theirs = Metadata.fromBytes(bytes, md.signed.type, name);
      const signedJson = md.signed.toJSON();
      const data = canonicalBytes(signedJson, 'signed');
      if (Buffer.compare(data, theirs.signedBytes()) !== 0) {
        const v = theirs.signed.version;
        throw new RepositoryError(
          v !== md.signed.version
            ? `${source} holds role "${name}" version ${v}, but the repository's is version ${md.signed.version}: sign a copy of the current one`
            : `${source} holds role "${name}" version ${v} with other content than the repository's version ${v} (changed since the copy was made): sign a copy of the current one`,
        );
      }
      const keys = await candidateKeys(store, name);
      const out: SignResult[] = [];
      for (const sig of theirs.signatures.values()) {
        if (md.signatures.get(sig.keyid)?.sig === sig.sig) continue;
        const key = keys.get(sig.keyid);
        if (!key) throw new KeyError(`${source}: the signature by key ${sig.keyid.slice(0, 12)}… is not from a key that may sign role "${name}" version ${md.signed.version}`);
        if (!safeVerify(key, sig.sig, data)) throw new KeyError(`${source}: the signature by key ${sig.keyid.slice(0, 12)}… does not verify over role "${name}" version ${md.signed.version}`);
        // One valid signature per key is enough: an earlier one (ECDSA differs every time) stays.
        if (md.signatures.has(sig.keyid) && safeVerify(key, md.signatures.get(sig.keyid)!.sig, data)) continue;
        md.signatures.set(sig.keyid, new Signature(sig.keyid, sig.sig));
        out.push({ role: name, keyid: sig.keyid, version: md.signed.version });
      }
      if (out.length > 0) round.signed(name, metadataFileBytes(md, data, signedJson));
      return out;
    });
  }

  // ---- snapshot and timestamp ----------------------------------------------------------------

  /**
   * Lists every targets role's current version (and length and hashes, if configured) in a new
   * snapshot, valid for the snapshot period; signs it when `signer` is given.
   */
  async updateSnapshot(signer?: RoleSigner): Promise<number> {
    return this.mutate(async ({ round, store, index: openIndex }) => {
      const index = await openIndex();
      if (signer?.keyid) await authorisedKey(store, 'snapshot', signer.keyid);
      const md = (await round.edit('snapshot')) as Metadata<Snapshot>;
      const meta = new Map<string, MetaFile>();
      // From the index: no targets role is read (each is as indexed: its stat was checked).
      for (const { name } of await store.tree()) {
        const r = index.role(name);
        meta.set(`${name}.json`, metaOf(r.version, r.length, r.sha256, this.settings.snapshotHashes));
      }
      // Spec 5.5.5: clients refuse a snapshot that drops a role they saw listed, so removed roles
      // stay listed at their last version (the file is gone: no length or hashes).
      for (const [name, version] of Object.entries(round.settings.retiredVersions)) {
        if (!meta.has(`${name}.json`)) meta.set(`${name}.json`, new MetaFile(version));
      }
      md.signed.meta = meta;
      await round.setExpiry('snapshot', expiryAfter(round.now, this.settings.expiry.snapshot));
      await round.settle();
      if (signer) await signRole(store, round, 'snapshot', signer);
      return md.signed.version;
    });
  }

  /** Points a new timestamp at the current snapshot (version, length, sha256); signs it when `signer` is given. */
  async updateTimestamp(signer?: RoleSigner): Promise<number> {
    return this.mutate(async ({ round, store }) => {
      if (signer?.keyid) await authorisedKey(store, 'timestamp', signer.keyid);
      const md = (await round.edit('timestamp')) as Metadata<Timestamp>;
      const snapshot = await store.load('snapshot');
      md.signed.snapshotMeta = metaFor(snapshot.signed.version, await store.bytes('snapshot'), true);
      await round.setExpiry('timestamp', expiryAfter(round.now, this.settings.expiry.timestamp));
      await round.settle();
      if (signer) await signRole(store, round, 'timestamp', signer);
      return md.signed.version;
    });
  }

  // ---- publishing ----------------------------------------------------------------------------

  /**
   * Writes into `out` every file a client fetches (see publish.ts). Refuses, before writing
   * anything, while any role misses a threshold, has expired, or does not match snapshot/timestamp.
   */
  async publish(out: string, now = this.now(), opts: PublishOptions = {}): Promise<PublishResult> {
    const lock = await DirLock.acquire(this.layout.dir, LOCK_TIMEOUT_MS);
    try {
      await removeStaleRepositoryTempFiles(this.layout);
      const settings = await readSettings(this.layout);
      const { store, index } = await this.indexedReader(settings);
      const result = await publishRepository(store, index, this.blobStore(settings), settings.targetHashes.length, out, now, opts, settings.retiredVersions);
      await index.save();
      return result;
    } finally {
      await lock.release();
    }
  }

  // ---- the write path ------------------------------------------------------------------------

  private async mutate<T>(fn: (op: { round: EditRound; store: RoleStore; blobs: BlobStore; index: () => Promise<RepoIndex> }) => Promise<T>): Promise<T> {
    const lock = await DirLock.acquire(this.layout.dir, LOCK_TIMEOUT_MS);
    let blobs: BlobStore | undefined;
    try {
      await removeStaleRepositoryTempFiles(this.layout);
      const settings = await readSettings(this.layout);
      this.settings = settings;
      const store = this.reader();
      // Opened when first needed: a command that changes no targets role never stats them all.
      let opening: Promise<RepoIndex> | undefined;
      const index = (): Promise<RepoIndex> => (opening ??= this.openIndex(settings));
      store.index = index;
      blobs = this.blobStore(settings);
      await removeUnfinishedBlobs(index, blobs);
      const round = new EditRound(store, structuredClone(settings), this.now());
      let result: T;
      let writes: PlannedWrite[];
      let deadBlobs: string[];
      try {
        result = await fn({ round, store, blobs, index });
        writes = await round.plan();
        if (writes.some((w) => w.role === 'targets' || !isTopLevel(w.role))) await (await index()).apply(round, writes, store);
        deadBlobs = round.blobCandidates.size > 0 ? await unreferenced(await index(), round.blobCandidates) : [];
      } catch (e) {
        await blobs.rollback();
        throw e;
      }
      try {
        await blobs.flush(); // stored contents are durable before any role lists them
        // Before the roles: a crash between the two must not lose a removed role's last version
        // (snapshot lists it for good); an entry for a role still delegated is harmless.
        if (round.settingsChanged) await writeFileAtomic(this.layout.settingsFile, settingsToBytes(round.settings));
        await this.write(store, writes);
        for (const w of writes) if (!w.bytes) await removeFile(this.layout.roleFile(w.role));
        // After the roles: a crash in between leaves an index whose stats do not match, rebuilt next time.
        if (opening) await (await opening).save();
        for (const hex of deadBlobs) await blobs.remove(hex);
        await blobs.flush();
        await blobs.closeJournal();
      } catch (e) {
        throw e instanceof TufError ? e : new StorageError(`writing ${this.layout.dir} failed: ${(e as Error).message}`, { cause: e });
      }
      this.settings = round.settings;
      return result;
    } finally {
      await blobs?.releaseJournal();
      await lock.release();
    }
  }

  private async write(store: RoleStore, writes: PlannedWrite[]): Promise<void> {
    // Delegated roles first, deepest first (a level durable before the one above it, so no crash
    // leaves a delegator naming a new role whose file is not there yet), then the top-level ones
    // one by one, in the planned order.
    const delegated = writes.filter((w) => w.bytes && !isTopLevel(w.role));
    const topLevel = writes.filter((w) => w.bytes && isTopLevel(w.role));
    const depth = delegated.length > 0 ? depthsOf(await store.tree()) : new Map<string, number>();
    const levels = [...new Set(delegated.map((w) => depth.get(w.role) ?? 0))].sort((a, b) => b - a);
    for (const level of levels) {
      const batch = delegated.filter((w) => (depth.get(w.role) ?? 0) === level);
      await writeFilesAtomic(batch.map((w) => [this.layout.roleFile(w.role), w.bytes!] as const));
    }
    for (const w of topLevel) {
      if (w.rootHistory !== undefined) {
        await mkdir(this.layout.rootHistoryDir, { recursive: true });
        await writeFileAtomic(this.layout.rootHistoryFile(w.rootHistory), w.bytes!);
        store.recordRootVersion(Metadata.fromBytes(w.bytes!, 'root'));
      }
      await writeFileAtomic(this.layout.roleFile(w.role), w.bytes!);
    }
  }
}

/** Each role's depth in the delegation tree ("targets" 0, what it delegates to 1, ...). */
function depthsOf(tree: readonly TreeNode[]): Map<string, number> {
  const depth = new Map<string, number>();
  // The tree lists a delegator before the roles it delegates to.
  for (const { name, parent } of tree) depth.set(name, parent === undefined ? 0 : (depth.get(parent) ?? 0) + 1);
  return depth;
}

/** Deletes the blobs a killed command created that no role names (see BlobStore.JOURNAL). */
async function removeUnfinishedBlobs(index: () => Promise<RepoIndex>, blobs: BlobStore): Promise<void> {
  const created = await blobs.unfinished();
  if (created.length === 0) return;
  for (const hex of await unreferenced(await index(), new Set(created))) await blobs.remove(hex);
  await blobs.flush();
  await blobs.closeJournal();
}

/** The digests among `candidates` that no target of any role names (with this command's changes applied to the index). */
async function unreferenced(index: RepoIndex, candidates: Set<string>): Promise<string[]> {
  const out: string[] = [];
  for (const hex of candidates) if ((await index.blobRefs(hex)) === 0) out.push(hex);
  return out;
}

/** Hex length of the longest digest among `algorithms`. */
function longestDigestHex(algorithms: string[]): number {
  return Math.max(...algorithms.map((a) => digest(a, new Uint8Array()).length * 2));
}

/** Whether `key` verifies the signature (false, not an exception, for a key tufkit cannot use). */
function safeVerify(key: Key, sigHex: string, data: Uint8Array): boolean {
  try {
    return key.verify(sigHex, data);
  } catch {
    return false;
  }
}

function checkCovered(chain: { parent: string; name: string; role: Role }[], role: string, path: string): void {
  for (const link of chain) {
    const ok = link.role instanceof SuccinctRoles ? link.role.getRoleForTarget(path) === link.name : (link.role as DelegatedRole).isDelegatedPath(path);
    if (!ok) {
      throw new UsageError(`target "${path}" cannot be listed by role "${role}": "${link.parent}" does not delegate that path to "${link.name}"`);
    }
  }
}

/** Drops keys no delegation of `d` uses any more. */
function pruneKeys(d: Delegations): void {
  const used = new Set<string>();
  for (const r of d.roles?.values() ?? []) for (const k of r.keyids) used.add(k);
  for (const k of d.succinctRoles?.keyids ?? []) used.add(k);
  for (const k of [...d.keys.keys()]) if (!used.has(k)) d.keys.delete(k);
}

function metaFor(version: number, bytes: Uint8Array, withHashes: boolean): MetaFile {
  return metaOf(version, bytes.length, sha256Hex(bytes), withHashes);
}

function metaOf(version: number, length: number, sha256: string, withHashes: boolean): MetaFile {
  return withHashes ? new MetaFile(version, length, { sha256 }) : new MetaFile(version);
}

async function readSettings(layout: RepoLayout): Promise<RepoSettings> {
  let bytes: Uint8Array | undefined;
  try {
    bytes = await readFileCapped(layout.settingsFile, MAX_SETTINGS_FILE);
  } catch (e) {
    if (!isErrno(e, 'ENOTDIR')) throw e;
  }
  if (!bytes) {
    const exists = await readdir(layout.dir).then(
      () => true,
      () => false,
    );
    throw new UsageError(exists ? `${layout.dir} is not a tufkit repository (no ${layout.settingsFile})` : `repository folder ${layout.dir} does not exist`);
  }
  return settingsFromBytes(bytes, layout.settingsFile);
}

/** From "targets" down to `role`: each delegation on the way (checked against target paths). */
async function delegationChain(store: RoleStore, role: string): Promise<{ parent: string; name: string; role: Role }[]> {
  const chain: { parent: string; name: string; role: Role }[] = [];
  for (let name = role; name !== 'targets'; ) {
    const auth = await store.authorisation(name);
    chain.unshift({ parent: auth.delegator, name, role: auth.role });
    name = auth.delegator;
    if (chain.length > 1000) throw new UsageError(`the delegations leading to role "${role}" form a cycle`);
  }
  return chain;
}

/**
 * The hash bins that stand for targets role `name` when targets are added or removed: those it
 * delegates to, or those it names as their prefix (bins are PREFIX-HEX, TAP 15, see SuccinctRoles).
 * Undefined when `name` is a role that lists targets itself; RoleNotFoundError when it is neither.
 */
async function binsOf(store: RoleStore, name: string): Promise<SuccinctRoles | undefined> {
  if (!isTopLevel(name)) {
    const { role } = await findDelegation(store, name);
    if (role instanceof SuccinctRoles && role.namePrefix === name) return role;
  }
  return (await store.targets(name)).signed.delegations?.succinctRoles;
}

/** The delegation entry of a delegated role (a hash bin's prefix finds the succinct entry). */
async function findDelegation(store: RoleStore, name: string): Promise<{ parent: string; role: Role }> {
  const parent = await store.delegatorOf(name);
  if (parent !== undefined) return { parent, role: (await store.authorisation(name)).role };
  for (const node of await store.tree()) {
    if ((await store.delegation(node.name))?.succinctPrefix !== name) continue;
    const s = (await store.targets(node.name)).signed.delegations?.succinctRoles;
    if (s?.namePrefix === name) return { parent: node.name, role: s };
  }
  throw new RoleNotFoundError(`role "${name}" is not in this repository`);
}

/** The keys that may sign `name`: its delegation's, and for root N > 1 root N-1's root keys too. */
async function candidateKeys(store: RoleStore, name: string): Promise<Map<string, Key>> {
  const auth = await store.authorisation(name);
  const out = new Map<string, Key>();
  for (const id of auth.role.keyids) {
    const k = auth.keys.get(id);
    if (k) out.set(id, k);
  }
  if (name === 'root') {
    const version = (await store.load('root')).signed.version;
    const previous = version > 1 ? await store.rootAt(version - 1) : undefined;
    if (previous) {
      for (const id of previous.signed.getRole('root').keyids) {
        const k = previous.signed.keys.get(id);
        if (k && !out.has(id)) out.set(id, k);
      }
    }
  }
  return out;
}

async function authorisedKey(store: RoleStore, name: string, keyid: string): Promise<Key> {
  const keys = await candidateKeys(store, name);
  const key = keys.get(keyid);
  if (!key) {
    const list = [...keys.keys()].map((k) => k.slice(0, 12)).join(', ');
    throw new KeyError(`key ${keyid.slice(0, 12)}… is not authorised to sign role "${name}" (authorised: ${list || 'none'})`);
  }
  return key;
}

async function signRole(store: RoleStore, round: EditRound, name: string, signer: RoleSigner): Promise<SignResult> {
  const md = await store.load(name);
  // One encoding of `signed` serves both the signature and the file (1,024 bins are signed at once).
  const signedJson = md.signed.toJSON();
  const data = canonicalBytes(signedJson, 'signed');
  const raw = await signer.sign(data, { role: name });
  const hex = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('hex');
  let keyid = signer.keyid;
  if (keyid === '') {
    const match = [...(await candidateKeys(store, name)).values()].find((k) => safeVerify(k, hex, data));
    if (!match) throw new KeyError(`the signature from the signer command does not verify with any key authorised for role "${name}" (give its public key with --key: raw ECDSA r||s needs it)`);
    keyid = match.keyid;
  } else if (!(signer instanceof InMemorySigner)) {
    // An in-memory key signs as its own public key by construction; anything else is checked.
    const key = await authorisedKey(store, name, keyid);
    if (!safeVerify(key, hex, data)) throw new KeyError(`the signature by key ${keyid.slice(0, 12)}… on role "${name}" does not verify`);
  }
  md.signatures.set(keyid, new Signature(keyid, hex));
  round.signed(name, metadataFileBytes(md, data, signedJson));
  return { role: name, keyid, version: md.signed.version };
}
