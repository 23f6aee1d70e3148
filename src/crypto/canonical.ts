import { CanonicalJSONError } from '../errors.js';

// OLPC canonical JSON exactly as securesystemslib's encode_canonical writes it, which is what every
// TUF signer signs: no whitespace, object keys sorted by Unicode code point, strings with only `"`
// and `\` escaped (everything else raw UTF-8), integers only.
//
// The encoder is on the client's hot path (a 100,000-target role is re-encoded to check its
// signature), so it writes UTF-8 straight into one growing buffer and carries no field paths; when
// it meets a value it cannot encode it throws, and a slow walk finds that value's path for the error.

class Unencodable extends Error {}

/** Nesting limit: far beyond real metadata, well within the call stack. */
export const MAX_NESTING = 512;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
/** Strings at least this long are encoded by Buffer.write when they need no escapes. */
const NATIVE_MIN = 32;
const HIGH_UNIT = /[\ud800-\uffff]/;

class Writer {
  buf: Buffer;
  pos = 0;
  /** Object members written (strict JSON parsing uses it to rule out repeated names). */
  members = 0;

  constructor(initial: number) {
    this.buf = Buffer.allocUnsafe(initial);
  }

  ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  ascii(s: string): void {
    const n = s.length;
    this.ensure(n);
    const buf = this.buf;
    let p = this.pos;
    for (let i = 0; i < n; i++) buf[p++] = s.charCodeAt(i);
    this.pos = p;
  }

  byte(b: number): void {
    this.ensure(1);
    this.buf[this.pos++] = b;
  }

  /** Writes a quoted string; returns true when it holds a code unit >= U+D800 (see writeObject). */
  string(s: string): boolean {
    const n = s.length;
    this.ensure(n * 3 + 2);
    const buf = this.buf;
    let p = this.pos;
    let high = false;
    buf[p++] = QUOTE;
    if (n >= NATIVE_MIN && s.indexOf('"') === -1 && s.indexOf('\\') === -1) {
      // Nothing to escape: Node's native UTF-8 encoder beats the loop below on long strings
      // (hashes, paths). It would write a lone surrogate as U+FFFD, so those are refused first.
      if (!s.isWellFormed()) throw new Unencodable();
      const written = buf.write(s, p, 'utf8');
      buf[p + written] = QUOTE;
      this.pos = p + written + 1;
      // As many bytes as code units: all ASCII. Otherwise look for units >= U+D800 (rare).
      return written !== n && HIGH_UNIT.test(s);
    }
    for (let i = 0; i < n; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        if (c === QUOTE || c === BACKSLASH) {
          // An escape takes two bytes where the worst case reserved three per code unit.
          buf[p++] = BACKSLASH;
        }
        buf[p++] = c;
      } else if (c < 0x800) {
        buf[p++] = 0xc0 | (c >> 6);
        buf[p++] = 0x80 | (c & 0x3f);
      } else if (c < 0xd800 || c > 0xdfff) {
        if (c >= 0xd800) high = true;
        buf[p++] = 0xe0 | (c >> 12);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      } else {
        const d = i + 1 < n ? s.charCodeAt(i + 1) : 0;
        if (c > 0xdbff || d < 0xdc00 || d > 0xdfff) throw new Unencodable();
        high = true;
        i++;
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        buf[p++] = 0xf0 | (c >> 18);
        buf[p++] = 0x80 | ((c >> 12) & 0x3f);
        buf[p++] = 0x80 | ((c >> 6) & 0x3f);
        buf[p++] = 0x80 | (c & 0x3f);
      }
    }
    buf[p++] = QUOTE;
    this.pos = p;
    return high;
  }

  value(v: unknown): void {
    switch (typeof v) {
      case 'string':
        this.string(v);
        return;
      case 'number':
        if (!Number.isSafeInteger(v)) throw new Unencodable();
        this.ascii(v === 0 ? '0' : String(v));
        return;
      case 'boolean':
        this.ascii(v ? 'true' : 'false');
        return;
      case 'object':
        if (v === null) this.ascii('null');
        else if (Array.isArray(v)) this.array(v);
        else this.object(v, false);
        return;
      default:
        throw new Unencodable();
    }
  }

  depth = 0;

  enter(): void {
    if (++this.depth > MAX_NESTING) throw new Unencodable();
  }

  array(a: unknown[]): void {
    this.enter();
    const n = a.length;
    this.byte(0x5b);
    for (let i = 0; i < n; i++) {
      if (i > 0) this.byte(0x2c);
      this.value(a[i]);
    }
    this.byte(0x5d);
    this.depth--;
  }

  object(o: object, byCodePoint: boolean): void {
    this.enter();
    if (!isPlainObject(o)) throw new Unencodable();
    const start = this.pos;
    const startMembers = this.members;
    const keys = Object.keys(o);
    const n = keys.length;
    this.members += n;
    if (byCodePoint) keys.sort(compareCodePoints);
    else if (n <= SMALL_OBJECT) insertionSort(keys);
    else if (!isSorted(keys)) keys.sort();
    const rec = o as Record<string, unknown>;
    this.byte(0x7b);
    for (let i = 0; i < n; i++) {
      if (i > 0) this.byte(0x2c);
      const k = keys[i]!;
      // UTF-16 order (what sort() uses) and code point order differ only for keys holding units
      // >= U+D800; in that rare case rewrite this object sorted by code point.
      if (this.string(k) && !byCodePoint && n > 1) {
        this.pos = start;
        this.members = startMembers;
        this.depth--;
        this.object(o, true);
        return;
      }
      this.byte(0x3a);
      this.value(rec[k]);
    }
    this.byte(0x7d);
    this.depth--;
  }
}

/** Objects with at most this many members are sorted in place here: cheaper than a sort() call. */
const SMALL_OBJECT = 8;

/** Sorts a few keys by UTF-16 code units, as sort() does (most target entries arrive out of order). */
function insertionSort(keys: string[]): void {
  for (let i = 1; i < keys.length; i++) {
    const k = keys[i]!;
    let j = i - 1;
    for (; j >= 0 && keys[j]! > k; j--) keys[j + 1] = keys[j]!;
    keys[j + 1] = k;
  }
}

function isSorted(keys: string[]): boolean {
  for (let i = 1; i < keys.length; i++) if (keys[i - 1]! > keys[i]!) return false;
  return true;
}

function compareCodePoints(a: string, b: string): number {
  return compareCodePointRanges(a, 0, a.length, b, 0, b.length);
}

/** Compares a[a0, a1) with b[b0, b1) by code point (sort() compares UTF-16 code units). */
export function compareCodePointRanges(a: string, a0: number, a1: number, b: string, b0: number, b1: number): number {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(a0 + i);
    let y = b.charCodeAt(b0 + i);
    if (x === y) continue;
    // Surrogates (D800-DFFF) encode code points above FFFF: move them past E000-FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x - y;
  }
  return a1 - a0 - (b1 - b0);
}

function isPlainObject(value: object): boolean {
  const proto = Object.getPrototypeOf(value);
  return proto === Object.prototype || proto === null;
}

/** Walks `value` with paths and returns the first thing canonical JSON cannot encode. */
function findProblem(value: unknown, field: string, depth = 0): CanonicalJSONError | undefined {
  if (depth > MAX_NESTING) return new CanonicalJSONError(field, `nested more than ${MAX_NESTING} levels deep`);
  switch (typeof value) {
    case 'string':
      return value.isWellFormed() ? undefined : new CanonicalJSONError(field, 'string contains a lone surrogate');
    case 'number':
      if (Number.isSafeInteger(value)) return undefined;
      return new CanonicalJSONError(
        field,
        Number.isInteger(value)
          ? `integer ${value} is beyond 2^53 and cannot be represented exactly`
          : `${value} is not an integer (canonical JSON has no floats)`,
      );
    case 'boolean':
      return undefined;
    case 'object': {
      if (value === null) return undefined;
      if (Array.isArray(value)) {
        for (let i = 0; i < value.length; i++) {
          const p = findProblem(value[i], `${field}[${i}]`, depth + 1);
          if (p) return p;
        }
        return undefined;
      }
      if (!isPlainObject(value)) {
        return new CanonicalJSONError(field, `cannot encode an object of type ${value.constructor?.name ?? 'unknown'}`);
      }
      for (const [k, v] of Object.entries(value)) {
        const path = field ? `${field}.${k}` : k;
        if (!k.isWellFormed()) return new CanonicalJSONError(path, 'member name contains a lone surrogate');
        const p = findProblem(v, path, depth + 1);
        if (p) return p;
      }
      return undefined;
    }
    default:
      return new CanonicalJSONError(field, `cannot encode a value of type ${typeof value}`);
  }
}

function encode(value: unknown, field: string, sizeHint: number): Writer {
  const w = new Writer(sizeHint);
  try {
    w.value(value);
    return w;
  } catch (e) {
    if (!(e instanceof Unencodable)) throw e;
    throw findProblem(value, field) ?? new CanonicalJSONError(field, 'value cannot be encoded');
  }
}

/**
 * The canonical JSON bytes (UTF-8) of `value`, a JSON-compatible tree of plain objects and arrays:
 * what TUF signatures are computed over. `field` names the value in error messages; `sizeHint`
 * (e.g. the length of the file it was parsed from) avoids regrowing the output buffer.
 */
export function canonicalBytes(value: unknown, field = '', sizeHint = 4096): Uint8Array {
  const w = encode(value, field, Math.max(64, sizeHint));
  return w.buf.subarray(0, w.pos);
}

/** canonicalBytes, plus how many object members `value` holds (counted on the way). */
export function canonicalBytesCountingMembers(value: unknown, field = '', sizeHint = 4096): { bytes: Uint8Array; members: number } {
  const w = encode(value, field, Math.max(64, sizeHint));
  return { bytes: w.buf.subarray(0, w.pos), members: w.members };
}

/** The canonical JSON text of `value`. */
export function canonicalString(value: unknown, field = ''): string {
  const w = encode(value, field, 4096);
  return w.buf.toString('utf8', 0, w.pos);
}
