// A file whose `signed` member is written in canonical form already holds the exact bytes its
// signatures cover. Recognising that takes one scan of the text; re-encoding the parsed tree (the
// general way, canonical.ts) takes several times longer on a large targets role. tufkit writes
// `signed` this way (Metadata.toBytes); files that are pretty-printed or escape more than canonical
// JSON does (python-tuf, sigstore) simply take the general way.

import { compareCodePointRanges, MAX_NESTING } from './canonical.js';
import { closingQuote, isDigit } from './json-text.js';

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

export interface CanonicalSpan {
  /** [start, end) of the `signed` value in the text. */
  start: number;
  end: number;
  /** Object members inside it (no name repeats: each object's names strictly increase). */
  members: number;
}

/**
 * Where the value of the top-level member `signed` sits in `text` (JSON that JSON.parse accepted)
 * when that value is an object written exactly as canonical JSON would write it: no whitespace,
 * every object's names in strictly increasing code-point order, strings escaping only `"` and `\`,
 * integers in their shortest form, nested at most `maxDepth` levels (`signed` itself is level 1).
 * Undefined when it is not (or the text is unusual in any way). Besides the member count, the
 * strict parser needs nothing more from such a span: no repeated name, no number to look at.
 */
export function canonicalSignedSpan(text: string, maxDepth = MAX_NESTING): CanonicalSpan | undefined {
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x7b) return undefined;
  i = skipSpace(text, i + 1);
  let found: CanonicalSpan | undefined;
  while (i < text.length && text.charCodeAt(i) === QUOTE) {
    const nameEnd = afterString(text, i);
    const name = text.slice(i + 1, nameEnd - 1);
    // An escaped name might spell "signed": leave such files to the general way.
    if (name.includes('\\')) return undefined;
    i = skipSpace(text, nameEnd);
    if (text.charCodeAt(i) !== 0x3a) return undefined;
    const valueStart = skipSpace(text, i + 1);
    let valueEnd: number;
    if (name === 'signed') {
      if (found || text.charCodeAt(valueStart) !== 0x7b) return undefined;
      found = canonicalObjectAt(text, valueStart, maxDepth);
      if (!found) return undefined;
      valueEnd = found.end;
    } else {
      valueEnd = afterValue(text, valueStart);
    }
    i = skipSpace(text, valueEnd);
    if (text.charCodeAt(i) !== 0x2c) break;
    i = skipSpace(text, i + 1);
  }
  return found;
}

/**
 * Where the value of the member reached by `names` (each an object member of the one before, from
 * the top-level object) starts in `text`, when that value is an object; -1 when it is not found.
 * The first member of each name is taken: a caller checks what JSON.parse made of the same text.
 */
export function objectMemberAt(text: string, names: readonly string[]): number {
  let i = skipSpace(text, 0);
  for (const wanted of names) {
    if (text.charCodeAt(i) !== 0x7b) return -1;
    i = skipSpace(text, i + 1);
    for (;;) {
      if (text.charCodeAt(i) !== QUOTE) return -1;
      const nameEnd = afterString(text, i);
      const isWanted = text.slice(i + 1, nameEnd - 1) === wanted;
      i = skipSpace(text, nameEnd);
      if (text.charCodeAt(i) !== 0x3a) return -1;
      i = skipSpace(text, i + 1);
      if (isWanted) break;
      i = skipSpace(text, afterValue(text, i));
      if (text.charCodeAt(i) !== 0x2c) return -1;
      i = skipSpace(text, i + 1);
    }
  }
  return text.charCodeAt(i) === 0x7b ? i : -1;
}

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index after the string starting at `open` (past the end if it is never closed). */
function afterString(text: string, open: number): number {
  return closingQuote(text, open) + 1;
}

/** Index after the JSON value starting at `i` (valid JSON assumed, as JSON.parse accepted it). */
function afterValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === QUOTE) return afterString(text, i);
  if (c !== 0x7b && c !== 0x5b) {
    while (i < text.length && !isSpace(text.charCodeAt(i)) && ',]}'.indexOf(text[i]!) === -1) i++;
    return i;
  }
  let depth = 0;
  for (; i < text.length; i++) {
    const d = text.charCodeAt(i);
    if (d === QUOTE) i = afterString(text, i) - 1;
    else if (d === 0x7b || d === 0x5b) depth++;
    else if ((d === 0x7d || d === 0x5d) && --depth === 0) return i + 1;
  }
  return i;
}

/** The canonical object starting at `open`, or undefined at the first thing canonical JSON would write otherwise. */
function canonicalObjectAt(text: string, open: number, maxDepth: number): CanonicalSpan | undefined {
  const isObject = new Uint8Array(maxDepth + 2);
  const expectName = new Uint8Array(maxDepth + 2);
  const prevStart = new Int32Array(maxDepth + 2);
  const prevEnd = new Int32Array(maxDepth + 2);
  // The next backslash at or after the current string: it only moves forward, so the whole walk
  // looks at each backslash once (and a file without any pays for one indexOf).
  let backslash = text.indexOf('\\', open);
  let depth = 0;
  let members = 0;
  const n = text.length;
  for (let i = open; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      const end = afterString(text, i) - 1;
      const isName = isObject[depth] === 1 && expectName[depth] === 1;
      while (backslash !== -1 && backslash < i) backslash = text.indexOf('\\', backslash + 1);
      for (; backslash !== -1 && backslash < end; backslash = text.indexOf('\\', backslash + 2)) {
        // Names are compared as written, so one with any escape is left to the general way.
        const next = text.charCodeAt(backslash + 1);
        if (isName || (next !== QUOTE && next !== BACKSLASH)) return undefined;
      }
      if (isName) {
        if (prevStart[depth]! >= 0 && compareCodePointRanges(text, prevStart[depth]!, prevEnd[depth]!, text, i + 1, end) >= 0) return undefined;
        prevStart[depth] = i + 1;
        prevEnd[depth] = end;
        expectName[depth] = 0;
        members++;
      }
      i = end;
    } else if (c === 0x7b || c === 0x5b) {
      if (++depth > maxDepth) return undefined;
      isObject[depth] = c === 0x7b ? 1 : 0;
      expectName[depth] = 1;
      prevStart[depth] = -1;
    } else if (c === 0x7d || c === 0x5d) {
      if (--depth === 0) return { start: open, end: i + 1, members };
    } else if (c === 0x2c) {
      expectName[depth] = 1;
    } else if (c === 0x2d || isDigit(c)) {
      // Integers as canonical JSON writes them: no "-0" (written "0"), no fraction or exponent, and
      // none long enough to pass 2^53 (the strict parser looks at those closely).
      if (c === 0x2d && text.charCodeAt(i + 1) === 0x30) return undefined;
      let j = i + 1;
      while (j < n && isDigit(text.charCodeAt(j))) j++;
      const next = text.charCodeAt(j);
      if (j - i >= SAFE_DIGITS || next === 0x2e || next === 0x65 || next === 0x45) return undefined;
      i = j - 1;
    } else if (isSpace(c)) {
      return undefined;
    }
  }
  return undefined;
}

/** Shortest run of digits (with a minus sign) that may exceed 2^53 - 1. */
const SAFE_DIGITS = 16;


