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

/** Windows opens a device, not a file, for these names, with any extension and in any case. */
const WINDOWS_DEVICE = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i;

/** Whether Windows takes file name `name` (`NUL`, `con.json`, `Com1.tar.gz`...) for a device. */
export function isWindowsDeviceName(name: string): boolean {
  return WINDOWS_DEVICE.test(name);
}

function escapeChar(c: string): string {
  return `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

/**
 * The one file name a role name or target path gets inside its folder (python-tuf and tuf-js use
 * the URL encoding as is, so `Root` replaces `root.json` on macOS and Windows). Guarantees:
 * - it never contains `/` or `\`, is never empty, fits in 255 bytes with a `.json` suffix;
 * - two different names never get file names that are equal IGNORING CASE, so they stay two files
 *   on case-insensitive file systems: upper-case letters are escaped, so the only upper-case
 *   characters left are the hex digits of escapes, which lower-casing cannot confuse with anything;
 * - only lower-case ASCII letters, digits, `-`, `_`, `.` and `%XX` escapes: no Unicode, so no
 *   normalisation (macOS) or case folding beyond ASCII can merge two names;
 * - never starts with `.` (all of tufkit's own files in a metadata or target dir do: lock, trusted
 *   time, temp files; and `.`/`..` are not files), never ends with `.` (Windows drops it), holds
 *   no `~` (Windows 8.3 short names like `ROOTJS~1.JSO` have one) and is no Windows device name
 *   (`CON`, `nul.json`...).
 * Plain form: encodeURLSegment(name) with those characters escaped as well, at most 200 characters;
 * decodeURIComponent gives the name back, which is why two names never share one. Long form: the
 * first 148 to 150 characters of that (no escape cut in two), `.`, and the sha256 of the name:
 * longer than 200 characters, so never a plain form.
 */
export function safeFileName(name: string): string {
  if (name.length === 0) throw new UnsafePathError('an empty name cannot be stored as a file');
  let file = encodeURLSegment(name).replace(/%[0-9A-F]{2}|[A-Z~]/g, (m) => (m.length === 3 ? m : escapeChar(m)));
  if (file.startsWith('.')) file = `%2E${file.slice(1)}`;
  if (file.endsWith('.')) file = `${file.slice(0, -1)}%2E`;
  if (isWindowsDeviceName(file)) file = escapeChar(file[0]!) + file.slice(1);
  if (file.length <= MAX_PLAIN) return file;
  const digest = createHash('sha256').update(name, 'utf8').digest('hex');
  // Cut before an escape rather than through it, so that every `%` still starts one.
  return `${file.slice(0, KEPT_PREFIX).replace(/%[0-9A-F]?$/, '')}.${digest}`;
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
