import { FieldReader, type JSONObject } from './fields.js';
import { MetaFile } from './files.js';
import { Signed, type SignedFields } from './signed.js';

/** The timestamp role: names the current snapshot. */
export class Timestamp extends Signed {
  readonly type = 'timestamp' as const;
  snapshotMeta: MetaFile;

  constructor(fields: Partial<SignedFields> & { snapshotMeta?: MetaFile } = {}) {
    super(fields);
    this.snapshotMeta = fields.snapshotMeta ?? new MetaFile(1);
  }

  static fromJSON(value: unknown, role = 'timestamp'): Timestamp {
    const r = FieldReader.of(value, role, 'signed');
    const common = Signed.readCommon(r, 'timestamp');
    const meta = r.map('meta');
    if (meta.length !== 1 || meta[0]![0] !== 'snapshot.json') {
      r.fail('meta', 'must list exactly one file, "snapshot.json"');
    }
    const snapshotMeta = MetaFile.fromJSON(meta[0]![1], role, 'signed.meta.snapshot.json');
    return new Timestamp({ ...common, snapshotMeta, unrecognized: r.unrecognized() });
  }

  toJSON(): JSONObject {
    return { ...this.commonJSON(), meta: { 'snapshot.json': this.snapshotMeta.toJSON() } };
  }
}
