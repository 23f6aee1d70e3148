import { FieldReader, type JSONObject } from './fields.js';
import { MetaFile } from './files.js';
import { Signed, type SignedFields } from './signed.js';

/** The snapshot role: the version (and optionally length and hashes) of every targets role. */
export class Snapshot extends Signed {
  readonly type = 'snapshot' as const;
  /** Keyed by file name, e.g. "targets.json", "bins-0a.json". */
  meta: Map<string, MetaFile>;

  constructor(fields: Partial<SignedFields> & { meta?: Map<string, MetaFile> } = {}) {
    super(fields);
    this.meta = fields.meta ?? new Map([['targets.json', new MetaFile(1)]]);
  }

  static fromJSON(value: unknown, role = 'snapshot'): Snapshot {
    const r = FieldReader.of(value, role, 'signed');
    const common = Signed.readCommon(r, 'snapshot');
    const meta = new Map<string, MetaFile>();
    for (const [name, v] of r.map('meta')) meta.set(name, MetaFile.fromJSON(v, role, `signed.meta.${name}`));
    return new Snapshot({ ...common, meta, unrecognized: r.unrecognized() });
  }

  toJSON(): JSONObject {
    const meta: JSONObject = {};
    for (const [name, file] of this.meta) meta[name] = file.toJSON();
    return { ...this.commonJSON(), meta };
  }
}
