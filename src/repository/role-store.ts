import { readdir } from 'node:fs/promises';
import { isErrno, readFileCapped, readFileCappedSync } from '../client/atomic-file.js';
import { MetadataFormatError, RoleNotFoundError, StorageError } from '../errors.js';
import type { Delegations } from '../models/delegations.js';
import type { Key } from '../models/key.js';
import { Metadata } from '../models/metadata.js';
import type { TargetFile } from '../models/files.js';
import type { Role } from '../models/role.js';
import { Root, TOP_LEVEL_ROLES, type TopLevelRole } from '../models/root.js';
import type { Snapshot } from '../models/snapshot.js';
import type { Targets } from '../models/targets.js';
import type { Timestamp } from '../models/timestamp.js';
import type { RepoLayout } from './layout.js';

/** Largest role file read from the repository folder (a 100,000-target role is about 25 MB). */
const MAX_ROLE_FILE = 512 * 1024 * 1024;

/** What `parse` makes of the bytes of `file`; a format error names the file. */
function fromFile<T>(file: string, parse: () => T): T {
  try {
    return parse();
  } catch (e) {
    throw e instanceof MetadataFormatError ? e.inFile(file) : e;
  }
}

export function isTopLevel(name: string): name is TopLevelRole {
  return (TOP_LEVEL_ROLES as readonly string[]).includes(name);
}

/** Who may sign a role: the delegating role's entry for it and the keys it lists. */
export interface Authorisation {
  /** The role that delegates it: "root" for top-level roles. */
  delegator: string;
  role: Role;
  keys: Map<string, Key>;
}

/** One targets role of the delegation tree, in the order a client searches them. */
export interface TreeNode {
  name: string;
  /** The delegating targets role (undefined for "targets"). */
  parent: string | undefined;
}

/** The roles a targets role delegates to, as far as the delegation tree goes. */
export interface ChildRoles {
  list(): string[];
  has(name: string): boolean;
  /** The name prefix, for succinct hash bins. */
  succinctPrefix?: string;
}

/** What the store asks the repository index (repo-index.ts) instead of reading unchanged roles. */
export interface RoleIndex {
  has(name: string): boolean;
  delegation(name: string): ChildRoles | undefined;
}

function childRolesOf(d: Delegations | undefined): ChildRoles | undefined {
  if (d?.succinctRoles) {
    const s = d.succinctRoles;
    return { list: () => [...s.getRoles()], has: (n) => s.isDelegatedRole(n), succinctPrefix: s.namePrefix };
  }
  if (d?.roles && d.roles.size > 0) {
    const roles = d.roles;
    return { list: () => [...roles.keys()], has: (n) => roles.has(n) };
  }
  return undefined;
}

/**
 * The role files of one repository folder: read on first use, parsed strictly, cached with the
 * exact bytes read (snapshot and timestamp list lengths and hashes of those bytes).
 */
export class RoleStore {
  private readonly mds = new Map<string, Metadata>();
  private readonly raw = new Map<string, Uint8Array>();
  private readonly history = new Map<number, Metadata<Root>>();
  private historyVersions: number[] | undefined;
  /**
   * When set, opens the repository index, which then gives the delegations of roles not read yet
   * (the tree without reading every bin). Opened on first need: a command that never walks the
   * tree (timestamp, signing one bin) does not open it for that.
   */
  index: (() => Promise<RoleIndex>) | undefined;

  constructor(readonly layout: RepoLayout) {}

  /** The roles `name` delegates to: from its metadata once read (edits included), else from the index. */
  async delegation(name: string): Promise<ChildRoles | undefined> {
    if (!this.mds.has(name) && name !== 'targets' && this.index) {
      const index = await this.index();
      if (index.has(name)) return index.delegation(name);
    }
    return childRolesOf((await this.targets(name)).signed.delegations);
  }

  /** Forgets everything read (the folder is read again on next use). */
  clear(): void {
    this.mds.clear();
    this.raw.clear();
    this.history.clear();
    this.historyVersions = undefined;
  }

  /** The file bytes of role `name` as on disk (or as last written by this store). */
  async bytes(name: string): Promise<Uint8Array> {
    let b = this.raw.get(name);
    if (!b) {
      const file = this.layout.roleFile(name);
      b = readFileCappedSync(file, MAX_ROLE_FILE);
      if (!b) {
        if (isTopLevel(name)) throw new StorageError(`${file} is missing: the repository folder is damaged`);
        throw new RoleNotFoundError(`role "${name}" has no metadata file (${file})`);
      }
      this.raw.set(name, b);
    }
    return b;
  }

  load(name: 'root'): Promise<Metadata<Root>>;
  load(name: 'timestamp'): Promise<Metadata<Timestamp>>;
  load(name: 'snapshot'): Promise<Metadata<Snapshot>>;
  load(name: string): Promise<Metadata>;
  async load(name: string): Promise<Metadata> {
    let md = this.mds.get(name);
    if (!md) {
      const type = isTopLevel(name) ? name : 'targets';
      const bytes = await this.bytes(name);
      md = fromFile(this.layout.roleFile(name), () => Metadata.fromBytes(bytes, type, name));
      this.mds.set(name, md);
    }
    return md;
  }

  async targets(name: string): Promise<Metadata<Targets>> {
    if (name !== 'targets' && isTopLevel(name)) throw new RoleNotFoundError(`role "${name}" is not a targets role`);
    return (await this.load(name)) as Metadata<Targets>;
  }

  /** A fresh parse of the role's bytes as on disk: a copy that later edits do not reach. */
  async pristine(name: string): Promise<Metadata> {
    const type = isTopLevel(name) ? name : 'targets';
    const bytes = await this.bytes(name);
    return fromFile(this.layout.roleFile(name), () => Metadata.fromBytes(bytes, type, name));
  }

  /**
   * The target files role `name`'s bytes as on disk list, for bytes verified already (see
   * Metadata.listedTargetFiles); each iteration walks them again.
   */
  async listedTargetFiles(name: string): Promise<Iterable<TargetFile>> {
    const bytes = await this.bytes(name);
    return fromFile(this.layout.roleFile(name), () => Metadata.listedTargetFiles(bytes, name));
  }

  /** Records a role as written (or as created in memory, with `bytes` undefined until written). */
  put(name: string, md: Metadata, bytes?: Uint8Array): void {
    this.mds.set(name, md);
    if (bytes) this.raw.set(name, bytes);
    else this.raw.delete(name);
  }

  // ---- root history --------------------------------------------------------------------------

  /** Versions N with DIR/metadata/root_history/N.root.json, ascending. */
  async rootVersions(): Promise<number[]> {
    if (!this.historyVersions) {
      let names: string[] = [];
      try {
        names = await readdir(this.layout.rootHistoryDir);
      } catch (e) {
        if (!isErrno(e, 'ENOENT')) throw e;
      }
      this.historyVersions = names
        .map((n) => /^([1-9]\d{0,15})\.root\.json$/.exec(n)?.[1])
        .filter((v): v is string => v !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
    }
    return [...this.historyVersions];
  }

  /** Root version `version` as it reached its thresholds, if it did. */
  async rootAt(version: number): Promise<Metadata<Root> | undefined> {
    let md = this.history.get(version);
    if (!md) {
      const bytes = await readFileCapped(this.layout.rootHistoryFile(version), MAX_ROLE_FILE);
      if (!bytes) return undefined;
      md = fromFile(this.layout.rootHistoryFile(version), () => Metadata.fromBytes(bytes, 'root', `root (version ${version})`));
      if (md.signed.version !== version) {
        throw new StorageError(`${this.layout.rootHistoryFile(version)} holds root version ${md.signed.version}: the repository folder is damaged`);
      }
      this.history.set(version, md);
    }
    return md;
  }

  async rootHistoryBytes(version: number): Promise<Uint8Array | undefined> {
    return readFileCapped(this.layout.rootHistoryFile(version), MAX_ROLE_FILE);
  }

  recordRootVersion(md: Metadata<Root>): void {
    this.history.set(md.signed.version, md);
    if (this.historyVersions && !this.historyVersions.includes(md.signed.version)) {
      this.historyVersions = [...this.historyVersions, md.signed.version].sort((a, b) => a - b);
    }
  }

  // ---- the delegation tree -------------------------------------------------------------------

  /** Every targets role, "targets" first, then depth-first in delegation order (a client's search order). */
  async tree(): Promise<TreeNode[]> {
    const out: TreeNode[] = [];
    const seen = new Set<string>();
    const visit = async (name: string, parent: string | undefined): Promise<void> => {
      if (seen.has(name)) return;
      seen.add(name);
      out.push({ name, parent });
      for (const child of (await this.delegation(name))?.list() ?? []) await visit(child, name);
    };
    await visit('targets', undefined);
    return out;
  }

  /** The targets role delegating `name`, or undefined when no role in the tree does. */
  async delegatorOf(name: string): Promise<string | undefined> {
    const stack = ['targets'];
    const seen = new Set<string>();
    while (stack.length > 0) {
      const current = stack.pop()!;
      if (seen.has(current)) continue;
      seen.add(current);
      const d = await this.delegation(current);
      if (!d) continue;
      if (d.has(name)) return current;
      // Hash bins rarely delegate further: do not read 1,024 files unless some bin file does.
      stack.push(...d.list().reverse());
    }
    return undefined;
  }

  /** Throws RoleNotFoundError unless `name` is a top-level role or delegated in the tree. */
  async checkExists(name: string): Promise<void> {
    if (isTopLevel(name)) return;
    if ((await this.delegatorOf(name)) === undefined) throw new RoleNotFoundError(`role "${name}" is not in this repository`);
  }

  /**
   * The keys and threshold that may sign `name`, as the delegating role lists them. `lookup`
   * chooses which copy of the delegator to read (an edit passes the copy from before its changes).
   */
  async authorisation(name: string, lookup: (role: string) => Promise<Metadata> = (r) => this.load(r)): Promise<Authorisation> {
    if (isTopLevel(name)) {
      const root = (await lookup('root')).signed as Root;
      return { delegator: 'root', role: root.getRole(name), keys: root.keys };
    }
    const parent = await this.delegatorOf(name);
    if (parent === undefined) throw new RoleNotFoundError(`role "${name}" is not in this repository`);
    const d = ((await lookup(parent)).signed as Targets).delegations;
    const role = d?.getRole(name);
    if (!d || !role) throw new RoleNotFoundError(`role "${name}" is not delegated by "${parent}"`);
    return { delegator: parent, role, keys: d.keys };
  }
}

export function rootOf(md: Metadata): Root {
  if (!(md.signed instanceof Root)) throw new StorageError(`expected root metadata, got ${md.signed.type}`);
  return md.signed;
}
