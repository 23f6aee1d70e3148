import { UsageError } from '../errors.js';

/** Limits and network settings of an Updater. Every field has a default (see DEFAULT_CONFIG). */
export interface UpdaterConfig {
  /** Most new root versions fetched in one refresh (spec 5.3.3, "Y"). */
  maxRootRotations: number;
  /** Most targets roles visited while looking a target up (spec 5.6.7.1). */
  maxDelegations: number;
  /** Byte cap for N.root.json (its length is unknown beforehand). */
  rootMaxLength: number;
  /** Byte cap for timestamp.json. */
  timestampMaxLength: number;
  /** Byte cap for snapshot.json when timestamp does not give its length. */
  snapshotMaxLength: number;
  /** Byte cap for a targets role when snapshot does not give its length. */
  targetsMaxLength: number;
  /** With consistent snapshots, fetch targets as `dir/HASH.name` (spec 5.7.3). */
  prefixTargetsWithHash: boolean;
  /** Time allowed to connect and receive the response headers of one request. */
  requestTimeoutMs: number;
  /** Longest wait for the next body chunk; past it the download fails with SlowRetrievalError. */
  idleTimeoutMs: number;
  /**
   * Slowest average body speed accepted once `idleTimeoutMs` has passed since the body started:
   * a server trickling one byte at a time never trips the idle timeout, but trips this.
   */
  minBytesPerSecond: number;
  /** Extra attempts after a transient failure (connection error, timeout, 5xx but 501). */
  retries: number;
  /** Wait before the first retry; doubled for each next one. */
  retryBackoffMs: number;
  /** How long to wait for another process holding the metadata dir lock. */
  lockTimeoutMs: number;
  /** How far the system clock may be behind the newest time metadata was trusted at. */
  clockRollbackToleranceMs: number;
  /** User-Agent header of the default fetcher. */
  userAgent: string;
  /** A fixed time to verify expiry against (offline verification); disables the clock-rollback check. */
  referenceTime?: Date;
  /** No network at all: refresh and look targets up from the cache alone, still fully verified. */
  offline?: boolean;
  /**
   * Longest time since the last successful refresh from the repository before an offline refresh
   * fails with StaleMetadataError, even while the cached metadata has not expired (see Updater.status).
   */
  maxStalenessMs?: number;
}

export const DEFAULT_CONFIG: Readonly<UpdaterConfig> = Object.freeze({
  maxRootRotations: 256,
  maxDelegations: 32,
  rootMaxLength: 512_000,
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  targetsMaxLength: 5_000_000,
  prefixTargetsWithHash: true,
  requestTimeoutMs: 30_000,
  idleTimeoutMs: 10_000,
  minBytesPerSecond: 1024,
  retries: 2,
  retryBackoffMs: 200,
  lockTimeoutMs: 60_000,
  clockRollbackToleranceMs: 60_000,
  userAgent: 'tufkit',
});

const COUNTS = ['maxRootRotations', 'maxDelegations', 'retries'] as const;
const POSITIVE = [
  'rootMaxLength',
  'timestampMaxLength',
  'snapshotMaxLength',
  'targetsMaxLength',
  'requestTimeoutMs',
  'idleTimeoutMs',
  'retryBackoffMs',
  'lockTimeoutMs',
  'clockRollbackToleranceMs',
  'minBytesPerSecond',
] as const;

/** The defaults overridden by `partial`, checked: a bad limit is a UsageError, not a silent default. */
export function resolveConfig(partial: Partial<UpdaterConfig> = {}): Readonly<UpdaterConfig> {
  const defined = Object.fromEntries(Object.entries(partial).filter(([, v]) => v !== undefined));
  const config: UpdaterConfig = { ...DEFAULT_CONFIG, ...defined };
  for (const name of COUNTS) {
    if (!Number.isSafeInteger(config[name]) || config[name] < 0) {
      throw new UsageError(`config.${name} must be a non-negative integer, got ${String(config[name])}`);
    }
  }
  for (const name of POSITIVE) {
    if (!Number.isFinite(config[name]) || config[name] < 0) {
      throw new UsageError(`config.${name} must be a non-negative number, got ${String(config[name])}`);
    }
  }
  if (config.maxStalenessMs !== undefined && !(Number.isFinite(config.maxStalenessMs) && config.maxStalenessMs >= 0)) {
    throw new UsageError(`config.maxStalenessMs must be a non-negative number, got ${String(config.maxStalenessMs)}`);
  }
  if (config.referenceTime !== undefined && !(config.referenceTime instanceof Date && !Number.isNaN(config.referenceTime.getTime()))) {
    throw new UsageError('config.referenceTime must be a valid Date');
  }
  return Object.freeze(config);
}
