import { copyHashMap, FieldReader, isHashMap, type JSONObject } from './fields.js';
import { TargetFile } from './files.js';
import { Delegations } from './delegations.js';
import { Signed, type SignedFields } from './signed.js';

/** A targets role (top-level or delegated): target files and optional delegations. */
export class Targets extends Signed {
  readonly type = 'targets' as const;
  targets: Map<string, TargetFile>;
  delegations: Delegations | undefined;

  constructor(fields: Partial<SignedFields> & { targets?: Map<string, TargetFile>; delegations?: Delegations } = {}) {
    super(fields);
    this.targets = fields.targets ?? new Map();
    this.delegations = fields.delegations;
  }

  static fromJSON(value: unknown, role = 'targets'): Targets {
    const r = FieldReader.of(value, role, 'signed');
    const common = Signed.readCommon(r, 'targets');
    const targets = new Map<string, TargetFile>();
    const entries = r.mapObject('targets');
    for (const path of Object.keys(entries)) {
      const v = entries[path];
      targets.set(path, plainTargetFile(path, v) ?? TargetFile.fromJSON(path, v, role, `signed.targets.${path}`));
    }
    const delegations = r.has('delegations')
      ? Delegations.fromJSON(r.raw('delegations'), role, 'signed.delegations')
      : (r.optionalRaw('delegations'), undefined);
    return new Targets({ ...common, targets, delegations, unrecognized: r.unrecognized() });
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
 * The usual target entry, exactly {"length", "hashes"} and valid, read the way TargetFile.fromJSON
 * reads it but without a FieldReader per entry (a large role has 100,000 of them). Anything else
 * is left to TargetFile.fromJSON, which also names what is wrong.
 */
function plainTargetFile(path: string, value: unknown): TargetFile | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const entry = value as JSONObject;
  if (Object.keys(entry).length !== 2 || !Object.hasOwn(entry, 'length') || !Object.hasOwn(entry, 'hashes')) return undefined;
  const { length, hashes } = entry;
  if (typeof length !== 'number' || !Number.isSafeInteger(length) || length < 0 || !isHashMap(hashes)) return undefined;
  return new TargetFile(path, length, copyHashMap(hashes), {});
}
