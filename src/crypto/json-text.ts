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
