// A file whose `signed` member is written in canonical form already holds the exact bytes its
// signatures cover. Recognising that takes one scan of the text; re-encoding the parsed tree (the
// general way, canonical.ts) takes several times longer on a large targets role. tufkit writes
// `signed` this way (Metadata.toBytes); files that are pretty-printed or escape more than canonical
// JSON does (python-tuf, sigstore) simply take the general way.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const MAX_NESTING = 512;

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

function isSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

function skipSpace(text: string, i: number): number {
  while (i < text.length && isSpace(text.charCodeAt(i))) i++;
  return i;
}

/** Index after the string starting at `open` (its closing quote + 1; past the end if unterminated). */
function afterString(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  for (;;) {
    if (q === -1) return text.length + 1;
    let backslashes = 0;
    for (let j = q - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q + 1;
    q = text.indexOf('"', q + 1);
  }
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
        if (prevStart[depth]! >= 0 && !increases(text, prevStart[depth]!, prevEnd[depth]!, i + 1, end)) return undefined;
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

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/** Whether text[a0, a1) sorts strictly before text[b0, b1) by code point. */
function increases(text: string, a0: number, a1: number, b0: number, b1: number): boolean {
  const n = Math.min(a1 - a0, b1 - b0);
  for (let k = 0; k < n; k++) {
    let x = text.charCodeAt(a0 + k);
    let y = text.charCodeAt(b0 + k);
    if (x === y) continue;
    // Surrogates (D800-DFFF) encode code points above FFFF: move them past E000-FFFF.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x <= 0xdfff ? x + 0x2000 : x - 0x800;
      y = y <= 0xdfff ? y + 0x2000 : y - 0x800;
    }
    return x < y;
  }
  return a1 - a0 < b1 - b0;
}
