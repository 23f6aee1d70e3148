import { createHash } from 'node:crypto';
import { MetadataFormatError } from '../errors.js';
import { FieldReader, type JSONObject } from './fields.js';

/** Who may sign a role: a set of keyids and how many of them must sign. */
export class Role {
  constructor(
    public keyids: string[],
    public threshold: number,
    public unrecognized: JSONObject = {},
  ) {}

  static fromJSON(value: unknown, role: string, path: string): Role {
    const r = FieldReader.of(value, role, path);
    return new Role(r.stringList('keyids'), r.integer('threshold', 1), r.unrecognized());
  }

  toJSON(): JSONObject {
    return { ...this.unrecognized, keyids: [...this.keyids], threshold: this.threshold };
  }
}

function sha256Hex(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('hex');
}

const patternCache = new Map<string, RegExp>();

/** One path segment of a delegation pattern as a regular expression, with Python fnmatch's rules. */
function segmentRegExp(segment: string): string {
  let out = '';
  const n = segment.length;
  for (let i = 0; i < n; i++) {
    const c = segment[i]!;
    if (c === '*') out += '[^/]*';
    else if (c === '?') out += '[^/]';
    else if (c === '[') {
      // As fnmatch: a leading "!" negates, and a "]" right after "[" or "[!" is a literal member.
      let j = i + 1;
      if (segment[j] === '!') j++;
      if (segment[j] === ']') j++;
      const close = segment.indexOf(']', j);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      let body = segment.slice(i + 1, close);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      out += (negate ? '[^/' : '[') + body.replace(/[\\\][^]/g, '\\$&') + ']';
      i = close;
    } else out += c.replace(/[.+^${}()|\\\][*?]/g, '\\$&');
  }
  return out;
}

/**
 * Whether `target` matches a delegation `pattern`: the spec's shell-style rules, where `*` never
 * crosses a `/` (pattern and target must have the same number of segments).
 */
export function matchesPathPattern(target: string, pattern: string): boolean {
  let re = patternCache.get(pattern);
  if (!re) {
    try {
      re = new RegExp('^' + pattern.split('/').map(segmentRegExp).join('/') + '$', 's');
    } catch {
      re = /(?!)/; // a pattern that is not a valid class matches nothing
    }
    if (patternCache.size > 10_000) patternCache.clear();
    patternCache.set(pattern, re);
  }
  return re.test(target);
}

/** A role delegated by a targets role, with the target paths it is trusted for. */
export class DelegatedRole extends Role {
  constructor(
    public name: string,
    keyids: string[],
    threshold: number,
    public terminating: boolean,
    public paths?: string[],
    public pathHashPrefixes?: string[],
    unrecognized: JSONObject = {},
  ) {
    super(keyids, threshold, unrecognized);
    if (paths && pathHashPrefixes) throw new MetadataFormatError('', `delegations.roles.${name}`, 'a delegation cannot have both "paths" and "path_hash_prefixes"');
  }

  static override fromJSON(value: unknown, role: string, path: string): DelegatedRole {
    const r = FieldReader.of(value, role, path);
    const name = r.string('name');
    if (name.length === 0) r.fail('name', 'role name must not be empty');
    const keyids = r.stringList('keyids');
    const threshold = r.integer('threshold', 1);
    const terminating = r.boolean('terminating');
    const paths = r.has('paths') ? r.stringList('paths') : (r.optionalRaw('paths'), undefined);
    const prefixes = r.has('path_hash_prefixes') ? r.stringList('path_hash_prefixes') : (r.optionalRaw('path_hash_prefixes'), undefined);
    if (paths && prefixes) r.fail('paths', 'a delegation cannot have both "paths" and "path_hash_prefixes"');
    return new DelegatedRole(name, keyids, threshold, terminating, paths, prefixes, r.unrecognized());
  }

  override toJSON(): JSONObject {
    const out: JSONObject = { ...super.toJSON(), name: this.name, terminating: this.terminating };
    if (this.paths) out.paths = [...this.paths];
    if (this.pathHashPrefixes) out.path_hash_prefixes = [...this.pathHashPrefixes];
    return out;
  }

  /** Whether this role is trusted for `targetPath` (a role with neither list is trusted for none). */
  isDelegatedPath(targetPath: string): boolean {
    if (this.paths) return this.paths.some((p) => matchesPathPattern(targetPath, p));
    if (this.pathHashPrefixes) {
      const h = sha256Hex(targetPath);
      return this.pathHashPrefixes.some((p) => h.startsWith(p));
    }
    return false;
  }
}

/** TAP 15 succinct hash-bin delegation: 2^bitLength bins named `${namePrefix}-${hex}`, one key set. */
export class SuccinctRoles extends Role {
  constructor(
    keyids: string[],
    threshold: number,
    public bitLength: number,
    public namePrefix: string,
    unrecognized: JSONObject = {},
  ) {
    super(keyids, threshold, unrecognized);
  }

  static override fromJSON(value: unknown, role: string, path: string): SuccinctRoles {
    const r = FieldReader.of(value, role, path);
    const keyids = r.stringList('keyids');
    const threshold = r.integer('threshold', 1);
    const bitLength = r.integer('bit_length', 1);
    if (bitLength > 32) r.fail('bit_length', `must be at most 32, got ${bitLength}`);
    const namePrefix = r.string('name_prefix');
    return new SuccinctRoles(keyids, threshold, bitLength, namePrefix, r.unrecognized());
  }

  override toJSON(): JSONObject {
    return { ...super.toJSON(), bit_length: this.bitLength, name_prefix: this.namePrefix };
  }

  get suffixLength(): number {
    return Math.ceil(this.bitLength / 4);
  }

  get numberOfBins(): number {
    return 2 ** this.bitLength;
  }

  binName(index: number): string {
    return `${this.namePrefix}-${index.toString(16).padStart(this.suffixLength, '0')}`;
  }

  /** The bin responsible for `targetPath`: the first bitLength bits of sha256(path). */
  getRoleForTarget(targetPath: string): string {
    const first32 = parseInt(sha256Hex(targetPath).slice(0, 8), 16);
    return this.binName(Math.floor(first32 / 2 ** (32 - this.bitLength)));
  }

  *getRoles(): Generator<string> {
    for (let i = 0; i < this.numberOfBins; i++) yield this.binName(i);
  }

  isDelegatedRole(roleName: string): boolean {
    const prefix = `${this.namePrefix}-`;
    if (!roleName.startsWith(prefix)) return false;
    const suffix = roleName.slice(prefix.length);
    if (suffix.length !== this.suffixLength || !/^[0-9a-f]+$/.test(suffix)) return false;
    return parseInt(suffix, 16) < this.numberOfBins;
  }
}
