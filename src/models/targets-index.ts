import { canonicalBytes, compareCodePointRanges } from '../crypto/canonical.js';
import { MAX_DEPTH } from '../crypto/json.js';
import { closingQuote, isDigit } from '../crypto/json-text.js';
import { TargetFile } from './files.js';

// A large targets role written in canonical form (as tufkit writes it) is read without building a
// tree of its target entries: one pass over the text checks each entry as strictly as JSON.parse
// plus TargetFile.fromJSON would, and keeps where it lies. A lookup then binary-searches the names,
// which canonical JSON sorts. JSON.parse of a 15 MB role of 100,000 targets, and the 100,000 objects
// it makes, cost most of a client's refresh; this pass costs a fraction of it and no garbage.
// Anything unusual (an escape, non-ASCII text, a number near 2^53, ...) makes `indexTargets` give up:
// the caller then reads the file the general way, which also explains what is wrong.

const QUOTE = 0x22;
/** Levels above a target entry: the file's object, `signed` and `targets`. */
const ENTRY_DEPTH = 3;
/** Digits of the longest length taken here; longer ones (near 2^53) are left to the general way. */
const MAX_LENGTH_DIGITS = 15;

/** The entries of a canonical `targets` object, by position in its text. */
export class TargetsIndex {
  constructor(
    private readonly text: string,
    /** Start and end of each name (inside its quotes), in pairs. */
    private readonly names: Int32Array,
    /** Start and end of each value, in pairs. */
    private readonly values: Int32Array,
    readonly size: number,
    /** Entries other than exactly {"hashes", "length"}, built while indexing. */
    private readonly irregular: Map<number, TargetFile>,
  ) {}

  /** The file listed for `path`, if any. */
  get(path: string): TargetFile | undefined {
    let lo = 0;
    let hi = this.size - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const start = this.names[2 * mid]!;
      const cmp = compareCodePointRanges(this.text, start, this.names[2 * mid + 1]!, path, 0, path.length);
      if (cmp === 0) return this.file(mid, path);
      if (cmp < 0) lo = mid + 1;
      else hi = mid - 1;
    }
    return undefined;
  }

  /** The listed paths in file (code-point) order. */
  *paths(): Generator<string> {
    for (let i = 0; i < this.size; i++) yield this.name(i);
  }

  /** Every entry, built. */
  *entries(): Generator<[string, TargetFile]> {
    for (let i = 0; i < this.size; i++) {
      const path = this.name(i);
      yield [path, this.file(i, path)];
    }
  }

  private name(i: number): string {
    return this.text.slice(this.names[2 * i]!, this.names[2 * i + 1]!);
  }

  /** Every listed file, built one at a time (a walk over them keeps none). */
  *files(): Generator<TargetFile> {
    for (let i = 0; i < this.size; i++) yield this.file(i, this.name(i));
  }

  private file(i: number, path: string): TargetFile {
    const built = this.irregular.get(i);
    if (built) return built;
    const start = this.values[2 * i]!;
    const t = this.text;
    // The usual entry, one SHA-256 of 64 digits, read in place (regularEntry checked every hash's
    // digits and the length's).
    const hex = start + SHA256_ONLY.length;
    if (t.startsWith(SHA256_ONLY, start) && t.indexOf('"', hex) === hex + 64 && t.startsWith(AFTER_SHA256, hex + 64)) {
      const length = Number(t.slice(hex + 64 + AFTER_SHA256.length, this.values[2 * i + 1]! - 1));
      return new TargetFile(path, length, { sha256: t.slice(hex, hex + 64) }, {});
    }
    // Checked while indexing: {"hashes":{...},"length":N}, nothing escaped.
    const { hashes, length } = JSON.parse(this.text.slice(this.values[2 * i]!, this.values[2 * i + 1]!)) as {
      hashes: Record<string, string>;
      length: number;
    };
    return new TargetFile(path, length, hashes, {});
  }

  /**
   * Indexes the canonical JSON object starting at `open` in `text` (ASCII), checking every entry.
   * Undefined as soon as anything is not exactly as canonical JSON and the usual entry would have it.
   */
  static of(text: string, open: number, role: string): { index: TargetsIndex; end: number } | undefined {
    return new Indexer(text, role).run(open);
  }
}

class Indexer {
  private names: Int32Array;
  private values: Int32Array;
  private size = 0;
  private readonly irregular = new Map<number, TargetFile>();
  /** The first backslash or control character at or after the current string (text.length if none). */
  private special = -1;

  constructor(
    private readonly text: string,
    private readonly role: string,
  ) {
    // Sized for the text (an entry takes at least 34 characters), grown as needed.
    this.names = new Int32Array(2 * Math.min(1024, Math.max(16, text.length >> 7)));
    this.values = new Int32Array(this.names.length);
  }

  run(open: number): { index: TargetsIndex; end: number } | undefined {
    const t = this.text;
    if (t.charCodeAt(open) !== 0x7b) return undefined;
    let i = open + 1;
    if (t.charCodeAt(i) === 0x7d) return this.done(i + 1);
    let previous: string | undefined;
    for (;;) {
      const nameEnd = this.plainString(i);
      if (nameEnd < 0) return undefined;
      // ASCII: code units are code points, and the engine compares strings natively.
      const name = t.slice(i + 1, nameEnd);
      if (previous !== undefined && !(previous < name)) return undefined;
      previous = name;
      if (t.charCodeAt(nameEnd + 1) !== 0x3a) return undefined;
      const valueStart = nameEnd + 2;
      let valueEnd = this.regularEntry(valueStart);
      if (valueEnd < 0) {
        valueEnd = this.irregularEntry(valueStart, t.slice(i + 1, nameEnd));
        if (valueEnd < 0) return undefined;
      }
      this.push(i + 1, nameEnd, valueStart, valueEnd);
      const c = t.charCodeAt(valueEnd);
      if (c === 0x7d) return this.done(valueEnd + 1);
      if (c !== 0x2c) return undefined;
      i = valueEnd + 1;
    }
  }

  private done(end: number): { index: TargetsIndex; end: number } {
    return { index: new TargetsIndex(this.text, this.names, this.values, this.size, this.irregular), end };
  }

  private push(nameStart: number, nameEnd: number, valueStart: number, valueEnd: number): void {
    if (2 * this.size === this.names.length) {
      const names = new Int32Array(this.names.length * 2);
      names.set(this.names);
      this.names = names;
      const values = new Int32Array(this.values.length * 2);
      values.set(this.values);
      this.values = values;
    }
    this.names[2 * this.size] = nameStart;
    this.names[2 * this.size + 1] = nameEnd;
    this.values[2 * this.size] = valueStart;
    this.values[2 * this.size + 1] = valueEnd;
    this.size++;
  }

  /** Index of the closing quote of the string at `open`, or -1 unless it has no escape or control character. */
  private plainString(open: number): number {
    const t = this.text;
    if (t.charCodeAt(open) !== QUOTE) return -1;
    const close = t.indexOf('"', open + 1);
    if (close < 0) return -1;
    // One search of the text finds the next such character, instead of a look at every character.
    if (this.special <= open) {
      SPECIAL.lastIndex = open + 1;
      this.special = SPECIAL.test(t) ? SPECIAL.lastIndex - 1 : t.length;
    }
    return this.special < close ? -1 : close;
  }

  /** After `{"hashes":{"alg":"hex",...},"length":N}` at `i` (names increasing, hex digits, N >= 0), or -1. */
  private regularEntry(i: number): number {
    const t = this.text;
    // The commonest entry, {"hashes":{"sha256":"<64 hex digits>"},"length":N}, in fewer steps.
    if (t.startsWith(SHA256_ONLY, i)) {
      const hex = i + SHA256_ONLY.length;
      let j = hex;
      while (j < hex + 64 && isHexDigit(t.charCodeAt(j))) j++;
      if (j === hex + 64 && t.startsWith(AFTER_SHA256, j)) return this.length(j + AFTER_SHA256.length);
    }
    if (!t.startsWith('{"hashes":{', i)) return -1;
    i += 11;
    let prevStart = -1;
    let prevEnd = -1;
    for (;;) {
      const algEnd = this.plainString(i);
      if (algEnd < 0) return -1;
      if (prevStart >= 0 && compareCodePointRanges(t, prevStart, prevEnd, t, i + 1, algEnd) >= 0) return -1;
      prevStart = i + 1;
      prevEnd = algEnd;
      if (t.charCodeAt(algEnd + 1) !== 0x3a || t.charCodeAt(algEnd + 2) !== QUOTE) return -1;
      let j = algEnd + 3;
      for (let c = t.charCodeAt(j); isHexDigit(c); c = t.charCodeAt(++j));
      if (j === algEnd + 3 || t.charCodeAt(j) !== QUOTE) return -1;
      const c = t.charCodeAt(j + 1);
      i = j + 2;
      if (c === 0x7d) break;
      if (c !== 0x2c) return -1;
    }
    if (!t.startsWith(',"length":', i)) return -1;
    return this.length(i + 10);
  }

  /** After `N}` at `i` (N a length as canonical JSON writes it), or -1. */
  private length(i: number): number {
    const t = this.text;
    const digits = i;
    if (t.charCodeAt(i) === 0x30) i++;
    else while (isDigit(t.charCodeAt(i))) i++;
    if (i === digits || i - digits > MAX_LENGTH_DIGITS || t.charCodeAt(i) !== 0x7d) return -1;
    return i + 1;
  }

  /**
   * After any other entry at `i` (custom data, say), checked as the general way would check it:
   * JSON, written canonically, and a valid TargetFile; -1 when it is not (or is unusual).
   */
  private irregularEntry(i: number, path: string): number {
    const end = endOfValue(this.text, i, MAX_DEPTH - ENTRY_DEPTH);
    if (end < 0) return -1;
    const slice = this.text.slice(i, end);
    let value: unknown;
    try {
      value = JSON.parse(slice);
    } catch {
      return -1;
    }
    try {
      // Written as canonical JSON writes it (so no repeated name, no float), byte for byte.
      if (Buffer.from(canonicalBytes(value, 'signed.targets')).toString('latin1') !== slice) return -1;
      this.irregular.set(this.size, TargetFile.fromJSON(path, value, this.role, `signed.targets.${path}`));
    } catch {
      return -1;
    }
    return end;
  }
}

// eslint-disable-next-line no-control-regex -- control characters are what it looks for
const SPECIAL = /[\x00-\x1f\\]/g;

const SHA256_ONLY = '{"hashes":{"sha256":"';
const AFTER_SHA256 = '"},"length":';

const HEX = new Uint8Array(128);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;

function isHexDigit(c: number): boolean {
  return HEX[c] === 1;
}

/**
 * Index after the object or array at `i` (strings skipped as JSON does), or -1 if it does not close
 * or nests more than `maxDepth` levels (itself included).
 */
function endOfValue(text: string, i: number, maxDepth: number): number {
  const first = text.charCodeAt(i);
  if (first !== 0x7b && first !== 0x5b) return -1;
  let depth = 0;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) i = closingQuote(text, i);
    else if ((c === 0x7b || c === 0x5b) && ++depth > maxDepth) return -1;
    else if ((c === 0x7d || c === 0x5d) && --depth === 0) return i + 1;
  }
  return -1;
}
