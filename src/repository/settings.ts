import { MetadataFormatError, UsageError } from '../errors.js';
import { HASH_ALGORITHMS } from '../crypto/hash.js';
import { parseStrictJSON } from '../crypto/json.js';
import { checkInteger, FieldReader } from '../models/fields.js';

/** How long each kind of role stays valid after a new version is started (seconds). */
export interface ExpiryPeriods {
  root: number;
  targets: number;
  snapshot: number;
  timestamp: number;
  /** Every delegated targets role (hash bins included). */
  delegated: number;
}

/** The repository's own settings (DIR/tufkit-repo.json): what is not in any role's metadata. */
export interface RepoSettings {
  expiry: ExpiryPeriods;
  /** Hash algorithms listed for every target; the first also names the stored blobs. */
  targetHashes: string[];
  /** Whether snapshot lists the length and hashes of every targets role (timestamp always does for snapshot). */
  snapshotHashes: boolean;
  /**
   * Last version of every delegated role that was removed: delegating the name again starts above
   * it, so a client that still trusts the old role never sees its version go back; snapshot lists
   * the name at that version while it is not delegated (the entry stays when it is again).
   */
  retiredVersions: Record<string, number>;
}

export const DEFAULT_EXPIRY: ExpiryPeriods = {
  root: 365 * 86400,
  targets: 90 * 86400,
  snapshot: 7 * 86400,
  timestamp: 86400,
  delegated: 90 * 86400,
};

const FORMAT = 1;
const EXPIRY_KINDS = ['root', 'targets', 'snapshot', 'timestamp', 'delegated'] as const;

/** Hash algorithms a target may be listed with (those every TUF client verifies). */
export const TARGET_HASH_ALGORITHMS: readonly string[] = HASH_ALGORITHMS;

export function checkTargetHashes(algorithms: string[]): string[] {
  if (algorithms.length === 0) throw new UsageError('at least one target hash algorithm is needed');
  for (const a of algorithms) {
    if (!TARGET_HASH_ALGORITHMS.includes(a)) {
      throw new UsageError(`hash algorithm "${a}" is not supported for targets (use ${TARGET_HASH_ALGORITHMS.join(', ')})`);
    }
  }
  if (new Set(algorithms).size !== algorithms.length) throw new UsageError('a target hash algorithm is listed twice');
  return algorithms;
}

export function settingsToBytes(s: RepoSettings): Uint8Array {
  const json = {
    format: FORMAT,
    expiry_seconds: { ...s.expiry },
    target_hashes: s.targetHashes,
    snapshot_hashes: s.snapshotHashes,
    retired_role_versions: s.retiredVersions,
  };
  return Buffer.from(JSON.stringify(json, null, 2) + '\n');
}

/** The settings in `bytes`, read from `file` (which every format error names). */
export function settingsFromBytes(bytes: Uint8Array, file: string): RepoSettings {
  try {
    return parseSettings(bytes);
  } catch (e) {
    throw e instanceof MetadataFormatError ? e.inFile(file) : e;
  }
}

function parseSettings(bytes: Uint8Array): RepoSettings {
  // Role '': the settings file is no role, and the errors name the file instead.
  const r = FieldReader.of(parseStrictJSON(bytes), '', '');
  const format = r.integer('format', 1);
  if (format !== FORMAT) r.fail('format', `format ${format} is not supported by this tufkit (expected ${FORMAT})`);
  const e = r.object('expiry_seconds');
  const expiry = Object.fromEntries(EXPIRY_KINDS.map((k) => [k, e.integer(k, 1)])) as unknown as ExpiryPeriods;
  const targetHashes = r.stringList('target_hashes');
  try {
    checkTargetHashes(targetHashes);
  } catch (err) {
    throw new MetadataFormatError('', 'target_hashes', (err as Error).message);
  }
  const retiredVersions: Record<string, number> = {};
  for (const [name, v] of r.map('retired_role_versions')) retiredVersions[name] = checkInteger(v, 1, '', `retired_role_versions.${name}`);
  return { expiry, targetHashes, snapshotHashes: r.boolean('snapshot_hashes'), retiredVersions };
}
