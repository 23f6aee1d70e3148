import { UsageError } from '../errors.js';
import type { TargetFile } from '../models/files.js';
import { matchesPathPattern } from '../models/role.js';
import { findThroughDelegations, type TargetsRoleLoader } from './delegation-walk.js';

/** Which targets listTargets reports: those under `prefix` and/or matching the delegation-style `pattern`. */
export interface TargetQuery {
  /** Target paths starting with this string ("" or absent: every path). */
  prefix?: string;
  /** A shell-style pattern with the delegation rules (`*` and `?` never cross `/`). */
  pattern?: string;
}

/** A trusted target found by listTargets: what getTargetInfo(path) returns, and the role it was found in. */
export interface ListedTarget {
  path: string;
  info: TargetFile;
  role: string;
}

/**
 * Every trusted target matching `query`, role by role, in the delegation search order, without
 * building any list. A path listed by a role is reported only if the lookup of that path
 * (delegationWalk, as getTargetInfo does it: delegated paths all along the chain, terminating
 * delegations, the visit limit, the first role in pre-order wins) finds it in that very role.
 *
 * Roles are reached through their delegators as lookups reach them, each verified through that
 * delegator by `load`. Any role some lookup of a matching path could reach is loaded (a role
 * behind a terminating delegation too, since other paths may still reach it), so a role that does
 * not verify is an error rather than a silently shorter list. Delegations whose paths cannot match
 * the query are not followed.
 */
export async function* listTrustedTargets(query: TargetQuery, maxDelegations: number, load: TargetsRoleLoader): AsyncGenerator<ListedTarget> {
  const matches = queryMatcher(query);
  const mayMatch = delegationFilter(query);
  const toVisit: [role: string, delegator: string][] = [['targets', 'root']];
  const visited = new Set<string>();
  while (toVisit.length > 0) {
    const [role, delegator] = toVisit.pop()!;
    if (visited.has(role)) continue;
    visited.add(role);
    const md = await load(role, delegator);
    for (const path of md.signed.paths()) {
      if (!matches(path) || (await findThroughDelegations(path, maxDelegations, load))?.role !== role) continue;
      yield { path, info: md.signed.getTarget(path)!, role };
    }
    const delegations = md.signed.delegations;
    const children: [string, string][] = [];
    if (delegations?.roles) {
      for (const child of delegations.roles.values()) {
        // Hash-prefix delegations may hold any path.
        if (!child.paths || child.paths.some(mayMatch)) children.push([child.name, role]);
      }
    } else if (delegations?.succinctRoles) {
      for (const bin of delegations.succinctRoles.getRoles()) children.push([bin, role]);
    }
    toVisit.push(...children.reverse());
  }
}

function queryMatcher(query: TargetQuery): (path: string) => boolean {
  const { prefix, pattern } = query;
  if (prefix !== undefined && typeof prefix !== 'string') throw new UsageError('listTargets: prefix must be a string');
  if (pattern !== undefined && typeof pattern !== 'string') throw new UsageError('listTargets: pattern must be a string');
  return (path) => (!prefix || path.startsWith(prefix)) && (pattern === undefined || matchesPathPattern(path, pattern));
}

/**
 * Whether a delegation pattern may match some path the query matches: the paths a pattern matches
 * start with its literal start and have its number of segments (`*` never crosses `/`).
 */
function delegationFilter(query: TargetQuery): (delegated: string) => boolean {
  const starts = [query.prefix ?? '', literalPrefix(query.pattern ?? '')];
  const minSegments = segments(query.prefix ?? '');
  const exactSegments = query.pattern === undefined ? undefined : segments(query.pattern);
  return (delegated) => {
    const n = segments(delegated);
    if (n < minSegments || (exactSegments !== undefined && n !== exactSegments)) return false;
    const start = literalPrefix(delegated);
    return starts.every((s) => compatible(start, s));
  };
}

function segments(pattern: string): number {
  return pattern.split('/').length;
}

/** The start of `pattern` before its first wildcard: every path it matches starts with it. */
function literalPrefix(pattern: string): string {
  const i = pattern.search(/[*?[]/);
  return i < 0 ? pattern : pattern.slice(0, i);
}

/** Whether some string can start with both `a` and `b`. */
function compatible(a: string, b: string): boolean {
  return a.startsWith(b) || b.startsWith(a);
}
