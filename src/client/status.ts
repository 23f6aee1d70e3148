import { StaleMetadataError } from '../errors.js';
import { formatExpires } from '../models/fields.js';
import type { Signed } from '../models/signed.js';
import type { MetadataStore } from './metadata-store.js';
import { readNewestTrustedTime } from './trusted-time.js';
import { TrustedMetadataSet } from './trusted-metadata-set.js';
import type { UpdaterConfig } from './config.js';

import type { TopLevelRole } from '../models/root.js';

/** What the metadata dir trusts, from the cache alone (Updater.status). */
export interface UpdaterStatus {
  /** When the last refresh from the repository succeeded (recorded in the metadata dir), if ever. */
  lastRefresh: Date | undefined;
  /** The trusted version and expiry of each top-level role; undefined for a role not cached yet. */
  roles: Record<TopLevelRole, { version: number; expires: Date } | undefined>;
  /** The role that expires first, and when. */
  earliestExpiry: { role: TopLevelRole; expires: Date };
  /** Whether some cached role has expired at `checkedAt`. */
  expired: boolean;
  /** Whether the last refresh is older than config.maxStalenessMs (false when that is not set). */
  stale: boolean;
  /** The time the status was computed for (config.referenceTime, or the clock). */
  checkedAt: Date;
}

/**
 * The status of the cached top-level metadata. The cache is verified as a chain (root, timestamp,
 * snapshot, targets) by TrustedMetadataSet at the time of the last successful refresh, the time at
 * which that refresh trusted it (at the epoch when none is recorded: signatures, hashes and
 * versions are checked, expiry is not); expiry is then compared with `now` and reported, not thrown.
 */
export async function cacheStatus(store: MetadataStore, config: Readonly<UpdaterConfig>, now: Date, missingRoot: () => Error): Promise<UpdaterStatus> {
  const lastRefresh = await readNewestTrustedTime(store.dir);
  const rootBytes = await store.read('root', config.rootMaxLength);
  if (!rootBytes) throw missingRoot();
  const set = new TrustedMetadataSet(rootBytes, lastRefresh ?? new Date(0));
  const roles: UpdaterStatus['roles'] = { root: describe(set.root.signed), timestamp: undefined, snapshot: undefined, targets: undefined };
  const timestamp = await store.read('timestamp', config.timestampMaxLength);
  if (timestamp) {
    roles.timestamp = describe(set.updateTimestamp(timestamp).signed);
    const snapshot = await store.read('snapshot', set.timestamp!.signed.snapshotMeta.length ?? config.snapshotMaxLength);
    if (snapshot) {
      roles.snapshot = describe(set.updateSnapshot(snapshot).signed);
      const meta = set.snapshot!.signed.meta.get('targets.json');
      const targets = await store.read('targets', meta?.length ?? config.targetsMaxLength);
      if (targets) roles.targets = describe(set.updateTargets(targets).signed);
    }
  }
  let earliest: UpdaterStatus['earliestExpiry'] = { role: 'root', expires: roles.root!.expires };
  for (const role of ['timestamp', 'snapshot', 'targets'] as const) {
    const r = roles[role];
    if (r && r.expires.getTime() < earliest.expires.getTime()) earliest = { role, expires: r.expires };
  }
  return {
    lastRefresh,
    roles,
    earliestExpiry: earliest,
    expired: now.getTime() >= earliest.expires.getTime(),
    stale: staleness(lastRefresh, config, now) !== undefined,
    checkedAt: now,
  };
}

function describe(signed: Signed): { version: number; expires: Date } {
  return { version: signed.version, expires: signed.expires };
}

/** Why the metadata is stale (config.maxStalenessMs), or undefined when it is not. */
function staleness(lastRefresh: Date | undefined, config: Readonly<UpdaterConfig>, now: Date): string | undefined {
  const max = config.maxStalenessMs;
  if (max === undefined) return undefined;
  if (!lastRefresh) return 'no refresh from the repository has succeeded yet';
  const age = now.getTime() - lastRefresh.getTime();
  if (age <= max) return undefined;
  return `the last successful refresh was at ${formatExpires(lastRefresh)}, ${Math.round(age / 1000)} s before ${formatExpires(now)}, more than maxStalenessMs (${max} ms)`;
}

/** Throws StaleMetadataError when config.maxStalenessMs is set and the last successful refresh is older. */
export async function checkNotStale(dir: string, config: Readonly<UpdaterConfig>, now: Date): Promise<void> {
  if (config.maxStalenessMs === undefined) return;
  const lastRefresh = await readNewestTrustedTime(dir);
  const why = staleness(lastRefresh, config, now);
  if (why) throw new StaleMetadataError(`metadata in ${dir} is stale: ${why}`, lastRefresh);
}
