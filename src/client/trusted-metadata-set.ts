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
  private readonly roles = new Map<string, Metadata<Targets>>();
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
    return this.roles.get('targets');
  }

  /** A verified targets role (top-level or delegated), if already loaded. */
  getTargetsRole(name: string): Metadata<Targets> | undefined {
    return this.roles.get(name);
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
   * not expired (5.6.5).
   */
  updateDelegatedTargets(bytes: Uint8Array, roleName: string, delegatorName: string, file = `${roleName}.json`): Metadata<Targets> {
    const snapshot = this.checkFinalSnapshot();
    const delegator: Metadata<Root | Targets> | undefined = delegatorName === 'root' ? this.trustedRoot : this.roles.get(delegatorName);
    if (!delegator) throw new UsageError(`cannot load role "${roleName}": its delegator "${delegatorName}" is not loaded`);
    const meta = snapshot.signed.meta.get(`${roleName}.json`);
    if (!meta) throw new RoleNotFoundError(`role "${roleName}": snapshot does not list ${roleName}.json`);
    meta.verifyLengthAndHashes(bytes, `role "${roleName}" (${file}), as listed in snapshot`);
    const { metadata: next, signedBytes } = Metadata.fromBytesForVerification(bytes, 'targets', roleName);
    delegator.verifyDelegate(roleName, next, signedBytes, file);
    if (next.signed.version !== meta.version) {
      throw new BadVersionError(`role "${roleName}" (${file}): snapshot names version ${meta.version}, got ${next.signed.version}`);
    }
    this.checkNotExpired(roleName, file, next.signed);
    this.roles.set(roleName, next);
    return next;
  }

  private checkNotExpired(role: string, file: string, signed: Signed): void {
    if (signed.isExpired(this.referenceTime)) {
      throw new ExpiredMetadataError(
        `role "${role}" (${file}, version ${signed.version}): expired at ${formatExpires(signed.expires)}, reference time is ${formatExpires(this.referenceTime)}`,
      );
    }
  }
}
