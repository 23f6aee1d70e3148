import { MetadataFormatError } from '../errors.js';
import { FieldReader, type JSONObject } from './fields.js';
import { Key, keysToJSON, readKeys } from './key.js';
import { Role } from './role.js';
import { Signed, type SignedFields } from './signed.js';

export const TOP_LEVEL_ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
export type TopLevelRole = (typeof TOP_LEVEL_ROLES)[number];

/** The root role: the keys and thresholds of the four top-level roles. */
export class Root extends Signed {
  readonly type = 'root' as const;
  keys: Map<string, Key>;
  roles: Map<TopLevelRole, Role>;
  consistentSnapshot: boolean | undefined;

  constructor(
    fields: Partial<SignedFields> & { keys?: Map<string, Key>; roles?: Map<TopLevelRole, Role>; consistentSnapshot?: boolean } = {},
  ) {
    super(fields);
    this.keys = fields.keys ?? new Map();
    this.roles = fields.roles ?? new Map(TOP_LEVEL_ROLES.map((r) => [r, new Role([], 1)]));
    this.consistentSnapshot = 'consistentSnapshot' in fields ? fields.consistentSnapshot : true;
  }

  static fromJSON(value: unknown, role = 'root'): Root {
    const r = FieldReader.of(value, role, 'signed');
    const common = Signed.readCommon(r, 'root');
    const consistentSnapshot = r.optionalBoolean('consistent_snapshot');
    const keys = readKeys(r.map('keys'), role, r.fieldPath('keys'));
    const roleEntries = r.map('roles');
    const names = roleEntries.map(([n]) => n).sort();
    if (names.join() !== [...TOP_LEVEL_ROLES].sort().join()) {
      r.fail('roles', `must list exactly root, timestamp, snapshot and targets, got ${names.join(', ') || 'none'}`);
    }
    const roles = new Map<TopLevelRole, Role>();
    for (const [name, v] of roleEntries) roles.set(name as TopLevelRole, Role.fromJSON(v, role, `${r.fieldPath('roles')}.${name}`));
    return new Root({ ...common, keys, roles, consistentSnapshot, unrecognized: r.unrecognized() });
  }

  toJSON(): JSONObject {
    const roles: JSONObject = {};
    for (const [name, role] of this.roles) roles[name] = role.toJSON();
    const out: JSONObject = { ...this.commonJSON(), keys: keysToJSON(this.keys), roles };
    if (this.consistentSnapshot !== undefined) out.consistent_snapshot = this.consistentSnapshot;
    return out;
  }

  getRole(name: TopLevelRole): Role {
    const role = this.roles.get(name);
    if (!role) throw new MetadataFormatError('root', `signed.roles.${name}`, 'role is missing');
    return role;
  }

  /** Authorises `key` for a top-level role (adding it to `keys`). */
  addKey(key: Key, role: TopLevelRole): void {
    const r = this.getRole(role);
    if (!r.keyids.includes(key.keyid)) r.keyids.push(key.keyid);
    this.keys.set(key.keyid, key);
  }

  /** Removes `keyid` from a top-level role, and from `keys` when no other role uses it. */
  revokeKey(keyid: string, role: TopLevelRole): void {
    const r = this.getRole(role);
    r.keyids = r.keyids.filter((k) => k !== keyid);
    if (![...this.roles.values()].some((x) => x.keyids.includes(keyid))) this.keys.delete(keyid);
  }
}
