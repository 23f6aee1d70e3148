import { createHash } from 'node:crypto';
import type { Signer } from '../crypto/signer.js';
import { UsageError } from '../errors.js';
import { Delegations } from '../models/delegations.js';
import { parseExpires } from '../models/fields.js';
import { MetaFile, TargetFile } from '../models/files.js';
import { Metadata } from '../models/metadata.js';
import { DelegatedRole, Role, SuccinctRoles } from '../models/role.js';
import { Root, TOP_LEVEL_ROLES, type TopLevelRole } from '../models/root.js';
import { Snapshot } from '../models/snapshot.js';
import { Targets } from '../models/targets.js';
import { Timestamp } from '../models/timestamp.js';
import { encodeSegment, VALID_UNTIL } from './format.js';
import { keyOf, type KeyKind, type KeyPool } from './keys.js';

// An in-memory TUF repository whose every step is explicit, so that scenarios can publish both
// well-formed and deliberately broken metadata. It keeps every published version, as a repository
// with consistent snapshots does, and produces the files served over HTTP for a state.

export const VALID = parseExpires(VALID_UNTIL)!;

export interface SimOptions {
  /** Key type of the top-level roles (default ed25519). */
  keyKind?: KeyKind;
  /** Per top-level role (default: keyKind). */
  roleKeyKinds?: Partial<Record<TopLevelRole, KeyKind>>;
  /** Number of keys (all signing) and threshold per top-level role (default 1). */
  thresholds?: Partial<Record<TopLevelRole, number>>;
  consistentSnapshot?: boolean;
  /** Timestamp and snapshot list length and hashes of the files they name (default false). */
  metaHashes?: boolean;
}

export interface DelegationOptions {
  paths?: string[];
  hashPrefixes?: string[];
  terminating?: boolean;
  threshold?: number;
  /** Signers of the new role (default: `threshold` new keys of the delegator's kind). */
  signers?: Signer[];
  keyKind?: KeyKind;
}

interface Artifact {
  path: string;
  data: Uint8Array;
  file: TargetFile;
}

export function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** The served path of a metadata file (`metadata/` + the encoded file name). */
export function metaPath(fileName: string): string {
  return `metadata/${encodeSegment(fileName)}`;
}

/** The served path of a target (each segment encoded), with an optional hash prefix. */
export function targetPath(path: string, hashPrefix?: string): string {
  const segs = path.split('/');
  if (hashPrefix) segs[segs.length - 1] = `${hashPrefix}.${segs[segs.length - 1]}`;
  return `targets/${segs.map(encodeSegment).join('/')}`;
}

export class RepoSim {
  root!: Metadata<Root>;
  timestamp!: Metadata<Timestamp>;
  snapshot!: Metadata<Snapshot>;
  /** "targets" and every delegated role. */
  readonly roles = new Map<string, Metadata<Targets>>();
  /** Who signs each role on publish. */
  readonly signers = new Map<string, Signer[]>();
  /** Published root versions: index = version - 1. */
  readonly rootVersions: Uint8Array[] = [];
  /** Published versions of the other roles. */
  readonly published = new Map<string, Map<number, Uint8Array>>();
  readonly artifacts: Artifact[] = [];
  metaHashes: boolean;

  constructor(
    readonly keys: KeyPool,
    private readonly opts: SimOptions = {},
  ) {
    this.metaHashes = opts.metaHashes ?? false;
  }

  /** Creates and publishes version 1 of every top-level role. */
  async init(): Promise<this> {
    const root = new Root({ expires: new Date(VALID), consistentSnapshot: this.opts.consistentSnapshot ?? true });
    for (const role of TOP_LEVEL_ROLES) {
      const n = this.opts.thresholds?.[role] ?? 1;
      root.roles.set(role, new Role([], n));
      const kind = this.opts.roleKeyKinds?.[role] ?? this.opts.keyKind ?? 'ed25519';
      const signers = Array.from({ length: n }, () => this.keys.next(kind));
      for (const s of signers) root.addKey(keyOf(s), role);
      this.signers.set(role, signers);
    }
    this.root = new Metadata(root);
    this.roles.set('targets', new Metadata(new Targets({ expires: new Date(VALID) })));
    this.snapshot = new Metadata(new Snapshot({ expires: new Date(VALID) }));
    this.timestamp = new Metadata(new Timestamp({ expires: new Date(VALID) }));
    await this.publishRoot();
    this.snapshot.signed.meta.set('targets.json', this.metaFile(1, await this.publish('targets')));
    this.timestamp.signed.snapshotMeta = this.metaFile(1, await this.publish('snapshot'));
    await this.publish('timestamp');
    return this;
  }

  get consistent(): boolean {
    return this.root.signed.consistentSnapshot === true;
  }

  targets(name = 'targets'): Targets {
    const md = this.roles.get(name);
    if (!md) throw new UsageError(`sim: no role ${name}`);
    return md.signed;
  }

  md(role: string): Metadata {
    if (role === 'root') return this.root;
    if (role === 'timestamp') return this.timestamp;
    if (role === 'snapshot') return this.snapshot;
    const md = this.roles.get(role);
    if (!md) throw new UsageError(`sim: no role ${role}`);
    return md;
  }

  /** Signs `md` with `signers`, replacing its signatures. */
  async sign(md: Metadata, signers: Signer[]): Promise<void> {
    md.signatures.clear();
    for (const s of signers) await md.sign(s);
  }

  /** Signs and serialises a role with its signers (or `signers`), recording that version as published. */
  async publish(role: string, signers?: Signer[]): Promise<Uint8Array> {
    if (role === 'root') return this.publishRoot(signers);
    const md = this.md(role);
    await this.sign(md, signers ?? this.signers.get(role) ?? []);
    const bytes = md.toBytes();
    let versions = this.published.get(role);
    if (!versions) this.published.set(role, (versions = new Map()));
    versions.set(md.signed.version, bytes);
    return bytes;
  }

  /** Publishes root at its version, signed by its signers plus `extra` (e.g. the previous root's keys). */
  async publishRoot(signers?: Signer[], extra: Signer[] = []): Promise<Uint8Array> {
    const all = [...(signers ?? this.signers.get('root') ?? [])];
    for (const s of extra) if (!all.some((x) => x.keyid === s.keyid)) all.push(s);
    await this.sign(this.root, all);
    const bytes = this.root.toBytes();
    this.rootVersions[this.root.signed.version - 1] = bytes;
    return bytes;
  }

  /**
   * The next root version, signed by the new root keys and by the keys of the version before (a
   * threshold of both must sign, spec 5.3.4). `change` edits the new root before it is signed.
   */
  async bumpRoot(change?: (root: Root) => void): Promise<Uint8Array> {
    const oldSigners = [...(this.signers.get('root') ?? [])];
    this.root.signed.version++;
    change?.(this.root.signed);
    return this.publishRoot(undefined, oldSigners);
  }

  /** Replaces every key of a top-level role by `count` new keys (threshold unchanged unless given). */
  rotateKeys(role: TopLevelRole, kind: KeyKind = this.opts.keyKind ?? 'ed25519', count?: number): Signer[] {
    const r = this.root.signed.getRole(role);
    for (const keyid of [...r.keyids]) this.root.signed.revokeKey(keyid, role);
    const n = count ?? r.threshold;
    const signers = Array.from({ length: n }, () => this.keys.next(kind));
    for (const s of signers) this.root.signed.addKey(keyOf(s), role);
    this.signers.set(role, signers);
    return signers;
  }

  /** Adds a target to `role` and to the files the repository serves. */
  addTarget(role: string, path: string, data: Uint8Array | string, algorithms: string[] = ['sha256']): TargetFile {
    const bytes = typeof data === 'string' ? new Uint8Array(Buffer.from(data)) : data;
    const file = TargetFile.fromData(path, bytes, algorithms);
    this.targets(role).targets.set(path, file);
    this.artifacts.push({ path, data: bytes, file });
    return file;
  }

  /** The content most recently added for `path`. */
  content(path: string): Uint8Array {
    const a = this.artifacts.filter((x) => x.path === path).pop();
    if (!a) throw new UsageError(`sim: no target ${path}`);
    return a.data;
  }

  /** Adds a delegation from `delegator` to a new role `name` (not published). */
  delegate(delegator: string, name: string, o: DelegationOptions = {}): Signer[] {
    const parent = this.targets(delegator);
    parent.delegations ??= new Delegations(new Map(), new Map());
    const threshold = o.threshold ?? 1;
    const signers = o.signers ?? Array.from({ length: threshold }, () => this.keys.next(o.keyKind ?? this.opts.keyKind ?? 'ed25519'));
    const paths = o.hashPrefixes ? undefined : (o.paths ?? ['*']);
    const role = new DelegatedRole(name, [], threshold, o.terminating ?? false, paths, o.hashPrefixes);
    for (const s of signers) {
      const k = keyOf(s);
      parent.delegations.keys.set(k.keyid, k);
      if (!role.keyids.includes(k.keyid)) role.keyids.push(k.keyid);
    }
    parent.delegations.roles!.set(name, role);
    if (!this.roles.has(name)) this.roles.set(name, new Metadata(new Targets({ expires: new Date(VALID) })));
    this.signers.set(name, signers);
    return signers;
  }

  /** Delegates to 2^bitLength succinct hash bins named `${prefix}-xx`, all with one key (TAP 15). */
  delegateBins(delegator: string, bitLength: number, prefix: string): string[] {
    const signer = this.keys.next(this.opts.keyKind ?? 'ed25519');
    const k = keyOf(signer);
    const succinct = new SuccinctRoles([k.keyid], 1, bitLength, prefix);
    this.targets(delegator).delegations = new Delegations(new Map([[k.keyid, k]]), undefined, succinct);
    const names = [...succinct.getRoles()];
    for (const name of names) {
      this.roles.set(name, new Metadata(new Targets({ expires: new Date(VALID) })));
      this.signers.set(name, [signer]);
    }
    return names;
  }

  /** Publishes the next snapshot (listing every published targets role) and the next timestamp. */
  async updateSnapshot(): Promise<void> {
    for (const [name, versions] of this.published) {
      if (name === 'snapshot' || name === 'timestamp') continue;
      const version = this.roles.get(name)!.signed.version;
      const bytes = versions.get(version)!;
      this.snapshot.signed.meta.set(`${name}.json`, this.metaFile(version, bytes));
    }
    this.snapshot.signed.version++;
    await this.publish('snapshot');
    await this.updateTimestamp();
  }

  /** Publishes the next timestamp naming the current snapshot. */
  async updateTimestamp(): Promise<void> {
    const v = this.snapshot.signed.version;
    this.timestamp.signed.snapshotMeta = this.metaFile(v, this.published.get('snapshot')!.get(v)!);
    this.timestamp.signed.version++;
    await this.publish('timestamp');
  }

  metaFile(version: number, bytes: Uint8Array): MetaFile {
    return this.metaHashes ? new MetaFile(version, bytes.length, { sha256: sha256Hex(bytes) }) : new MetaFile(version);
  }

  /**
   * Bumps and publishes the given targets roles (new roles keep version 1), then snapshot and
   * timestamp: one release of the repository.
   */
  async release(...roles: string[]): Promise<void> {
    for (const role of roles) {
      if (this.published.has(role)) this.roles.get(role)!.signed.version++;
      await this.publish(role);
    }
    await this.updateSnapshot();
  }

  /** The latest published bytes of a role (root: the current version). */
  bytes(role: string, version?: number): Uint8Array {
    if (role === 'root') return this.rootVersions[(version ?? this.root.signed.version) - 1]!;
    const versions = this.published.get(role);
    const v = version ?? this.md(role).signed.version;
    const b = versions?.get(v);
    if (!b) throw new UsageError(`sim: ${role} version ${v} was not published`);
    return b;
  }

  /** The served path of a role's latest file under the current root's naming. */
  rolePath(role: string, version?: number): string {
    if (role === 'root') return metaPath(`${version ?? this.root.signed.version}.root.json`);
    if (role === 'timestamp' || !this.consistent) return metaPath(`${role}.json`);
    return metaPath(`${version ?? this.md(role).signed.version}.${role}.json`);
  }

  /** Every file the repository serves now: path (as in the URL, under the base) -> bytes. */
  served(): Map<string, Uint8Array> {
    const files = new Map<string, Uint8Array>();
    this.rootVersions.forEach((b, i) => {
      if (b) files.set(metaPath(`${i + 1}.root.json`), b);
    });
    for (const [role, versions] of this.published) {
      if (role === 'timestamp' || !this.consistent) {
        files.set(metaPath(`${role}.json`), versions.get(this.md(role).signed.version) ?? [...versions.values()].pop()!);
      } else {
        for (const [v, b] of versions) files.set(metaPath(`${v}.${role}.json`), b);
      }
    }
    // A target path that is not a plain relative path is not served: it has no place on the server.
    const servable = this.artifacts.filter((a) => a.path.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'));
    if (this.consistent) {
      for (const a of servable) for (const h of Object.values(a.file.hashes)) files.set(targetPath(a.path, h), a.data);
    } else {
      for (const a of servable) files.set(targetPath(a.path), a.data);
    }
    return files;
  }
}
