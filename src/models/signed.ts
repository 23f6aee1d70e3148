import { checkSpecVersion, FieldReader, formatExpires, SPEC_VERSION, type JSONObject } from './fields.js';

export type RoleType = 'root' | 'timestamp' | 'snapshot' | 'targets';

export interface SignedFields {
  version: number;
  specVersion: string;
  expires: Date;
  unrecognized: JSONObject;
}

/** What every role's `signed` part has: type, version, spec version, expiry. */
export abstract class Signed {
  abstract readonly type: RoleType;
  version: number;
  specVersion: string;
  expires: Date;
  unrecognized: JSONObject;

  constructor(fields: Partial<SignedFields> = {}) {
    this.version = fields.version ?? 1;
    this.specVersion = fields.specVersion ?? SPEC_VERSION;
    this.expires = fields.expires ?? new Date(Date.now() + 365 * 86400_000);
    this.unrecognized = fields.unrecognized ?? {};
    this.expires.setUTCMilliseconds(0);
  }

  /** Reads the common fields; `r.unrecognized()` must be taken after the subclass read its own. */
  protected static readCommon(r: FieldReader, type: RoleType): Omit<SignedFields, 'unrecognized'> {
    const t = r.string('_type');
    if (t !== type) r.fail('_type', `expected "${type}", got "${t}"`);
    return {
      version: r.integer('version', 1),
      specVersion: checkSpecVersion(r.string('spec_version'), r.role, r.fieldPath('spec_version')),
      expires: r.expires('expires'),
    };
  }

  protected commonJSON(): JSONObject {
    return {
      ...this.unrecognized,
      _type: this.type,
      version: this.version,
      spec_version: this.specVersion,
      expires: formatExpires(this.expires),
    };
  }

  isExpired(referenceTime: Date): boolean {
    return referenceTime.getTime() >= this.expires.getTime();
  }

  abstract toJSON(): JSONObject;
}
