import { MetadataFormatError } from '../errors.js';
import { canonicalSignedSpan, type CanonicalSpan } from './canonical-span.js';
import { closingQuote, firstSyntaxError, isDigit, lineAndColumn } from './json-text.js';

// Strict JSON for signed metadata. JSON.parse alone is not enough: it keeps the last of two
// members with one name (so two parsers could disagree on what was signed) and silently turns
// 1.0 into 1 and 2^53+1 into 2^53. Canonical JSON has neither floats nor repeated names, so both are
// rejected here.
//
// Fast path: JSON.parse, plus one scan of the text that counts name separators (`:` outside
// strings) and spots number syntax canonical JSON does not have. Every object member owns exactly
// one such `:`, so fewer members in the parsed tree than separators means a repeated name. Only
// when something is wrong does a slower structural walk find the field path for the error.

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

const QUOTE = 0x22;

/** Deeper than any real metadata; bounds the recursion of everything that walks parsed JSON. */
export const MAX_DEPTH = 100;

interface ScanResult {
  separators: number;
  suspiciousNumbers: boolean;
  maxDepth: number;
}

function scan(text: string): ScanResult {
  let separators = 0;
  let suspiciousNumbers = false;
  let digitRun = 0;
  let depth = 0;
  let maxDepth = 0;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = closingQuote(text, i);
      digitRun = 0;
      continue;
    }
    if (isDigit(c)) {
      // 16 digits can exceed 2^53 - 1; look at such numbers closely.
      if (++digitRun >= 16) suspiciousNumbers = true;
      continue;
    }
    // `.`, `E` and an `e` after a digit only occur in non-integer number syntax.
    if (c === 0x2e || c === 0x45 || (c === 0x65 && digitRun > 0)) suspiciousNumbers = true;
    else if (c === 0x3a) separators++;
    else if (c === 0x7b || c === 0x5b) maxDepth = Math.max(maxDepth, ++depth);
    else if (c === 0x7d || c === 0x5d) depth--;
    digitRun = 0;
  }
  return { separators, suspiciousNumbers, maxDepth };
}

/** Object members in the tree `v`, leaving out the subtree `skip` (counted elsewhere). */
export function countMembers(v: unknown, skip?: unknown): number {
  if (typeof v !== 'object' || v === null || v === skip) return 0;
  let n = 0;
  if (Array.isArray(v)) {
    for (const x of v) n += countMembers(x, skip);
    return n;
  }
  const rec = v as Record<string, unknown>;
  for (const k in rec) n += 1 + countMembers(rec[k], skip);
  return n;
}

interface Frame {
  kind: 'object' | 'array';
  path: string;
  names: Set<string>;
  index: number;
  pendingName: string | undefined;
}

/** Walks valid JSON text and reports the first repeated name or non-integer number, with its path. */
function explain(text: string, role: string): MetadataFormatError | undefined {
  const stack: Frame[] = [];
  const valuePath = (): string => {
    const top = stack[stack.length - 1];
    if (!top) return '';
    if (top.kind === 'array') return `${top.path}[${top.index}]`;
    return top.path ? `${top.path}.${top.pendingName}` : top.pendingName!;
  };
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    const top = stack[stack.length - 1];
    if (c === QUOTE) {
      const start = i;
      const end = closingQuote(text, i);
      const s = JSON.parse(text.slice(i, end + 1)) as string;
      i = end;
      if (top?.kind === 'object' && top.pendingName === undefined) {
        if (top.names.has(s)) {
          const path = top.path ? `${top.path}.${s}` : s;
          return new MetadataFormatError(role, path, 'member name appears more than once in one object', lineAndColumn(text, start));
        }
        top.names.add(s);
        top.pendingName = s;
      }
    } else if (c === 0x7b || c === 0x5b) {
      stack.push({ kind: c === 0x7b ? 'object' : 'array', path: valuePath(), names: new Set(), index: 0, pendingName: undefined });
    } else if (c === 0x7d || c === 0x5d) {
      stack.pop();
    } else if (c === 0x2c) {
      if (top?.kind === 'array') top.index++;
      else if (top) top.pendingName = undefined;
    } else if (c === 0x2d || isDigit(c)) {
      let j = i + 1;
      while (j < n && /[0-9.eE+-]/.test(text[j]!)) j++;
      const literal = text.slice(i, j);
      const value = Number(literal);
      if (!/^-?\d+$/.test(literal)) {
        return new MetadataFormatError(role, valuePath(), `number ${literal} is not an integer (canonical JSON has no floats)`, lineAndColumn(text, i));
      }
      if (!Number.isSafeInteger(value)) {
        return new MetadataFormatError(role, valuePath(), `integer ${literal} is beyond 2^53 and cannot be represented exactly`, lineAndColumn(text, i));
      }
      i = j - 1;
    }
  }
  return undefined;
}

/** JSON parsed with every strict check but the one for repeated names (see checkMemberCount). */
export interface ParsedJSON {
  value: unknown;
  text: string;
  /** Name separators (`:` outside strings): exactly one per object member of the text. */
  separators: number;
  role: string;
  /** Where the text holds `signed` in canonical form (asked for with `findSignedSpan`; ASCII texts only, so also byte offsets). */
  signedSpan?: CanonicalSpan;
}

/**
 * Parses UTF-8 JSON bytes with every strict rule except repeated names, which the caller MUST then
 * check with checkMemberCount: counting members is a walk of the whole tree, and a caller that
 * walks it anyway (the canonical encoder, to verify signatures) can count them on the way.
 */
export function parseJSONCountingMembers(bytes: Uint8Array, role = '', { findSignedSpan = false } = {}): ParsedJSON {
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch {
    throw new MetadataFormatError(role, '', 'file is not valid UTF-8');
  }
  return parseTextCountingMembers(text, bytes.length === text.length, role, { findSignedSpan });
}

/** parseJSONCountingMembers on text already decoded; `ascii` when every character is ASCII (offsets are then bytes). */
export function parseTextCountingMembers(text: string, ascii: boolean, role = '', { findSignedSpan = false } = {}): ParsedJSON {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    // JSON.parse's message may quote the text, newlines included, and not say where: find the spot.
    const problem = firstSyntaxError(text);
    if (!problem) throw new MetadataFormatError(role, '', `invalid JSON: ${(e as Error).message.replace(/\s+/g, ' ')}`);
    throw new MetadataFormatError(role, '', `invalid JSON: ${problem.reason}`, lineAndColumn(text, problem.offset));
  }
  // A canonical `signed` (see canonical-span.ts) has no repeated name and no number to look at:
  // only the text around it is scanned, with `{}` in its place. All-ASCII text: offsets are bytes.
  const span = findSignedSpan && ascii ? canonicalSignedSpan(text, MAX_DEPTH - 1) : undefined;
  const scanned = span ? scan(`${text.slice(0, span.start)}{}${text.slice(span.end)}`) : scan(text);
  const { suspiciousNumbers, maxDepth } = scanned;
  if (maxDepth > MAX_DEPTH) throw new MetadataFormatError(role, '', `JSON is nested ${maxDepth} levels deep, more than ${MAX_DEPTH}`);
  if (suspiciousNumbers) {
    const problem = explain(text, role);
    if (problem) throw problem;
  }
  const separators = scanned.separators + (span?.members ?? 0);
  return span ? { value, text, separators, role, signedSpan: span } : { value, text, separators, role };
}

/** Throws unless the parsed tree has as many members as the text has separators (no repeated name). */
export function checkMemberCount(parsed: ParsedJSON, members: number): void {
  if (parsed.separators === members) return;
  throw explain(parsed.text, parsed.role) ?? new MetadataFormatError(parsed.role, '', 'a member name appears more than once in one object');
}

/**
 * Parses UTF-8 JSON bytes as signed metadata must be parsed: valid UTF-8, no repeated member
 * names, integers only (within 2^53). `role` names the file in error messages.
 */
export function parseStrictJSON(bytes: Uint8Array, role = ''): unknown {
  const parsed = parseJSONCountingMembers(bytes, role);
  checkMemberCount(parsed, countMembers(parsed.value));
  return parsed.value;
}
