import { AmbiguousReleaseError, UsageError } from '../errors.js';
import type { ListedTarget, TargetQuery } from './list-targets.js';

/** Which release findNewestRelease picks among the trusted targets. */
export interface ReleaseQuery extends TargetQuery {
  /** A semver range the version must satisfy (default: any version). */
  range?: string;
  /** Let prerelease versions (1.2.0-beta.1) satisfy the range (default false). */
  includePrerelease?: boolean;
  /**
   * Where the version is read: `custom.version` of the target (default), or the path through this
   * regular expression: its group named `version`, else its first group, else the whole match.
   */
  versionPattern?: RegExp;
  /** Custom fields the target must have with exactly these values (platform, arch, channel...). */
  custom?: Record<string, string | number | boolean>;
}

/** A trusted target and the version read from it (as semver normalises it: "v1.2.3" is "1.2.3"). */
export interface Release {
  version: string;
  target: ListedTarget;
}

/** A candidate whose version could not be read: reported, never guessed. */
export interface UnparsableRelease {
  target: ListedTarget;
  reason: string;
}

export interface ReleaseChoice {
  /** The highest version satisfying the range, or undefined when none does. */
  newest: Release | undefined;
  /** Candidates (matching the paths and custom fields) whose version is missing or not semver. */
  unparsable: UnparsableRelease[];
  /** How many candidates had a valid version, satisfying the range or not. */
  versions: number;
}

// semver's range code is loaded only by callers that choose releases (see src/models/fields.ts).
async function loadSemver(): Promise<{
  parse: typeof import('semver/functions/parse.js');
  compare: typeof import('semver/functions/compare.js');
  satisfies: typeof import('semver/functions/satisfies.js');
  validRange: typeof import('semver/ranges/valid.js');
}> {
  const [parse, compare, satisfies, validRange] = await Promise.all([
    import('semver/functions/parse.js'),
    import('semver/functions/compare.js'),
    import('semver/functions/satisfies.js'),
    import('semver/ranges/valid.js'),
  ]);
  return { parse: parse.default, compare: compare.default, satisfies: satisfies.default, validRange: validRange.default };
}

/**
 * The newest release among `targets` (a listTargets stream): the highest semver version that
 * satisfies `query.range`, among targets whose custom fields match `query.custom`. Holds only the
 * best candidates so far. Fails with AmbiguousReleaseError when several targets carry that version.
 */
export async function chooseNewestRelease(targets: AsyncIterable<ListedTarget>, query: ReleaseQuery): Promise<ReleaseChoice> {
  const semver = await loadSemver();
  const range = query.range ?? '*';
  if (typeof range !== 'string' || semver.validRange(range) === null) throw new UsageError(`release query: "${String(range)}" is not a semver range`);
  const options = { includePrerelease: query.includePrerelease ?? false };
  const unparsable: UnparsableRelease[] = [];
  let best: Release[] = [];
  let versions = 0;
  for await (const target of targets) {
    if (!customMatches(target.info.custom, query.custom)) continue;
    const read = readVersion(target, query.versionPattern);
    const parsed = read.version === undefined ? null : semver.parse(read.version);
    if (!parsed) {
      unparsable.push({ target, reason: read.reason ?? `"${read.version}" is not a semver version` });
      continue;
    }
    versions++;
    if (!semver.satisfies(parsed, range, options)) continue;
    const order = best.length === 0 ? 1 : semver.compare(parsed, best[0]!.version);
    if (order > 0) best = [{ version: parsed.version, target }];
    else if (order === 0) best.push({ version: parsed.version, target });
  }
  if (best.length > 1) {
    const paths = best.map((r) => r.target.path);
    throw new AmbiguousReleaseError(`release ${best[0]!.version} (range "${range}"): ${paths.length} trusted targets carry it: ${paths.join(', ')}`, paths);
  }
  return { newest: best[0], unparsable, versions };
}

function customMatches(custom: unknown, wanted: ReleaseQuery['custom']): boolean {
  if (!wanted) return true;
  if (typeof custom !== 'object' || custom === null) return false;
  return Object.entries(wanted).every(([k, v]) => Object.hasOwn(custom, k) && (custom as Record<string, unknown>)[k] === v);
}

function readVersion(target: ListedTarget, pattern: RegExp | undefined): { version?: string; reason?: string } {
  if (!pattern) {
    const custom = target.info.custom;
    const v = typeof custom === 'object' && custom !== null ? (custom as Record<string, unknown>).version : undefined;
    if (typeof v !== 'string') return { reason: v === undefined ? 'no custom.version' : 'custom.version is not a string' };
    return { version: v };
  }
  const m = pattern.exec(target.path);
  if (!m) return { reason: `the path does not match ${String(pattern)}` };
  return { version: m.groups?.version ?? m[1] ?? m[0] };
}
