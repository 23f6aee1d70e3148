import {
  BadVersionError,
  EqualVersionError,
  ExpiredMetadataError,
  RoleNotFoundError,
  UsageError,
} from '../errors.js';
import { formatExpires } from '../models/fields.js';
import { Metadata } from '../models/metadata.js';
import type { Root } from '../models/root.js';
import type { Snapshot } from '../models/snapshot.js';
import type { Targets } from '../models/targets.js';
import type { Timestamp } from '../models/timestamp.js';
import type { Signed } from '../models/signed.js';

/** A trusted targets role, and what its trust rests on. */
interface TrustedTargetsRole {
  metadata: Metadata<Targets>;
  /** The file it was read from, for messages. */
  file: string;
  /**
   * The bytes its signatures were verified over, exactly as read: another delegator reaching the
   * role checks its keys against these (reachTargetsRole), with no second fetch and no re-encoding
   * of the model (which would build every target entry and need not match the signed bytes). They
   * cost about the file's size (13 MB for 100,000 targets, beside some 22 MB of model), so the
   * top-level targets keeps none: only root delegates it (no targets role may delegate a
   * top-level role name).
   */
  signedBytes: Uint8Array | undefined;
  /** The delegators whose keys and threshold it met. */
  verifiedBy: Set<string>;
}

/**
 * Every trust decision of the client, in the order of the TUF specification's client workflow
 * (section 5), and nothing else: no I/O, no clock. Bytes go in; they become trusted metadata only
 * once every check for their step has passed, otherwise a typed error comes out and the set is
 * unchanged.
 *
 * `intermediate` loads (of files from the local cache) may be expired or stale: they are kept only
 * as a baseline against rollback, and the checkFinal* methods decide whether they can be used.
 */
export class TrustedMetadataSet {
  /**
   * Targets roles by name. A role may be delegated by several roles, each with its own keys and
   * threshold: it is trusted only through the delegators listed in its verifiedBy.
   */
  private readonly roles = new Map<string, TrustedTargetsRole>();
  private trustedRoot: Metadata<Root>;
  private trustedTimestamp: Metadata<Timestamp> | undefined;
  private trustedSnapshot: Metadata<Snapshot> | undefined;
  /** The root this set started from, to tell whether timestamp or snapshot keys were rotated. */
  private readonly initialRoot: Metadata<Root>;

  /**
   * Starts from a root the application trusts (shipped with it, or from its cache). It must be
   * signed by a threshold of its own keys; its expiry does not matter yet (spec 5.2).
   */
  constructor(
    rootBytes: Uint8Array,
    readonly referenceTime: Date,
  ) {
    const { metadata: root, signedBytes } = Metadata.fromBytesForVerification(rootBytes, 'root');
    root.verifyDelegate('root', root, signedBytes, 'root.json');
    this.trustedRoot = root;
    this.initialRoot = root;
  }

  get root(): Metadata<Root> {
    return this.trustedRoot;
  }

  get timestamp(): Metadata<Timestamp> | undefined {
    return this.trustedTimestamp;
  }

  get snapshot(): Metadata<Snapshot> | undefined {
    return this.trustedSnapshot;
  }

  get targets(): Metadata<Targets> | undefined {
    return this.roles.get('targets')?.metadata;
  }

  /**
   * A targets role (top-level or delegated) already verified against `delegatorName`'s
   * delegation of it, if any. Its verification through another delegator does not count: each
   * delegator names its own keys and threshold (see reachTargetsRole).
   */
  getTargetsRole(name: string, delegatorName: string): Metadata<Targets> | undefined {
    const role = this.roles.get(name);
    return role?.verifiedBy.has(delegatorName) ? role.metadata : undefined;
  }

  // ---- root (spec 5.3) -----------------------------------------------------------------------

  /** Trusts root version N+1: signed by a threshold of the old keys and of its own (5.3.4, 5.3.5). */
  updateRoot(bytes: Uint8Array): Metadata<Root> {
    if (this.trustedTimestamp) throw new UsageError('cannot update root after timestamp was loaded');
    const { metadata: next, signedBytes } = Metadata.fromBytesForVerification(bytes, 'root');
    const expected = this.trustedRoot.signed.version + 1;
    const file = `${expected}.root.json`;
    this.trustedRoot.verifyDelegate('root', next, signedBytes, `${file}, old root's keys`);
    next.verifyDelegate('root', next, signedBytes, `${file}, its own keys`);
    if (next.signed.version !== expected) {
      throw new BadVersionError(`role "root" (${file}): expected version ${expected}, got ${next.signed.version}`);
    }
    this.trustedRoot = next;
    return next;
  }

  /** The final root must not be expired (5.3.10). */
  checkFinalRoot(): void {
    this.checkNotExpired('root', 'root.json', this.trustedRoot.signed);
  }

  /**
   * Whether the timestamp or snapshot keys differ between the root this set started from and the
   * current one: then the cached timestamp and snapshot must be deleted (5.3.11, fast-forward
   * attack recovery).
   */
  timestampOrSnapshotKeysRotated(): boolean {
    const before = this.initialRoot.signed;
    const after = this.trustedRoot.signed;
    return (['timestamp', 'snapshot'] as const).some((name) => {
      const a = new Set(before.getRole(name).keyids);
      const b = after.getRole(name).keyids;
      return a.size !== b.length || b.some((k) => !a.has(k));
    });
  }

  // ---- timestamp (spec 5.4) ------------------------------------------------------------------

  /**
   * Trusts a new timestamp. Throws EqualVersionError when it has the trusted version: not an
   * attack, the caller keeps the trusted one. `intermediate` (a cached file) skips the expiry check.
   */
  updateTimestamp(bytes: Uint8Array, intermediate = false): Metadata<Timestamp> {
    if (this.trustedSnapshot) throw new UsageError('cannot update timestamp after snapshot was loaded');
    // python-tuf checks this here too: nothing is trusted under an expired root.
    this.checkFinalRoot();
    const { metadata: next, signedBytes } = Metadata.fromBytesForVerification(bytes, 'timestamp');
    this.trustedRoot.verifyDelegate('timestamp', next, signedBytes, 'timestamp.json');
    const old = this.trustedTimestamp;
    if (old) {
      const [o, n] = [old.signed.version, next.signed.version];
      if (n < o) throw new BadVersionError(`role "timestamp" (timestamp.json): version ${n} is older than trusted version ${o}`);
      if (n === o) throw new EqualVersionError(`role "timestamp" (timestamp.json): version ${n} is already trusted`);
      const [os, ns] = [old.signed.snapshotMeta.version, next.signed.snapshotMeta.version];
      if (ns < os) {
        throw new BadVersionError(`role "timestamp" (timestamp.json): names snapshot version ${ns}, older than trusted snapshot version ${os}`);
      }
    }
    if (!intermediate) this.checkNotExpired('timestamp', 'timestamp.json', next.signed);
    this.trustedTimestamp = next;
    return next;
  }

  /** The trusted timestamp exists and is not expired. */
  checkFinalTimestamp(): Metadata<Timestamp> {
    const ts = this.trustedTimestamp;
    if (!ts) throw new UsageError('timestamp is not loaded');
    this.checkNotExpired('timestamp', 'timestamp.json', ts.signed);
    return ts;
  }

  // ---- snapshot (spec 5.5) -------------------------------------------------------------------

  /**
   * Trusts a new snapshot: length and hashes from timestamp (5.5.2), signatures (5.5.3), version
   * from timestamp (5.5.4), no rollback of any listed role (5.5.5), not expired (5.5.6).
   * `intermediate` (a cached, once-verified file) skips the checks against the current timestamp
   * and expiry: it then only serves as the rollback baseline unless checkFinalSnapshot accepts it.
   */
  updateSnapshot(bytes: Uint8Array, intermediate = false, file = 'snapshot.json'): Metadata<Snapshot> {
    if (this.roles.has('targets')) throw new UsageError('cannot update snapshot after targets was loaded');
    const meta = this.checkFinalTimestamp().signed.snapshotMeta;
    if (!intermediate) meta.verifyLengthAndHashes(bytes, `role "snapshot" (${file}), as listed in timestamp`);
    const { metadata: next, signedBytes } = Metadata.fromBytesForVerification(bytes, 'snapshot');
    this.trustedRoot.verifyDelegate('snapshot', next, signedBytes, file);
    const old = this.trustedSnapshot;
    if (old) {
      for (const [name, oldMeta] of old.signed.meta) {
        const newMeta = next.signed.meta.get(name);
        if (!newMeta) throw new BadVersionError(`role "snapshot" (${file}): "${name}" was listed before and is missing now`);
        if (newMeta.version < oldMeta.version) {
          throw new BadVersionError(`role "snapshot" (${file}): "${name}" version ${newMeta.version} is older than trusted version ${oldMeta.version}`);
        }
      }
    }
    if (!intermediate) this.checkSnapshotMatchesTimestamp(next, file);
    this.trustedSnapshot = next;
    return next;
  }

  /** The trusted snapshot exists, is the version timestamp names, and is not expired. */
  checkFinalSnapshot(): Metadata<Snapshot> {
    const snap = this.trustedSnapshot;
    if (!snap) throw new UsageError('snapshot is not loaded');
    this.checkSnapshotMatchesTimestamp(snap, 'snapshot.json');
    return snap;
  }

  private checkSnapshotMatchesTimestamp(snap: Metadata<Snapshot>, file: string): void {
    const want = this.checkFinalTimestamp().signed.snapshotMeta.version;
    if (snap.signed.version !== want) {
      throw new BadVersionError(`role "snapshot" (${file}): timestamp names version ${want}, got ${snap.signed.version}`);
    }
    this.checkNotExpired('snapshot', file, snap.signed);
  }

  // ---- targets and delegated targets (spec 5.6) ----------------------------------------------

  /** Trusts the top-level targets role. */
  updateTargets(bytes: Uint8Array, file = 'targets.json'): Metadata<Targets> {
    return this.updateDelegatedTargets(bytes, 'targets', 'root', file);
  }

  /**
   * Trusts a targets role delegated by `delegatorName` (already trusted): length and hashes from
   * snapshot (5.6.2), signatures by the delegator's keys (5.6.3), version from snapshot (5.6.4),
   * not expired (5.6.5). A role trusted already is reached through reachTargetsRole instead: it is
   * never replaced, since lookups through its other delegators rely on it.
   */
  updateDelegatedTargets(bytes: Uint8Array, roleName: string, delegatorName: string, file = `${roleName}.json`): Metadata<Targets> {
    const snapshot = this.checkFinalSnapshot();
    const delegator = this.delegator(roleName, delegatorName);
    if (this.roles.has(roleName)) throw new UsageError(`role "${roleName}" is already trusted: reach it through reachTargetsRole`);
    const meta = snapshot.signed.meta.get(`${roleName}.json`);
    if (!meta) throw new RoleNotFoundError(`role "${roleName}": snapshot does not list ${roleName}.json`);
    meta.verifyLengthAndHashes(bytes, `role "${roleName}" (${file}), as listed in snapshot`);
    const { metadata: next, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets', roleName);
    delegator.verifyDelegate(roleName, next, signedBytes, describeFile(file, delegatorName));
    if (next.signed.version !== meta.version) {
      throw new BadVersionError(`role "${roleName}" (${file}): snapshot names version ${meta.version}, got ${next.signed.version}`);
    }
    this.checkNotExpired(roleName, file, next.signed);
    this.roles.set(roleName, {
      metadata: next,
      file,
      signedBytes: delegatorName === 'root' ? undefined : signedBytes,
      verifiedBy: new Set([delegatorName]),
    });
    return next;
  }

  /**
   * The trusted role `roleName` as reached through `delegatorName`, or undefined when it is not
   * loaded yet (then updateDelegatedTargets loads it). A role verified against this delegator
   * before is returned as is; one trusted through other delegators only must also be signed by a
   * threshold of this delegator's keys for it (5.6.3), checked over the bytes verified when it was
   * loaded. A failure leaves the role trusted through the delegators it did meet.
   */
  reachTargetsRole(roleName: string, delegatorName: string): Metadata<Targets> | undefined {
    const role = this.roles.get(roleName);
    if (!role) return undefined;
    if (role.verifiedBy.has(delegatorName)) return role.metadata;
    const delegator = this.delegator(roleName, delegatorName);
    // Only the top-level targets keeps no bytes, and no role but root may delegate it (Delegations.fromJSON).
    if (!role.signedBytes) throw new UsageError(`role "${roleName}" can only be delegated by root, not by "${delegatorName}"`);
    delegator.verifyDelegate(roleName, role.metadata, role.signedBytes, describeFile(role.file, delegatorName));
    role.verifiedBy.add(delegatorName);
    return role.metadata;
  }

  /** The trusted root or targets role `delegatorName`, which delegates `roleName`. */
  private delegator(roleName: string, delegatorName: string): Metadata<Root | Targets> {
    const delegator: Metadata<Root | Targets> | undefined = delegatorName === 'root' ? this.trustedRoot : this.roles.get(delegatorName)?.metadata;
    if (!delegator) throw new UsageError(`cannot load role "${roleName}": its delegator "${delegatorName}" is not loaded`);
    return delegator;
  }

  private checkNotExpired(role: string, file: string, signed: Signed): void {
    if (signed.isExpired(this.referenceTime)) {
      throw new ExpiredMetadataError(
        `role "${role}" (${file}, version ${signed.version}): expired at ${formatExpires(signed.expires)}, reference time is ${formatExpires(this.referenceTime)}`,
      );
    }
  }
}

/** A role's file in messages, with the delegator whose keys were checked. */
function describeFile(file: string, delegatorName: string): string {
  return `${file}, delegated by "${delegatorName}"`;
}
