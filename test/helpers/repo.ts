import { createHash } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { InMemorySigner, type Signer } from '../../src/crypto/signer.js';
import {
  DelegatedRole,
  Delegations,
  Key,
  Metadata,
  MetaFile,
  Root,
  Snapshot,
  SuccinctRoles,
  TargetFile,
  Targets,
  Timestamp,
  type TopLevelRole,
} from '../../src/models/index.js';
import { diskPath } from './server.js';

// A TUF repository built with tufkit's own model API, published into a folder exactly as a
// client fetches it (N.root.json for every root, timestamp.json, V.snapshot.json, V.role.json,
// targets/HASH.name), with hooks to produce every attack: stale or mismatched versions, expired
// roles, wrong or too few keys, bytes changed after signing, wrong hashes and lengths.

// ---- keys ------------------------------------------------------------------------------------

// Key generation is the slow part of building many repositories: every repository in a test
// process draws from the same pool, in the same order.
const pool: Signer[] = [];

async function pooledSigner(i: number): Promise<Signer> {
  while (pool.length <= i) pool.push(await InMemorySigner.generate('ed25519'));
  return pool[i]!;
}

export function keyOf(signer: Signer): Key {
  return Key.fromPublicJSON(signer.publicKey as Record<string, unknown>);
}

// ---- bytes -----------------------------------------------------------------------------------

export function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** Changes the `signed` part of a signed file without re-signing it (signatures stay as they were). */
export function tamperSigned(bytes: Uint8Array, change: (signed: Record<string, unknown>) => void): Uint8Array {
  const obj = JSON.parse(Buffer.from(bytes).toString('utf8')) as { signed: Record<string, unknown> };
  change(obj.signed);
  return utf8(JSON.stringify(obj));
}

/** The same bytes with the byte at `index` changed (a bit flipped). */
export function flipByte(bytes: Uint8Array, index: number): Uint8Array {
  const out = Uint8Array.from(bytes);
  out[index] = out[index]! ^ 0x01;
  return out;
}

export const PAST = new Date('2001-01-01T00:00:00Z');

// ---- the repository --------------------------------------------------------------------------

export interface RepoOptions {
  /** Root's consistent_snapshot (default true). */
  consistentSnapshot?: boolean;
  /** Number of root keys (default 1) and root threshold (default 1). */
  rootKeys?: number;
  rootThreshold?: number;
  /** Threshold and key count of timestamp, snapshot and targets (default 1 of 1). */
  onlineKeys?: number;
  onlineThreshold?: number;
  /** Expiry of every role (default: a year from now). */
  expires?: Date;
  /** Whether timestamp lists the snapshot's length and hashes (default true). */
  timestampHashes?: boolean;
  /** Whether snapshot lists the targets roles' lengths and hashes (default true). */
  snapshotHashes?: boolean;
}

export interface DelegateOptions {
  paths?: string[];
  pathHashPrefixes?: string[];
  terminating?: boolean;
  threshold?: number;
  /** How many new keys the role gets (default 1), or exactly these signers. */
  keys?: number;
  signers?: Signer[];
}

export interface PublishOptions {
  /** Increment the versions of changed targets roles, snapshot and timestamp (default true). */
  bump?: boolean;
  /** Sign these roles with these signers instead of their own, for this publish. */
  signWith?: Record<string, Signer[]>;
  /** Change a role's bytes after signing, before its parent records their length and hashes. */
  tamper?: Record<string, (bytes: Uint8Array) => Uint8Array>;
  /** Keep snapshot.meta and timestamp's snapshot meta as the test set them (mismatch attacks). */
  keepMeta?: boolean;
  /** Edit snapshot.meta once computed, before snapshot is signed. */
  snapshotMeta?: (meta: Map<string, MetaFile>) => void;
  /** Edit timestamp's snapshot meta once computed, before timestamp is signed. */
  timestampMeta?: (meta: MetaFile) => void;
}

export class TestRepo {
  root!: Metadata<Root>;
  timestamp!: Metadata<Timestamp>;
  snapshot!: Metadata<Snapshot>;
  /** Every targets role: "targets" and the delegated ones. */
  readonly roles = new Map<string, Metadata<Targets>>();
  /** The keys that sign each role (top-level and delegated). */
  readonly signers = new Map<string, Signer[]>();
  /** Published bytes of every version of every role (root included). */
  readonly history = new Map<string, Map<number, Uint8Array>>();
  /** Target contents by hex digest (any algorithm). */
  private readonly contents = new Map<string, Uint8Array>();
  private readonly dirty = new Set<string>();
  private readonly unpublished = new Set<string>();
  private readonly roleBytes = new Map<string, Uint8Array>();
  private nextKey = 0;
  timestampHashes: boolean;
  snapshotHashes: boolean;
  readonly expires: Date;

  private constructor(
    /** The served folder: metadata/ and targets/ underneath. */
    readonly dir: string,
    opts: RepoOptions,
  ) {
    this.expires = opts.expires ?? new Date(Date.now() + 365 * 86400_000);
    this.timestampHashes = opts.timestampHashes ?? true;
    this.snapshotHashes = opts.snapshotHashes ?? true;
  }

  /** A repository with root v1 and empty targets, published into `dir`. */
  static async create(dir: string, opts: RepoOptions = {}): Promise<TestRepo> {
    const repo = new TestRepo(dir, opts);
    const expires = repo.expires;
    const root = new Root({ version: 1, expires: new Date(expires), consistentSnapshot: opts.consistentSnapshot ?? true });
    repo.root = new Metadata(root);
    const rootSigners = await repo.newSigners(opts.rootKeys ?? 1);
    for (const s of rootSigners) root.addKey(keyOf(s), 'root');
    root.getRole('root').threshold = opts.rootThreshold ?? 1;
    repo.signers.set('root', rootSigners);
    for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
      const signers = await repo.newSigners(opts.onlineKeys ?? 1);
      for (const s of signers) root.addKey(keyOf(s), role);
      root.getRole(role).threshold = opts.onlineThreshold ?? 1;
      repo.signers.set(role, signers);
    }
    repo.timestamp = new Metadata(new Timestamp({ expires: new Date(expires) }));
    repo.snapshot = new Metadata(new Snapshot({ expires: new Date(expires) }));
    repo.roles.set('targets', new Metadata(new Targets({ expires: new Date(expires) })));
    repo.unpublished.add('targets').add('snapshot').add('timestamp');
    await repo.signRoot();
    await repo.publish();
    return repo;
  }

  // ---- keys ----------------------------------------------------------------------------------

  /** `n` keys no role of this repository uses yet. */
  async newSigners(n = 1): Promise<Signer[]> {
    const out: Signer[] = [];
    for (let i = 0; i < n; i++) out.push(await pooledSigner(this.nextKey++));
    return out;
  }

  signersOf(role: string): Signer[] {
    const s = this.signers.get(role);
    if (!s) throw new Error(`test repo: no signers for role "${role}"`);
    return s;
  }

  /**
   * Gives `role` `n` brand-new keys (and `threshold`), replacing the old ones. For a top-level
   * role this changes root: call it inside rotateRoot(). For a delegated role it changes every
   * delegator, which is re-signed at the next publish.
   */
  async replaceKeys(role: string, n = 1, threshold?: number): Promise<Signer[]> {
    const signers = await this.newSigners(n);
    this.setKeys(role, signers, threshold);
    return signers;
  }

  /** Like replaceKeys, with given signers. */
  setKeys(role: string, signers: Signer[], threshold?: number): void {
    if (isTopLevel(role)) {
      const root = this.root.signed;
      for (const keyid of [...root.getRole(role).keyids]) root.revokeKey(keyid, role);
      for (const s of signers) root.addKey(keyOf(s), role);
      if (threshold !== undefined) root.getRole(role).threshold = threshold;
    } else {
      for (const [name, md] of this.roles) {
        const d = md.signed.delegations;
        const r = d?.getRole(role);
        if (!d || !r) continue;
        const old = new Set(r.keyids);
        r.keyids = signers.map((s) => s.keyid);
        if (threshold !== undefined) r.threshold = threshold;
        for (const keyid of old) {
          const stillUsed = d.roles ? [...d.roles.values()].some((x) => x.keyids.includes(keyid)) : r.keyids.includes(keyid);
          if (!stillUsed) d.keys.delete(keyid);
        }
        for (const s of signers) d.keys.set(s.keyid, keyOf(s));
        this.dirty.add(name);
      }
      this.dirty.add(role);
    }
    this.signers.set(role, signers);
  }

  // ---- root ----------------------------------------------------------------------------------

  private async signRoot(signers = this.signersOf('root'), fileVersion = this.root.signed.version, tamper?: (b: Uint8Array) => Uint8Array): Promise<Uint8Array> {
    this.root.signatures.clear();
    for (const s of dedupe(signers)) await this.root.sign(s);
    let bytes = this.root.toBytes();
    if (tamper) bytes = tamper(bytes);
    this.record('root', fileVersion, bytes);
    return bytes;
  }

  /**
   * Publishes root version N+1: runs `change` on it (e.g. replaceKeys, expires), then signs it with
   * the old root keys and the new ones, and writes N+1.root.json. Options make the bad roots:
   * `signWith` (only these keys), `version` (a version other than N+1 inside file N+1.root.json),
   * `tamper` (bytes changed after signing).
   */
  async rotateRoot(
    change?: (root: Root) => unknown,
    opts: {
      signWith?: Signer[] | ((oldSigners: Signer[], newSigners: Signer[]) => Signer[]);
      version?: number;
      tamper?: (b: Uint8Array) => Uint8Array;
    } = {},
  ): Promise<Uint8Array> {
    const fileVersion = this.latestRootVersion + 1;
    const oldSigners = this.signersOf('root');
    await change?.(this.root.signed);
    this.root.signed.version = opts.version ?? fileVersion;
    const newSigners = this.signersOf('root');
    const signWith = typeof opts.signWith === 'function' ? opts.signWith(oldSigners, newSigners) : opts.signWith;
    const bytes = await this.signRoot(signWith ?? [...oldSigners, ...newSigners], fileVersion, opts.tamper);
    await this.writeMetadata(`${fileVersion}.root.json`, bytes);
    await this.writeMetadata('root.json', bytes);
    return bytes;
  }

  get latestRootVersion(): number {
    return Math.max(...this.history.get('root')!.keys());
  }

  /** The bytes of N.root.json as published. */
  rootBytes(version = this.latestRootVersion): Uint8Array {
    const b = this.history.get('root')?.get(version);
    if (!b) throw new Error(`test repo: no root version ${version}`);
    return b;
  }

  // ---- targets and delegations ---------------------------------------------------------------

  /** Lists `data` as target `targetPath` in `role` (default the top-level targets). */
  addTarget(targetPath: string, data: Uint8Array, role = 'targets', algorithms: string[] = ['sha256']): TargetFile {
    const tf = TargetFile.fromData(targetPath, data, algorithms);
    for (const hex of Object.values(tf.hashes)) this.contents.set(hex, data);
    this.targetsRole(role).signed.targets.set(targetPath, tf);
    this.dirty.add(role);
    return tf;
  }

  removeTarget(targetPath: string, role = 'targets'): void {
    this.targetsRole(role).signed.targets.delete(targetPath);
    this.dirty.add(role);
  }

  targetsRole(name: string): Metadata<Targets> {
    const md = this.roles.get(name);
    if (!md) throw new Error(`test repo: no targets role "${name}"`);
    return md;
  }

  /**
   * Delegates `name` from `delegator` (paths default to ["*"]). Delegating a role that exists
   * already (a cycle, or a second delegator) only adds the delegation.
   */
  async delegate(delegator: string, name: string, opts: DelegateOptions = {}): Promise<Metadata<Targets>> {
    const parent = this.targetsRole(delegator).signed;
    const signers = opts.signers ?? this.signers.get(name) ?? (await this.newSigners(opts.keys ?? 1));
    parent.delegations ??= new Delegations(new Map(), new Map());
    const d = parent.delegations;
    if (!d.roles) throw new Error(`test repo: "${delegator}" uses succinct delegations`);
    for (const s of signers) d.keys.set(s.keyid, keyOf(s));
    const paths = opts.paths ?? (opts.pathHashPrefixes ? undefined : ['*']);
    d.roles.set(name, new DelegatedRole(name, signers.map((s) => s.keyid), opts.threshold ?? 1, opts.terminating ?? false, paths, opts.pathHashPrefixes));
    this.dirty.add(delegator);
    if (!this.roles.has(name)) {
      this.roles.set(name, new Metadata(new Targets({ expires: new Date(this.expires) })));
      this.signers.set(name, signers);
      this.unpublished.add(name);
      this.dirty.add(name);
    }
    return this.roles.get(name)!;
  }

  /** TAP 15 succinct hash bins `${prefix}-xx` delegated from `delegator`, one shared key. */
  async delegateSuccinct(delegator: string, bitLength: number, prefix = 'bins', signers?: Signer[]): Promise<SuccinctRoles> {
    const parent = this.targetsRole(delegator).signed;
    const keys = signers ?? (await this.newSigners(1));
    const succinct = new SuccinctRoles(keys.map((s) => s.keyid), 1, bitLength, prefix);
    parent.delegations = new Delegations(new Map(keys.map((s) => [s.keyid, keyOf(s)])), undefined, succinct);
    this.dirty.add(delegator);
    for (const bin of succinct.getRoles()) {
      this.roles.set(bin, new Metadata(new Targets({ expires: new Date(this.expires) })));
      this.signers.set(bin, keys);
      this.unpublished.add(bin);
      this.dirty.add(bin);
    }
    return succinct;
  }

  /** Marks a role as changed, so the next publish gives it a new version. */
  touch(role: string): void {
    this.dirty.add(role);
  }

  /** Sets a role's expiry to the past (its next publish is expired). */
  expire(role: string, when = PAST): void {
    this.signedOf(role).expires = new Date(when);
    if (role !== 'root') this.dirty.add(role);
  }

  signedOf(role: string): Root | Timestamp | Snapshot | Targets {
    if (role === 'root') return this.root.signed;
    if (role === 'timestamp') return this.timestamp.signed;
    if (role === 'snapshot') return this.snapshot.signed;
    return this.targetsRole(role).signed;
  }

  // ---- publishing ----------------------------------------------------------------------------

  get consistent(): boolean {
    return this.root.signed.consistentSnapshot === true;
  }

  /** The metadata file name a client requests for `role` at `version` (or the current one). */
  metadataFile(role: string, version?: number): string {
    if (role === 'root') return `${version ?? this.latestRootVersion}.root.json`;
    if (role === 'timestamp' || !this.consistent) return `${role}.json`;
    return `${version ?? this.signedOf(role).version}.${role}.json`;
  }

  /** The target file name a client requests for `tf` (HASH.name with consistent snapshots). */
  targetFile(tf: TargetFile, alg = Object.keys(tf.hashes)[0]!): string {
    if (!this.consistent) return tf.path;
    const i = tf.path.lastIndexOf('/');
    return `${tf.path.slice(0, i + 1)}${tf.hashes[alg]}.${tf.path.slice(i + 1)}`;
  }

  /**
   * Signs and writes a new release: changed targets roles, then snapshot, then timestamp, each
   * with a new version (unless `bump` is false), each parent listing its children's versions
   * (and lengths and hashes, when enabled) as published.
   */
  async publish(opts: PublishOptions = {}): Promise<void> {
    const bump = opts.bump ?? true;
    const sign = async (role: string, md: Metadata): Promise<Uint8Array> => {
      md.signatures.clear();
      for (const s of dedupe(opts.signWith?.[role] ?? this.signersOf(role))) await md.sign(s);
      let bytes = md.toBytes();
      const t = opts.tamper?.[role];
      if (t) bytes = t(bytes);
      this.record(role, md.signed.version, bytes);
      return bytes;
    };
    const files: [string, Uint8Array][] = [];
    for (const [name, md] of this.roles) {
      const changed = this.dirty.has(name) || this.unpublished.has(name);
      if (!changed && !opts.signWith?.[name] && !opts.tamper?.[name] && this.roleBytes.has(name)) continue;
      if (bump && changed && !this.unpublished.has(name)) md.signed.version++;
      this.roleBytes.set(name, await sign(name, md));
    }
    if (!opts.keepMeta) {
      this.snapshot.signed.meta = new Map(
        [...this.roles].map(([name, md]) => {
          const bytes = this.roleBytes.get(name)!;
          const mf = this.snapshotHashes ? new MetaFile(md.signed.version, bytes.length, { sha256: sha256(bytes) }) : new MetaFile(md.signed.version);
          return [`${name}.json`, mf];
        }),
      );
    }
    opts.snapshotMeta?.(this.snapshot.signed.meta);
    if (bump && !this.unpublished.has('snapshot')) this.snapshot.signed.version++;
    const snapBytes = await sign('snapshot', this.snapshot);
    if (!opts.keepMeta) {
      const v = this.snapshot.signed.version;
      this.timestamp.signed.snapshotMeta = this.timestampHashes ? new MetaFile(v, snapBytes.length, { sha256: sha256(snapBytes) }) : new MetaFile(v);
    }
    opts.timestampMeta?.(this.timestamp.signed.snapshotMeta);
    if (bump && !this.unpublished.has('timestamp')) this.timestamp.signed.version++;
    const tsBytes = await sign('timestamp', this.timestamp);

    for (const [v, bytes] of this.history.get('root')!) files.push([`${v}.root.json`, bytes]);
    files.push(['root.json', this.rootBytes()]);
    files.push(['timestamp.json', tsBytes]);
    files.push([this.metadataFile('snapshot'), snapBytes]);
    for (const [name] of this.roles) files.push([this.metadataFile(name), this.roleBytes.get(name)!]);
    for (const [name, bytes] of files) await this.writeMetadata(name, bytes);
    for (const [, md] of this.roles) {
      for (const tf of md.signed.targets.values()) {
        const data = Object.values(tf.hashes).map((h) => this.contents.get(h)).find((d) => d !== undefined);
        if (!data) continue;
        if (this.consistent) for (const alg of Object.keys(tf.hashes)) await this.writeTarget(this.targetFile(tf, alg), data);
        else await this.writeTarget(tf.path, data);
      }
    }
    this.dirty.clear();
    this.unpublished.clear();
  }

  /** Current published bytes of a role's metadata (latest version). */
  bytesOf(role: string, version?: number): Uint8Array {
    const versions = this.history.get(role);
    const v = version ?? (role === 'root' ? this.latestRootVersion : this.signedOf(role).version);
    const b = versions?.get(v);
    if (!b) throw new Error(`test repo: role "${role}" version ${v} was never published`);
    return b;
  }

  /** Writes bytes as the served metadata file `name` (e.g. "timestamp.json", "3.snapshot.json"). */
  async writeMetadata(name: string, bytes: Uint8Array): Promise<void> {
    await writeAt(diskPath(this.dir, `/metadata/${name}`), bytes);
  }

  /** Writes bytes as the served target file `name` (e.g. "HASH.file.txt"). */
  async writeTarget(name: string, bytes: Uint8Array): Promise<void> {
    await writeAt(diskPath(this.dir, `/targets/${name}`), bytes);
  }

  private record(role: string, version: number, bytes: Uint8Array): void {
    let m = this.history.get(role);
    if (!m) this.history.set(role, (m = new Map()));
    m.set(version, bytes);
  }
}

async function writeAt(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true });
  await writeFile(file, bytes);
}

function isTopLevel(role: string): role is TopLevelRole {
  return role === 'root' || role === 'timestamp' || role === 'snapshot' || role === 'targets';
}

function dedupe(signers: Signer[]): Signer[] {
  return [...new Map(signers.map((s) => [s.keyid, s])).values()];
}
