// Every failure tufkit reports is one of these classes. They are exported so callers can
// branch on the exact type, and the client never re-wraps them into a generic error.

/** Base of every tufkit error. */
export class TufError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

// ---- metadata format -------------------------------------------------------------------------

/** Where in a file a format problem is: the file, and for JSON text the line and column (from 1). */
export interface FormatErrorLocation {
  file?: string;
  line?: number;
  column?: number;
}

/**
 * Metadata (or a key, or JSON) that does not follow the TUF format. `role` is the role whose file
 * was being read (or '' when unknown) and `field` the JSON path of the offending value.
 */
export class MetadataFormatError extends TufError {
  constructor(
    readonly role: string,
    readonly field: string,
    readonly reason: string,
    readonly location: FormatErrorLocation = {},
  ) {
    const { file, line, column } = location;
    const what = role ? `role "${role}": ` : file ? '' : 'metadata: ';
    super(`${file ? `${file}: ` : ''}${what}${field ? `${field}: ` : ''}${reason}${line ? ` (line ${line}, column ${column})` : ''}`);
  }

  /** The same problem, named as found in `file` (unless it names a file already). */
  inFile(file: string): MetadataFormatError {
    return this.location.file ? this : new MetadataFormatError(this.role, this.field, this.reason, { ...this.location, file });
  }
}

/** A value that canonical JSON cannot represent (float, unsafe integer, lone surrogate...). */
export class CanonicalJSONError extends TufError {
  constructor(
    readonly field: string,
    readonly reason: string,
    /** The role whose file held the value, when known. */
    readonly role = '',
  ) {
    super(`${role ? `role "${role}": ` : ''}canonical JSON: ${field || '(top level)'}: ${reason}`);
  }
}

// ---- crypto ----------------------------------------------------------------------------------

/** A key type or signature scheme tufkit does not implement. */
export class UnsupportedAlgorithmError extends TufError {}

/** A key that cannot be used: malformed public key, wrong private key, bad passphrase... */
export class KeyError extends TufError {}

// ---- client trust decisions (the TUF "repository errors") -------------------------------------

/** Base of every error that means "the repository served something we must not trust". */
export class RepositoryError extends TufError {}

/** Fewer than `threshold` valid signatures from authorised keys. */
export class UnsignedMetadataError extends RepositoryError {}

/** A version that is not the expected one, or goes back (rollback). */
export class BadVersionError extends RepositoryError {}

/** A new timestamp with the same version as the trusted one (not an attack; nothing to update). */
export class EqualVersionError extends BadVersionError {}

/** Metadata whose `expires` is before the reference time (freeze attack). */
export class ExpiredMetadataError extends RepositoryError {}

/** Bytes whose length or hashes differ from what trusted metadata says (mix-and-match, tampering). */
export class LengthOrHashMismatchError extends RepositoryError {}

/** A role that the trusted metadata does not list or delegate. */
export class RoleNotFoundError extends RepositoryError {}

/** The local clock is before a time at which metadata was already trusted. */
export class ClockRollbackError extends RepositoryError {}

// ---- downloads -------------------------------------------------------------------------------

/** Base of every failure to fetch bytes. */
export class DownloadError extends TufError {
  constructor(
    message: string,
    readonly url?: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The server sent more bytes than allowed (endless data attack) or fewer than announced. */
export class DownloadLengthMismatchError extends DownloadError {}

/** The server was too slow (slow retrieval attack) or the request timed out. */
export class SlowRetrievalError extends DownloadError {}

/** The server answered with an HTTP error status. */
export class DownloadHTTPError extends DownloadError {
  constructor(
    message: string,
    readonly status: number,
    url?: string,
  ) {
    super(message, url);
  }
}

// ---- local storage and usage -----------------------------------------------------------------

/** Reading or writing the local cache (metadata dir, target dir) failed, or a lock is held. */
export class StorageError extends TufError {}

/**
 * A file-system operation on the local cache failed: a folder where a file belongs, a read-only or
 * full disk, a lock file that cannot be made... `action` says what was being done ("read the
 * trusted root", "take the lock"), `path` on which file or folder, `code` is the system error code
 * (EISDIR, EROFS, ENOSPC...; '' when there is none) and `cause` the original error.
 */
export class FileSystemError extends StorageError {
  readonly code: string;

  constructor(
    readonly action: string,
    readonly path: string,
    cause: unknown,
  ) {
    super(`cannot ${action} (${path}): ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.code = cause instanceof Error && 'code' in cause && typeof cause.code === 'string' ? cause.code : '';
  }
}

/** A path or role name that would escape its folder, or is otherwise unsafe on disk. */
export class UnsafePathError extends TufError {}

/** Wrong use of the library or CLI by its caller (bad option, unknown role, invalid argument). */
export class UsageError extends TufError {}

// ---- application updaters --------------------------------------------------------------------

/**
 * Two or more trusted targets carry the newest version a release query selects (equal by semver
 * precedence, build metadata ignored): which one to install is not guessed. `paths` lists them.
 */
export class AmbiguousReleaseError extends TufError {
  constructor(
    message: string,
    readonly paths: string[],
  ) {
    super(message);
  }
}

/** A download stopped by its caller's AbortSignal (nothing trusted or written changed). */
export class DownloadCancelledError extends DownloadError {}

/**
 * No refresh from the repository has succeeded for longer than the configured maxStalenessMs:
 * the cached metadata may not have expired, but the client can no longer tell it is current.
 */
export class StaleMetadataError extends TufError {
  constructor(
    message: string,
    readonly lastRefresh: Date | undefined,
  ) {
    super(message);
  }
}
