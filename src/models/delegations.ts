import { MetadataFormatError } from '../errors.js';
import { FieldReader, type JSONObject } from './fields.js';
import { Key, keysToJSON, readKeys } from './key.js';
import { DelegatedRole, SuccinctRoles, type Role } from './role.js';
import { TOP_LEVEL_ROLES } from './root.js';

/** The delegations of a targets role: keys, and either named roles or succinct hash bins. */
export class Delegations {
  constructor(
    public keys: Map<string, Key>,
    /** Named roles in priority order (name -> role; Map keeps insertion order). */
    public roles?: Map<string, DelegatedRole>,
    public succinctRoles?: SuccinctRoles,
    public unrecognized: JSONObject = {},
  ) {
    if (roles && succinctRoles) throw new MetadataFormatError('', 'delegations', 'cannot have both "roles" and "succinct_roles"');
  }

  static fromJSON(value: unknown, role: string, path: string): Delegations {
    const r = FieldReader.of(value, role, path);
    const keys = readKeys(r.map('keys'), role, r.fieldPath('keys'));
    let roles: Map<string, DelegatedRole> | undefined;
    let succinct: SuccinctRoles | undefined;
    if (r.has('roles')) {
      roles = new Map();
      r.array('roles').forEach((v, i) => {
        const d = DelegatedRole.fromJSON(v, role, `${r.fieldPath('roles')}[${i}]`);
        if (roles!.has(d.name)) r.fail(`roles[${i}].name`, `role "${d.name}" is delegated more than once`);
        if ((TOP_LEVEL_ROLES as readonly string[]).includes(d.name)) r.fail(`roles[${i}].name`, `"${d.name}" is a top-level role name`);
        roles!.set(d.name, d);
      });
    }
    if (r.has('succinct_roles')) {
      if (roles) r.fail('succinct_roles', 'cannot have both "roles" and "succinct_roles"');
      succinct = SuccinctRoles.fromJSON(r.raw('succinct_roles'), role, r.fieldPath('succinct_roles'));
    }
    if (!roles && !succinct) r.fail('roles', 'one of "roles" and "succinct_roles" is required');
    return new Delegations(keys, roles, succinct, r.unrecognized());
  }

  toJSON(): JSONObject {
    const out: JSONObject = { ...this.unrecognized, keys: keysToJSON(this.keys) };
    if (this.roles) out.roles = [...this.roles.values()].map((d) => d.toJSON());
    if (this.succinctRoles) out.succinct_roles = this.succinctRoles.toJSON();
    return out;
  }

  /** The role that may sign `name`, if this delegates it. */
  getRole(name: string): Role | undefined {
    if (this.roles) return this.roles.get(name);
    if (this.succinctRoles?.isDelegatedRole(name)) return this.succinctRoles;
    return undefined;
  }

  /**
   * The roles trusted for `targetPath`, in priority order, each with its `terminating` flag
   * (succinct bins count as terminating, as TAP 15 says: exactly one bin can hold a path).
   */
  *rolesForTarget(targetPath: string): Generator<{ name: string; terminating: boolean }> {
    if (this.roles) {
      for (const role of this.roles.values()) {
        if (role.isDelegatedPath(targetPath)) yield { name: role.name, terminating: role.terminating };
      }
    } else if (this.succinctRoles) {
      yield { name: this.succinctRoles.getRoleForTarget(targetPath), terminating: true };
    }
  }
}
