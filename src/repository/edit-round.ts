import { UsageError } from '../errors.js';
import type { Metadata } from '../models/metadata.js';
import type { Root } from '../models/root.js';
import type { Targets } from '../models/targets.js';
import { expiryAfter } from './durations.js';
import { isTopLevel, type RoleStore } from './role-store.js';
import type { RepoSettings } from './settings.js';
import { signatureStatus } from './signatures.js';

/*
 * Versions move once per edit round. A role version is "complete" once every threshold that
 * applies to it is reached (for root N > 1: root N's own keys and root N-1's). The first edit of
 * a complete version starts the next one: version + 1, expiry renewed from the role's period,
 * signatures dropped. Later edits of that unfinished version keep its number (and its expiry)
 * and drop the signatures gathered so far, since they are over the old `signed` part. An edit
 * that leaves `signed` byte-for-byte the same changes nothing. Signing never changes `signed`.
 */

interface Touched {
  /** The role as it was before this command (undefined for a role created by it). */
  original: Metadata;
  wasComplete: boolean;
  explicitExpiry: boolean;
}

/** One file change the command will make. `bytes` undefined deletes the file. */
export interface PlannedWrite {
  role: string;
  bytes: Uint8Array | undefined;
  /** For root: also record these bytes as root_history/N.root.json. */
  rootHistory?: number;
}

/** The changes of one command, applied to the store's roles in memory until written. */
export class EditRound {
  private readonly touched = new Map<string, Touched>();
  private readonly created = new Set<string>();
  private readonly deleted = new Set<string>();
  /** Roles whose signatures changed, with their file bytes when the signer already built them. */
  private readonly resigned = new Map<string, Uint8Array | undefined>();
  private settled = false;
  settingsChanged = false;
  /** Blob digests a removed or replaced target named: deleted after the write if no target names them. */
  readonly blobCandidates = new Set<string>();

  constructor(
    private readonly store: RoleStore,
    readonly settings: RepoSettings,
    readonly now: Date,
  ) {}

  /** The role to change, after recording how it stood before (call before changing anything). */
  async edit(name: string): Promise<Metadata> {
    if (this.settled) throw new UsageError('internal: edit after the round was settled');
    if (this.deleted.has(name)) throw new UsageError(`role "${name}" is being removed`);
    if (this.resigned.has(name)) this.resigned.set(name, undefined); // bytes built before this edit are stale
    if (!this.touched.has(name) && !this.created.has(name)) {
      const original = await this.store.pristine(name);
      const wasComplete = await this.isComplete(name, original);
      this.touched.set(name, { original, wasComplete, explicitExpiry: false });
    }
    return this.store.load(name);
  }

  async editTargets(name: string): Promise<Metadata<Targets>> {
    await this.store.checkExists(name);
    await this.edit(name);
    return this.store.targets(name);
  }

  async editRoot(): Promise<Metadata<Root>> {
    await this.edit('root');
    return this.store.load('root');
  }

  /**
   * How a written role stood before this command, for what changed in it: null for a role this
   * command created, the original for one whose signed part it edited, undefined for one it only
   * signed (its signed part is as before).
   */
  before(name: string): Metadata | null | undefined {
    if (this.created.has(name)) return null;
    return this.touched.get(name)?.original;
  }

  /** The role as it was before this command. */
  async original(name: string): Promise<Metadata> {
    return this.touched.get(name)?.original ?? this.store.load(name);
  }

  /** A new delegated targets role, first version (above any version the name had before). */
  create(name: string, md: Metadata<Targets>): void {
    // The retired entry stays: settings are written before the roles, and a crash in between must
    // not leave the name neither delegated nor retired (snapshot would drop it).
    md.signed.version = (this.settings.retiredVersions[name] ?? 0) + 1;
    md.signed.expires = expiryAfter(this.now, this.settings.expiry.delegated);
    this.created.add(name);
    this.deleted.delete(name);
    this.store.put(name, md);
  }

  /** Removes a delegated role's file, remembering its version. */
  async delete(name: string): Promise<void> {
    if (isTopLevel(name)) throw new UsageError(`role "${name}" is a top-level role and cannot be removed`);
    const md = await this.store.load(name);
    this.settings.retiredVersions[name] = Math.max(md.signed.version, this.settings.retiredVersions[name] ?? 0);
    this.settingsChanged = true;
    this.created.delete(name);
    this.touched.delete(name);
    this.resigned.delete(name);
    this.deleted.add(name);
  }

  /** Sets the role's expiry; the version bump keeps it instead of renewing it from the period. */
  async setExpiry(name: string, expires: Date): Promise<void> {
    const md = await this.edit(name);
    md.signed.expires = new Date(expires);
    const t = this.touched.get(name);
    if (t) t.explicitExpiry = true;
  }

  /** A role whose signatures (not its signed part) changed; `bytes` is its file, if already built. */
  signed(name: string, bytes?: Uint8Array): void {
    this.resigned.set(name, bytes);
  }

  /** Whether role `name` (as `md`) reaches every threshold, judged by its delegator before this round. */
  async isComplete(name: string, md: Metadata): Promise<boolean> {
    const auth = await this.store.authorisation(name, (r) => this.original(r));
    const previous = name === 'root' && md.signed.version > 1 ? await this.store.rootAt(md.signed.version - 1) : undefined;
    return signatureStatus(name, md, auth, previous).complete;
  }

  /** Applies the version rule to every edited role. After this, the round only signs and writes. */
  async settle(): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    for (const [name, t] of this.touched) {
      const md = await this.store.load(name);
      if (sameBytes(t.original.signedBytes(), md.signedBytes())) {
        this.touched.delete(name);
        continue;
      }
      if (t.wasComplete) {
        md.signed.version = t.original.signed.version + 1;
        if (!t.explicitExpiry) md.signed.expires = expiryAfter(this.now, this.period(name));
      }
      md.signatures.clear();
    }
  }

  period(name: string): number {
    const e = this.settings.expiry;
    return isTopLevel(name) ? e[name] : e.delegated;
  }

  /** Names of roles this round edited (changed `signed`) or created, after settle(). */
  get changedRoles(): string[] {
    return [...this.created, ...this.touched.keys()];
  }

  /** Every file to write or delete, with its bytes computed (nothing is written yet). */
  async plan(): Promise<PlannedWrite[]> {
    await this.settle();
    const names = new Set([...this.created, ...this.touched.keys(), ...this.resigned.keys()]);
    for (const d of this.deleted) names.delete(d);
    // Children before the roles that delegate them, snapshot and timestamp last: a crash between
    // two writes leaves at worst roles nobody lists yet.
    const rank = (n: string): number => (n === 'timestamp' ? 5 : n === 'snapshot' ? 4 : n === 'root' ? 3 : n === 'targets' ? 2 : 1);
    const ordered = [...names].sort((a, b) => rank(a) - rank(b));
    const out: PlannedWrite[] = [];
    for (const name of ordered) {
      const md = await this.store.load(name);
      const bytes = this.resigned.get(name) ?? md.toBytes();
      const w: PlannedWrite = { role: name, bytes };
      if (name === 'root') {
        const previous = md.signed.version > 1 ? await this.store.rootAt(md.signed.version - 1) : undefined;
        const auth = await this.store.authorisation('root');
        if (signatureStatus('root', md, auth, previous).complete) w.rootHistory = md.signed.version;
      }
      out.push(w);
    }
    for (const name of this.deleted) out.push({ role: name, bytes: undefined });
    return out;
  }
}

export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.compare(a, b) === 0;
}
