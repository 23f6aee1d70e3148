// The scenario format of test-vectors/ (documented for other implementations in
// test-vectors/README.md). Everything here is plain JSON data: no code is needed to use the vectors.

export const FORMAT = 'tufkit-conformance/1';

/** The time every step is meant to run at. */
export const REFERENCE_TIME = '2030-01-01T00:00:00Z';
/** Expiry of metadata meant to be valid: far enough that a real clock gives the same outcome. */
export const VALID_UNTIL = '2100-01-01T00:00:00Z';
/** Expiry of metadata meant to be expired. */
export const EXPIRED_AT = '2020-01-01T00:00:00Z';

/**
 * Failure classes a step can expect. The client protocol only has exit codes, so a runner checks
 * the class only when asked to (it then looks for the class in what the client printed).
 */
export const ERROR_CLASSES = [
  'UnsignedMetadata',
  'BadVersion',
  'Expired',
  'LengthOrHashMismatch',
  'DownloadLength',
  'SlowRetrieval',
  'NotFound',
  'Format',
] as const;
export type ErrorClass = (typeof ERROR_CLASSES)[number];

export const CATEGORIES = [
  'basic',
  'root',
  'timestamp',
  'snapshot',
  'targets',
  'delegations',
  'keys',
  'attacks',
  'format',
  'names',
] as const;
export type Category = (typeof CATEGORIES)[number];

/** The attacks of spec section 1.5.2 ("Goals to protect against specific attacks"). */
export const ATTACKS = [
  'arbitrary-installation',
  'endless-data',
  'extraneous-dependencies',
  'fast-forward',
  'indefinite-freeze',
  'malicious-mirrors',
  'mix-and-match',
  'rollback',
  'slow-retrieval',
  'key-compromise',
  'wrong-software',
] as const;
export type Attack = (typeof ATTACKS)[number];

export type Outcome =
  | { outcome: 'success' }
  | { outcome: 'failure'; error: ErrorClass; also_acceptable?: ErrorClass[] }
  /** Either way is conforming (e.g. an unsafe target path may be refused or stored safely). */
  | { outcome: 'any' };

/** How the server misbehaves when serving one file of a state. */
export type Behaviour =
  /** Sends the headers, then `bytes_per_second` bytes a second, for ever (slow retrieval). */
  | { path: string; kind: 'slow'; bytes_per_second: number }
  /** Sends the headers, then nothing (slow retrieval). */
  | { path: string; kind: 'stall' }
  /**
   * Sends the file, then filler bytes without end (endless data). The client must stop reading:
   * the server counts the bytes it could send, and more than `client_max_bytes` fails the step.
   */
  | { path: string; kind: 'endless'; client_max_bytes: number }
  /** Answers with this HTTP status and an empty body. */
  | { path: string; kind: 'status'; status: number };

export interface StateSpec {
  behaviours?: Behaviour[];
}

export interface TargetFileExpectation {
  /** The target path, for people. */
  target: string;
  sha256: string;
  /** Must be in the target dir (else: may be). */
  required: boolean;
}

export interface RequestExpectation {
  /** The exact list of requests, in order. */
  exact?: string[];
  /** Requests that must have been made (glob: `*` matches anything). */
  include?: string[];
  /** Requests that must not have been made (glob). */
  exclude?: string[];
}

export interface Step {
  action: 'init' | 'refresh' | 'download';
  /** The repository state served during the step (a folder under states/). */
  state?: string;
  /** For download: the target path. */
  target?: string;
  /**
   * For download, instead of `target`: several target paths, looked up and downloaded in this order
   * by one client run (`--target-name` repeated), which stops at the first failure. The outcome is
   * the run's. Checks that what one lookup trusts does not depend on the lookups before it.
   */
  targets?: string[];
  reference_time: string;
  expect: Outcome;
  /**
   * The role versions the client trusts afterwards: role name -> version of that role's file in the
   * metadata dir, or null when the client must not have one. Roles not listed are not checked.
   */
  trusted?: Record<string, number | null>;
  /** How many *.json files the metadata dir holds afterwards. */
  trusted_files?: number;
  /** Every file the target dir may hold afterwards, by content. Absent: not checked. */
  target_files?: TargetFileExpectation[];
  requests?: RequestExpectation;
}

export interface ScenarioFile {
  format: typeof FORMAT;
  name: string;
  title: string;
  category: Category;
  spec: string[];
  attack?: Attack;
  states: Record<string, StateSpec>;
  steps: Step[];
}

// ---- URL paths and file names ----------------------------------------------------------------

const UNRESERVED = /[A-Za-z0-9\-._~]/;

/**
 * Percent-encodes all but RFC 3986's unreserved characters, upper-case hex (Python's
 * `urllib.parse.quote(s, safe="")`). Served files are stored under these names.
 */
export function encodeSegment(s: string): string {
  let out = '';
  for (const ch of s) {
    if (UNRESERVED.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Decodes %XX escapes (as UTF-8); undefined when the escapes are not valid UTF-8 or malformed. */
export function decodeSegment(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

/**
 * A request path in the form scenarios list requests and states store files: split at `/`, each
 * segment decoded and encoded again with encodeSegment, so `%7e`, `~` and `%7E` are one path.
 */
export function normalizePath(rawPath: string): string {
  const path = rawPath.split('?')[0]!.split('#')[0]!;
  return path
    .split('/')
    .map((seg) => {
      const decoded = decodeSegment(seg);
      return decoded === undefined ? seg : encodeSegment(decoded);
    })
    .join('/');
}

/** Whether `text` matches `pattern`, where `*` stands for any run of characters. */
export function globMatch(pattern: string, text: string): boolean {
  const re = new RegExp('^' + pattern.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$', 's');
  return re.test(text);
}
