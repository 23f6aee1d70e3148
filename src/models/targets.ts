import { copyHashMap, FieldReader, isHashMap, type JSONObject } from './fields.js';
import { TargetFile } from './files.js';
import { Delegations } from './delegations.js';
import { Signed, type SignedFields } from './signed.js';
import { TargetsIndex } from './targets-index.js';

/** A targets role (top-level or delegated): target files and optional delegations. */
export class Targets extends Signed {
  readonly type = 'targets' as const;
  delegations: Delegations | undefined;
  /**
   * Entries read by fromJSON, all checked, whose TargetFile objects are not built yet: a client
   * reads a role of 100,000 targets to look up a few (see getTarget). Built on first use of `targets`.
   */
  #unbuilt: Unbuilt | TargetsIndex | undefined;
  #targets: Map<string, TargetFile>;

  constructor(fields: Partial<SignedFields> & { targets?: Map<string, TargetFile>; delegations?: Delegations } = {}) {
    super(fields);
    this.#targets = fields.targets ?? new Map();
    this.delegations = fields.delegations;
  }

  /** Target path -> file, in the order of the file it was read from. */
  get targets(): Map<string, TargetFile> {
    const unbuilt = this.#unbuilt;
    if (unbuilt instanceof TargetsIndex) {
      this.#targets = new Map(unbuilt.entries());
      this.#unbuilt = undefined;
    } else if (unbuilt) {
      const built = new Map<string, TargetFile>();
      for (const path in unbuilt.entries) {
        if (Object.hasOwn(unbuilt.entries, path)) built.set(path, fileOf(unbuilt, path));
      }
      this.#targets = built;
      this.#unbuilt = undefined;
    }
    return this.#targets;
  }

  set targets(targets: Map<string, TargetFile>) {
    this.#targets = targets;
    this.#unbuilt = undefined;
  }

  /** The file listed for `path`, without building the whole `targets` map. */
  getTarget(path: string): TargetFile | undefined {
    const unbuilt = this.#unbuilt;
    if (!unbuilt) return this.#targets.get(path);
    if (unbuilt instanceof TargetsIndex) return unbuilt.get(path);
    if (!Object.hasOwn(unbuilt.entries, path)) return undefined;
    return fileOf(unbuilt, path);
  }

  /** Every listed file in file order, without building the `targets` map (publish walks 100,000 once). */
  *files(): Generator<TargetFile> {
    const unbuilt = this.#unbuilt;
    if (!unbuilt) {
      yield* [...this.#targets.values()];
      return;
    }
    if (unbuilt instanceof TargetsIndex) {
      yield* unbuilt.files();
      return;
    }
    for (const path in unbuilt.entries) if (Object.hasOwn(unbuilt.entries, path)) yield fileOf(unbuilt, path);
  }

  /** The listed paths in file order, without building the `targets` map (listings of large roles). */
  *paths(): Generator<string> {
    const unbuilt = this.#unbuilt;
    if (!unbuilt) {
      yield* [...this.#targets.keys()];
      return;
    }
    if (unbuilt instanceof TargetsIndex) {
      yield* unbuilt.paths();
      return;
    }
    for (const path in unbuilt.entries) if (Object.hasOwn(unbuilt.entries, path)) yield path;
  }

  /**
   * Reads and checks a targets role. The usual target entries ({"length", "hashes"}) are checked
   * here but kept as read, so `value` must not be changed afterwards.
   */
  static fromJSON(value: unknown, role = 'targets'): Targets {
    const r = FieldReader.of(value, role, 'signed');
    const common = Signed.readCommon(r, 'targets');
    const entries = r.mapObject('targets');
    const irregular = new Map<string, TargetFile>();
    // for-in walks a 100,000-member object faster than Object.keys; own members only, as Object.keys.
    for (const path in entries) {
      if (!Object.hasOwn(entries, path)) continue;
      const v = entries[path];
      if (!isRegularEntry(v)) irregular.set(path, TargetFile.fromJSON(path, v, role, `signed.targets.${path}`));
    }
    const delegations = r.has('delegations')
      ? Delegations.fromJSON(r.raw('delegations'), role, 'signed.delegations')
      : (r.optionalRaw('delegations'), undefined);
    const targets = new Targets({ ...common, delegations, unrecognized: r.unrecognized() });
    targets.#unbuilt = { entries, irregular };
    return targets;
  }

  /**
   * @internal The entries of a role read with an empty `targets` object in place of its indexed
   * canonical text (Metadata.fromBytesForVerification).
   */
  static withIndex(targets: Targets, index: TargetsIndex): void {
    if (!targets.paths().next().done) throw new Error('withIndex: the role already lists targets');
    targets.#unbuilt = index;
  }

  toJSON(): JSONObject {
    const targets: JSONObject = {};
    for (const [path, file] of this.targets) targets[path] = file.toJSON();
    const out: JSONObject = { ...this.commonJSON(), targets };
    if (this.delegations) out.delegations = this.delegations.toJSON();
    return out;
  }
}

/**
 * The usual target entry: exactly {"length", "hashes"}, both valid, as TargetFile.fromJSON would
 * accept them. Checked without building anything; any other entry goes through TargetFile.fromJSON,
 * which also names what is wrong.
 */
function isRegularEntry(value: unknown): value is { length: number; hashes: Record<string, string> } {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const entry = value as JSONObject;
  let members = 0;
  for (const k in entry) if (Object.hasOwn(entry, k)) members++;
  if (members !== 2 || !Object.hasOwn(entry, 'length') || !Object.hasOwn(entry, 'hashes')) return false;
  const { length, hashes } = entry;
  return typeof length === 'number' && Number.isSafeInteger(length) && length >= 0 && isHashMap(hashes);
}

interface Unbuilt {
  /** The role's `targets` object as read, every entry checked. */
  entries: JSONObject;
  /** Entries other than exactly {"length", "hashes"}, built while reading (TargetFile.fromJSON). */
  irregular: Map<string, TargetFile>;
}

/** The TargetFile of a listed `path`. */
function fileOf(unbuilt: Unbuilt, path: string): TargetFile {
  const built = unbuilt.irregular.get(path);
  if (built) return built;
  const { length, hashes } = unbuilt.entries[path] as { length: number; hashes: Record<string, string> };
  return new TargetFile(path, length, copyHashMap(hashes), {});
}
