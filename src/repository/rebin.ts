import { RepositoryError, RoleNotFoundError, UsageError } from '../errors.js';
import { Metadata } from '../models/metadata.js';
import { SuccinctRoles } from '../models/role.js';
import { Targets } from '../models/targets.js';
import type { EditRound } from './edit-round.js';
import { checkDelegatedRoleName, checkDistinctFiles } from './layout.js';
import type { RoleStore } from './role-store.js';

/** What a re-binning did. */
export interface RebinResult {
  from: string;
  prefix: string;
  /** Number of bins before and after. */
  oldBins: number;
  newBins: number;
  /** The new bins, in order. */
  created: string[];
  /** The old bins: removed, listed in snapshot at their last version from now on. */
  retired: string[];
  /** Targets moved from the old bins to the new ones. */
  moved: number;
}

/**
 * Re-bins the succinct hash-bin delegation of targets role `from` whose bins are named
 * `prefix-…` into 2^`bitLength` bins, within `round`: the delegator's bit_length changes, the new
 * bins get the old ones' keys and threshold, every target moves (unchanged) to its new bin, and
 * the old bins are removed (retired: snapshot keeps listing them, see Repository.updateSnapshot).
 */
export async function rebinSuccinct(round: EditRound, store: RoleStore, from: string, prefix: string, bitLength: number): Promise<RebinResult> {
  const parent = await round.editTargets(from);
  const d = parent.signed.delegations;
  const old = d?.succinctRoles;
  if (!d || !old || old.namePrefix !== prefix) {
    const has = old ? ` (its bins are named "${old.namePrefix}-…")` : '';
    throw new RoleNotFoundError(`role "${from}" does not delegate to hash bins named "${prefix}-…"${has}`);
  }
  const next = new SuccinctRoles([...old.keyids], old.threshold, bitLength, prefix, structuredClone(old.unrecognized));
  if (next.numberOfBins === old.numberOfBins) throw new UsageError(`role "${from}" delegates to ${old.numberOfBins} hash bins "${prefix}-…" already`);
  if (next.suffixLength === old.suffixLength) {
    // Same names with other contents would let a client mix an old bin file with the new
    // delegation (and a crash half-way leave files of both in one place).
    const digits = old.suffixLength;
    const options = [digits > 1 ? `at most ${2 ** (4 * (digits - 1))}` : '', `at least ${2 ** (4 * digits + 1)}`].filter(Boolean).join(' or ');
    throw new UsageError(
      `${next.numberOfBins} hash bins would be named ${next.binName(0)} … ${next.binName(next.numberOfBins - 1)}, like the current ${old.numberOfBins} (${old.binName(0)} … ${old.binName(old.numberOfBins - 1)}): choose ${options} bins, whose names have another number of hex digits`,
    );
  }
  checkDelegatedRoleName(next.binName(0));

  const oldNames = [...old.getRoles()];
  const retiring = new Set(oldNames);
  const tree = await store.tree();
  for (const node of tree) {
    if (node.parent !== undefined && retiring.has(node.parent)) {
      throw new UsageError(`hash bin "${node.parent}" delegates to "${node.name}": only bins that list targets themselves can be re-binned`);
    }
  }
  const others = tree.map((n) => n.name).filter((n) => !retiring.has(n));
  const created = [...next.getRoles()];
  const taken = new Set(others);
  for (const name of created) if (taken.has(name)) throw new UsageError(`role "${name}" exists already: the new hash bins cannot take its name`);
  checkDistinctFiles(
    [...others, ...created].map((n) => ({ file: `${n}.json`, label: `role "${n}"` })),
    'the new hash bins cannot be named like another role, ignoring case',
  );

  const bins = new Map<string, Metadata<Targets>>();
  for (const name of created) {
    const md = new Metadata(new Targets());
    round.create(name, md);
    bins.set(name, md);
  }
  let moved = 0;
  for (const name of oldNames) {
    for (const [path, tf] of (await store.targets(name)).signed.targets) {
      // Clients never looked for it there: moving it would start trusting it.
      if (old.getRoleForTarget(path) !== name) throw new RepositoryError(`target "${path}" is listed by hash bin "${name}", which is not its bin: remove it before re-binning`);
      bins.get(next.getRoleForTarget(path))!.signed.targets.set(path, tf);
      moved++;
    }
  }
  for (const name of oldNames) await round.delete(name);
  d.succinctRoles = next;
  return { from, prefix, oldBins: old.numberOfBins, newBins: next.numberOfBins, created, retired: oldNames, moved };
}
