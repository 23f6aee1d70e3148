import { FieldReader, type JSONObject } from './fields.js';
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
    for (const [path, v] of r.map('targets')) targets.set(path, TargetFile.fromJSON(path, v, role, `signed.targets.${path}`));
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
