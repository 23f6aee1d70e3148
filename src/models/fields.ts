import { createRequire } from 'node:module';
import type semverCoerce from 'semver/functions/coerce.js';
import { MetadataFormatError } from '../errors.js';

// Reads one JSON object field by field, checking types, and hands back the fields it was not
// asked for so that unknown fields survive a parse -> write round trip.

export type JSONObject = Record<string, unknown>;

const HEX_DIGEST = /^[0-9a-fA-F]+$/;

export class FieldReader {
  // An array, not a Set: a reader is made for every object of a file (100,000 per large targets
  // role) and reads a handful of names.
  private readonly seen: string[] = [];

  constructor(
    readonly role: string,
    readonly path: string,
    private readonly obj: JSONObject,
  ) {}

  static of(value: unknown, role: string, path: string): FieldReader {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new MetadataFormatError(role, path, `expected an object, got ${describe(value)}`);
    }
    return new FieldReader(role, path, value as JSONObject);
  }

  fieldPath(name: string): string {
    return this.path ? `${this.path}.${name}` : name;
  }

  fail(name: string, reason: string): never {
    throw new MetadataFormatError(this.role, this.fieldPath(name), reason);
  }

  has(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.obj, name);
  }

  raw(name: string): unknown {
    this.seen.push(name);
    if (!this.has(name)) this.fail(name, 'required field is missing');
    return this.obj[name];
  }

  optionalRaw(name: string): unknown {
    this.seen.push(name);
    return this.has(name) ? this.obj[name] : undefined;
  }

  string(name: string): string {
    const v = this.raw(name);
    if (typeof v !== 'string') this.fail(name, `expected a string, got ${describe(v)}`);
    return v;
  }

  boolean(name: string): boolean {
    const v = this.raw(name);
    if (typeof v !== 'boolean') this.fail(name, `expected true or false, got ${describe(v)}`);
    return v;
  }

  optionalBoolean(name: string): boolean | undefined {
    return this.has(name) ? this.boolean(name) : (this.seen.push(name), undefined);
  }

  integer(name: string, min: number): number {
    const v = this.raw(name);
    // The field path (a string built per call) is only needed for the error.
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min) return v;
    return checkInteger(v, min, this.role, this.fieldPath(name));
  }

  optionalInteger(name: string, min: number): number | undefined {
    return this.has(name) ? this.integer(name, min) : (this.seen.push(name), undefined);
  }

  object(name: string): FieldReader {
    return FieldReader.of(this.raw(name), this.role, this.fieldPath(name));
  }

  /** A JSON object used as a map (e.g. keyid -> key); values are checked by the caller. */
  map(name: string): [string, unknown][] {
    return Object.entries(this.mapObject(name));
  }

  /** Like map(), as the object itself: no entry arrays for maps of 100,000 targets. */
  mapObject(name: string): JSONObject {
    const v = this.raw(name);
    if (typeof v !== 'object' || v === null || Array.isArray(v)) this.fail(name, `expected an object, got ${describe(v)}`);
    return v as JSONObject;
  }

  array(name: string): unknown[] {
    const v = this.raw(name);
    if (!Array.isArray(v)) this.fail(name, `expected an array, got ${describe(v)}`);
    return v;
  }

  /** An array of distinct strings. */
  stringList(name: string): string[] {
    const list = this.array(name);
    const seen = new Set<string>();
    list.forEach((item, i) => {
      if (typeof item !== 'string') this.fail(`${name}[${i}]`, `expected a string, got ${describe(item)}`);
      if (seen.has(item)) this.fail(`${name}[${i}]`, `"${item}" appears more than once`);
      seen.add(item);
    });
    return list as string[];
  }

  /** A non-empty map of hash algorithm -> hex digest. */
  hashes(name: string): Record<string, string> {
    const obj = this.mapObject(name);
    if (!isHashMap(obj)) {
      const algorithms = Object.keys(obj);
      if (algorithms.length === 0) this.fail(name, 'must name at least one hash');
      for (const alg of algorithms) {
        const digest = obj[alg];
        if (typeof digest !== 'string' || !HEX_DIGEST.test(digest)) {
          this.fail(`${name}.${alg}`, `expected a hex digest, got ${describe(digest)}`);
        }
      }
    }
    return copyHashMap(obj as Record<string, string>);
  }

  /** The `expires` field: exactly YYYY-MM-DDTHH:MM:SSZ, a real calendar date. */
  expires(name: string): Date {
    const s = this.string(name);
    const date = parseExpires(s);
    if (!date) this.fail(name, `"${s}" is not a UTC time of the form YYYY-MM-DDTHH:MM:SSZ`);
    return date;
  }

  /** Fields present in the object that nobody read. */
  unrecognized(): JSONObject {
    const rest: JSONObject = {};
    for (const k of Object.keys(this.obj)) if (!this.seen.includes(k)) rest[k] = this.obj[k];
    return rest;
  }
}

/** Whether FieldReader.hashes accepts `v`: a non-empty object whose members are all hex digests. */
export function isHashMap(v: unknown): v is Record<string, string> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  // for-in rather than Object.keys: no array per call (a large role has 100,000 of these maps).
  let algorithms = 0;
  for (const alg in v) {
    if (!Object.hasOwn(v, alg)) continue;
    const digest = (v as JSONObject)[alg];
    if (typeof digest !== 'string' || !HEX_DIGEST.test(digest)) return false;
    algorithms++;
  }
  return algorithms > 0;
}

/** A copy with the same own members (spread defines them, so even "__proto__" stays a member). */
export function copyHashMap(hashes: Record<string, string>): Record<string, string> {
  return { ...hashes };
}

export function checkInteger(v: unknown, min: number, role: string, path: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new MetadataFormatError(role, path, `expected an integer, got ${describe(v)}`);
  }
  if (!Number.isSafeInteger(v)) throw new MetadataFormatError(role, path, `integer ${v} is beyond 2^53`);
  if (v < min) throw new MetadataFormatError(role, path, `must be at least ${min}, got ${v}`);
  return v;
}

const EXPIRES = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;

export function parseExpires(s: string): Date | undefined {
  const m = EXPIRES.exec(s);
  if (!m) return undefined;
  const [y, mo, d, h, mi, se] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const date = new Date(Date.UTC(y, mo - 1, d, h, mi, se));
  // Date.UTC silently rolls 2030-02-30 over into March: reject anything that does not round-trip.
  if (formatExpires(date) !== s) return undefined;
  return date;
}

export function formatExpires(date: Date): string {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export const SPEC_VERSION = '1.0.34';

const SPEC_MAJOR = Number(SPEC_VERSION.split('.')[0]);

// semver decides every spec_version but the plain "1.MINOR[.PATCH]" (no leading zeros, at most 15
// digits, so below Number.MAX_SAFE_INTEGER) that nearly every file has, to which semver gives major
// 1 (test/foundation/spec-version.test.ts holds this to semver's verdict): loading semver (even
// only its coerce) is a visible share of a fresh client's start-up, so it is loaded only when needed.
const PLAIN = new RegExp(`^${SPEC_MAJOR}\\.(?:0|[1-9]\\d{0,14})(?:\\.(?:0|[1-9]\\d{0,14}))?$`);
let coerce: typeof semverCoerce | undefined;

function semverMajor(s: string): number | undefined {
  coerce ??= createRequire(import.meta.url)('semver/functions/coerce.js') as typeof semverCoerce;
  return coerce(s)?.major;
}

export function checkSpecVersion(s: string, role: string, path: string): string {
  const major = PLAIN.test(s) ? SPEC_MAJOR : /^\d+\.\d+(\.\d+)?$/.test(s) ? semverMajor(s) : undefined;
  if (major === undefined) throw new MetadataFormatError(role, path, `"${s}" is not a version of the form MAJOR.MINOR[.PATCH]`);
  if (major !== SPEC_MAJOR) {
    throw new MetadataFormatError(role, path, `specification version ${s} is not supported (major version must be 1)`);
  }
  return s;
}

export function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return v.length > 40 ? `a string ("${v.slice(0, 37)}...")` : `"${v}"`;
  if (typeof v === 'object') return 'an object';
  if (v === undefined) return 'nothing';
  return `${typeof v} ${String(v)}`;
}
