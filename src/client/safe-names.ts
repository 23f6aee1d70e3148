import { createHash } from 'node:crypto';
import { UnsafePathError } from '../errors.js';

/**
 * Percent-encodes everything but the RFC 3986 unreserved characters (A-Z a-z 0-9 - . _ ~), with
 * upper-case hex: the same bytes as Python's `urllib.parse.quote(name, safe="")`, which is how
 * python-tuf and the conformance suite name roles in URLs. The mapping is one-to-one.
 */
export function encodeURLSegment(name: string): string {
  let encoded: string;
  try {
    encoded = encodeURIComponent(name);
  } catch (e) {
    // A lone surrogate has no UTF-8 form, so no file or URL can be named after it.
    throw new UnsafePathError(`name ${JSON.stringify(name)} is not valid Unicode`, { cause: e });
  }
  return encoded.replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Longest encoded name used as is; longer ones are shortened (file names are limited to 255 bytes). */
const MAX_PLAIN = 200;
const KEPT_PREFIX = 150;

/**
 * The one file name a role name or target path gets inside its folder. It never contains `/` or
 * `\`, is never `.`, `..` or empty, fits in 255 bytes with a `.json` suffix, and two different
 * names never get the same file name:
 * - plain form: encodeURLSegment(name), except that `.` and `..` become `%2E` and `%2E%2E`
 *   (never produced otherwise, since `.` is not encoded) — at most 200 characters;
 * - long form: the first 150 characters of that, `.`, and the sha256 of the name — 215 characters,
 *   so it can never equal a plain form.
 */
export function safeFileName(name: string): string {
  if (name.length === 0) throw new UnsafePathError('an empty name cannot be stored as a file');
  let encoded = encodeURLSegment(name);
  if (encoded === '.' || encoded === '..') encoded = encoded.replace(/\./g, '%2E');
  if (encoded.length <= MAX_PLAIN) return encoded;
  const digest = createHash('sha256').update(name, 'utf8').digest('hex');
  return `${encoded.slice(0, KEPT_PREFIX)}.${digest}`;
}

/**
 * The URL path of a target under the target base URL: each `/`-separated segment encoded. A `.`
 * or `..` segment is refused: URL parsers resolve it (even as `%2E%2E`) and would leave the base.
 */
export function targetURLPath(targetPath: string, hashPrefix?: string): string {
  const segments = targetPath.split('/');
  for (const s of segments) {
    if (s === '.' || s === '..') throw new UnsafePathError(`target path "${targetPath}" has a "${s}" segment`);
  }
  if (hashPrefix !== undefined) segments[segments.length - 1] = `${hashPrefix}.${segments[segments.length - 1]}`;
  return segments.map(encodeURLSegment).join('/');
}

/** `base` with exactly one `/` before `path`. */
export function joinURL(base: string, path: string): string {
  return base.endsWith('/') ? base + path : `${base}/${path}`;
}
