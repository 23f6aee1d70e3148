// Small readers of JSON text shared by the strict parser (json.ts) and the canonical-span walk.

const BACKSLASH = 0x5c;

export function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Index of the quote that closes the string whose opening quote is at `open` (text.length when
 * the string is never closed: a caller on text that is not JSON stops instead of looping).
 */
export function closingQuote(text: string, open: number): number {
  let q = text.indexOf('"', open + 1);
  for (;;) {
    if (q === -1) return text.length;
    let backslashes = 0;
    for (let j = q - 1; text.charCodeAt(j) === BACKSLASH; j--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
}

/** Line and column (from 1, columns in UTF-16 code units) of `offset` in `text`. */
export function lineAndColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return { line, column: offset - lineStart + 1 };
}

/** The first JSON syntax error in `text` (RFC 8259): its offset and what was expected there. */
export function firstSyntaxError(text: string): { offset: number; reason: string } | undefined {
  const n = text.length;
  let i = 0;
  const open: number[] = []; // 0x7b or 0x5b of every container not yet closed
  const skipSpace = (): void => {
    for (let c = text.charCodeAt(i); c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d; c = text.charCodeAt(++i));
  };
  const found = (): string => {
    if (i >= n) return 'the end of the text';
    const c = text.charCodeAt(i);
    return c >= 0x20 && c < 0x7f ? JSON.stringify(text[i]) : `U+${c.toString(16).toUpperCase().padStart(4, '0')}`;
  };
  const fail = (expected: string): { offset: number; reason: string } => ({ offset: i, reason: `expected ${expected}, found ${found()}` });
  /** Reads the string at i; a problem, or undefined with i after its closing quote. */
  const string = (): { offset: number; reason: string } | undefined => {
    for (i++; ; i++) {
      if (i >= n) return { offset: i, reason: 'string is not terminated' };
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        i++;
        return undefined;
      }
      if (c < 0x20) return { offset: i, reason: 'control character in a string (write it as an escape)' };
      if (c === BACKSLASH) {
        i++;
        if (/^u[0-9a-fA-F]{4}/.test(text.slice(i, i + 5))) i += 4;
        else if (!'"\\/bfnrt'.includes(text[i] ?? 'x')) return { offset: i - 1, reason: 'invalid escape in a string' };
      }
    }
  };
  /** Reads `"name":` at i (after skipping space); a problem, or undefined with i after the colon. */
  const member = (expected: string): { offset: number; reason: string } | undefined => {
    skipSpace();
    if (text.charCodeAt(i) !== 0x22) return fail(expected);
    const bad = string();
    if (bad) return bad;
    skipSpace();
    if (text.charCodeAt(i) !== 0x3a) return fail('":" after the member name');
    i++;
    return undefined;
  };
  const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
  let expectValue = true;
  for (;;) {
    skipSpace();
    if (expectValue) {
      const c = text.charCodeAt(i);
      if (c === 0x7b || c === 0x5b) {
        open.push(c);
        i++;
        skipSpace();
        if (text.charCodeAt(i) === c + 2) {
          open.pop(); // {} or []
          i++;
          expectValue = false;
        } else if (c === 0x7b) {
          const bad = member('a member name in double quotes or "}"');
          if (bad) return bad;
        }
        continue;
      }
      if (c === 0x22) {
        const bad = string();
        if (bad) return bad;
      } else if (c === 0x2d || isDigit(c)) {
        NUMBER.lastIndex = i;
        if (!NUMBER.test(text)) return fail('a number');
        i = NUMBER.lastIndex;
      } else {
        const word = ['true', 'false', 'null'].find((w) => text.startsWith(w, i));
        if (!word) return fail('a value');
        i += word.length;
      }
      expectValue = false;
      continue;
    }
    const top = open[open.length - 1];
    if (top === undefined) return i < n ? fail('the end of the text after the JSON value') : undefined;
    const c = text.charCodeAt(i);
    if (c === top + 2) {
      open.pop();
      i++;
    } else if (c === 0x2c) {
      i++;
      expectValue = true;
      const bad = top === 0x7b ? member('a member name in double quotes') : undefined;
      if (bad) return bad;
    } else {
      return fail(top === 0x7b ? '"," or "}" after the member' : '"," or "]" after the element');
    }
  }
}
