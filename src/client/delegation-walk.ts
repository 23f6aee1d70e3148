import type { TargetFile } from '../models/files.js';
import type { Metadata } from '../models/metadata.js';
import type { Targets } from '../models/targets.js';

/**
 * The trusted `role`, verified through `delegator` (loading it if needed): the metadata at once when it
 * was verified through that delegator already, else a promise.
 */
export type TargetsRoleLoader = (role: string, delegator: string) => Metadata<Targets> | Promise<Metadata<Targets>>;

/**
 * Spec 5.6.7: pre-order depth-first search of the delegations for `targetPath`, with a visited set
 * and at most `maxDelegations` roles. Yields [role, delegator] for each role it reaches and expects
 * that role's trusted metadata back; returns the target's description, or undefined.
 */
export function* delegationWalk(
  targetPath: string,
  maxDelegations: number,
): Generator<[role: string, delegator: string], TargetFile | undefined, Metadata<Targets>> {
  const toVisit: [role: string, delegator: string][] = [['targets', 'root']];
  const visited = new Set<string>();
  let budget = maxDelegations;
  while (budget > 0 && toVisit.length > 0) {
    const [role, delegator] = toVisit.pop()!;
    if (visited.has(role)) continue;
    const md = yield [role, delegator];
    const found = md.signed.getTarget(targetPath);
    if (found) return found;
    visited.add(role);
    budget--;
    const children: [string, string][] = [];
    for (const child of md.signed.delegations?.rolesForTarget(targetPath) ?? []) {
      children.push([child.name, role]);
      if (child.terminating) {
        toVisit.length = 0; // nothing after a terminating delegation is searched
        break;
      }
    }
    toVisit.push(...children.reverse());
  }
  return undefined;
}

/** The lookup of `targetPath` (delegationWalk), each role from `load`: the target and the role listing it, or undefined. */
export async function findThroughDelegations(
  targetPath: string,
  maxDelegations: number,
  load: TargetsRoleLoader,
): Promise<{ target: TargetFile; role: string } | undefined> {
  const walk = delegationWalk(targetPath, maxDelegations);
  let role = '';
  for (let step = walk.next(); ; ) {
    if (step.done) return step.value && { target: step.value, role };
    const [next, delegator] = step.value;
    role = next;
    const md = load(next, delegator);
    step = walk.next(md instanceof Promise ? await md : md);
  }
}
