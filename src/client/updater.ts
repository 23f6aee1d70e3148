import { dirname, join, resolve } from 'node:path';
import { DownloadHTTPError, EqualVersionError, LengthOrHashMismatchError, RoleNotFoundError, StaleMetadataError, StorageError, UsageError } from '../errors.js';
import { StreamingVerifier, type TargetFile } from '../models/files.js';
import type { Metadata } from '../models/metadata.js';
import type { Root } from '../models/root.js';
import type { Targets } from '../models/targets.js';
import {
  isDiskFailure,
  isFileSystemError,
  listTempFiles,
  makeDir,
  readFileChunks,
  regularFileSize,
  removeAbandonedTempFiles,
  removeAbandonedTempFilesOf,
  removeStaleTempFiles,
  TEMP_PREFIX,
  writeFileAtomic,
} from './atomic-file.js';
import { resolveConfig, type UpdaterConfig } from './config.js';
import {
  checkNotCancelled,
  downloadResumable,
  fetchVerifiedBytes,
  PARTIAL_PREFIX,
  partialsOf,
  runLimited,
  targetStream,
  verifiedStream,
  type DownloadOptions,
} from './download.js';
import { fetchBytes, HttpFetcher, type Fetcher } from './fetcher.js';
import { delegationWalk, findThroughDelegations } from './delegation-walk.js';
import { DirLock } from './lock.js';
import { listTrustedTargets, type ListedTarget, type TargetQuery } from './list-targets.js';
import { chooseNewestRelease, type ReleaseChoice, type ReleaseQuery } from './releases.js';
import { MetadataStore } from './metadata-store.js';
import { encodeURLSegment, joinURL, safeFileName, targetURLPath } from './safe-names.js';
import { cacheStatus, checkNotStale, type UpdaterStatus } from './status.js';
import { TrustedMetadataSet } from './trusted-metadata-set.js';
import { checkClock, RECORD_TIME, TIME_FILE, timeRecord } from './trusted-time.js';

/**
 * A download's temp file untouched this long belongs to a process that died: even the slowest
 * download the fetcher allows writes to it far more often (see removeAbandonedTempFilesOf).
 */
const ABANDONED_DOWNLOAD_MS = 24 * 60 * 60 * 1000;

export interface UpdaterOptions {
  /** Holds the trusted metadata; `root.json` there is the trust anchor (put there out of band). */
  metadataDir: string;
  /** Where `N.root.json`, `timestamp.json`... are fetched from. */
  metadataBaseUrl: string;
  /** Where downloadTarget stores targets by default. */
  targetDir?: string;
  /** Where targets are fetched from by default. */
  targetBaseUrl?: string;
  /** Defaults to an HttpFetcher built from `config`. */
  fetcher?: Fetcher;
  config?: Partial<UpdaterConfig>;
}

/**
 * The TUF client (specification section 5): refreshes the trusted metadata, looks targets up
 * through delegations, and downloads them verified. All trust decisions are TrustedMetadataSet's;
 * this class does the I/O around it. Calls on one Updater run one at a time, and a lock file
 * keeps other processes sharing the metadata dir out while metadata is being written.
 */
export class Updater {
  readonly config: Readonly<UpdaterConfig>;
  private readonly store: MetadataStore;
  private readonly metadataBaseUrl: string;
  private readonly targetDir: string | undefined;
  private readonly targetBaseUrl: string | undefined;
  private readonly fetcher: Fetcher;
  /**
   * The temp files of each download folder, listed once per updater: listing a folder of 100,000
   * downloaded targets for each download would make a bulk download quadratic. A temp file made
   * after the listing is too recent to be abandoned anyway.
   */
  private readonly downloadFolderTempFiles = new Map<string, Promise<string[]>>();
  /** The set of the last successful refresh. */
  private trusted: TrustedMetadataSet | undefined;
  private queue: Promise<void> = Promise.resolve();
  /** Calls queued or running in `exclusive`. */
  private pending = 0;

  constructor(options: UpdaterOptions) {
    this.config = resolveConfig(options.config);
    if (!options.metadataDir) throw new UsageError('metadataDir is required');
    checkBaseUrl('metadataBaseUrl', options.metadataBaseUrl);
    if (options.targetBaseUrl !== undefined) checkBaseUrl('targetBaseUrl', options.targetBaseUrl);
    if (options.targetDir !== undefined && resolve(options.targetDir) === resolve(options.metadataDir)) {
      // A target named "root.json" would otherwise overwrite the trust anchor.
      throw new UsageError('targetDir must not be the metadata dir');
    }
    this.store = new MetadataStore(options.metadataDir);
    this.metadataBaseUrl = options.metadataBaseUrl;
    this.targetDir = options.targetDir;
    this.targetBaseUrl = options.targetBaseUrl;
    this.fetcher =
      options.fetcher ??
      new HttpFetcher({
        requestTimeoutMs: this.config.requestTimeoutMs,
        idleTimeoutMs: this.config.idleTimeoutMs,
        minBytesPerSecond: this.config.minBytesPerSecond,
        retries: this.config.retries,
        retryBackoffMs: this.config.retryBackoffMs,
        userAgent: this.config.userAgent,
      });
  }

  /** What the last successful refresh trusted (for inspection and reporting), if any. */
  get trustedMetadata(): TrustedMetadataSet | undefined {
    return this.trusted;
  }

  /**
   * Updates root, timestamp, snapshot and top-level targets (spec 5.1-5.6.6). With
   * config.maxStalenessMs, fails with StaleMetadataError once no refresh from the repository has
   * succeeded for that long: an offline refresh then, and an online one that fails (its error is
   * the cause).
   */
  refresh(): Promise<void> {
    return this.exclusive(async () => {
      await this.refreshChecked();
    });
  }

  /**
   * What the metadata dir trusts, from the cache alone (no network): when the last refresh
   * succeeded, the version and expiry of every top-level role, the earliest expiry, and whether
   * the metadata is expired or stale (see cacheStatus).
   */
  status(): Promise<UpdaterStatus> {
    return this.exclusive(() => cacheStatus(this.store, this.config, this.config.referenceTime ?? new Date(), () => missingRoot(this.store.path('root'))));
  }

  /**
   * The trusted description of `targetPath`, found by a pre-order depth-first search of the
   * delegations (spec 5.6.7), or undefined when no trusted role lists it. Refreshes first if
   * this Updater has not refreshed yet.
   */
  getTargetInfo(targetPath: string): Promise<TargetFile | undefined> {
    // A lookup that only visits roles this refresh already verified, each through the delegator
    // reaching it, needs no I/O, no lock and no verification: it is answered at once, unless an
    // earlier call is still queued or running (whose outcome, a new refresh for instance, it must see).
    if (this.pending === 0 && this.trusted) {
      let found: TargetFile | undefined | typeof NOT_LOADED = NOT_LOADED;
      try {
        found = findInLoadedRoles(this.trusted, targetPath, this.config.maxDelegations);
      } catch {
        // Whatever went wrong is reported by the regular path below, as a rejection.
      }
      if (found !== NOT_LOADED) return Promise.resolve(found);
    }
    return this.exclusive(async () => {
      const trusted = this.trusted ?? (await this.refreshChecked());
      return this.findTarget(trusted, targetPath);
    });
  }

  /**
   * The local path of `info` if a file there has its exact length and hashes (hashed from disk,
   * streaming), else undefined.
   */
  async findCachedTarget(info: TargetFile, filePath?: string): Promise<string | undefined> {
    const path = filePath ?? this.defaultTargetPath(info);
    const action = `read the cached target "${info.path}"`;
    if ((await regularFileSize(path, action)) !== info.length) return undefined;
    try {
      const verifier = new StreamingVerifier(info.length, info.hashes, `cached target "${info.path}" (${path})`);
      for await (const chunk of readFileChunks(path, action)) verifier.update(chunk);
      verifier.finish();
    } catch (e) {
      if (e instanceof LengthOrHashMismatchError || isFileSystemError(e, 'ENOENT')) return undefined;
      throw e;
    }
    return path;
  }

  /**
   * Downloads `info` to `filePath` (default: its safe name in targetDir) and returns that path.
   * The length from metadata caps the download, every hash is checked while it streams, and the
   * file appears at `filePath` only once verified (written to a temp file, fsynced, renamed).
   * `options`: progress, cancellation, and resume of an interrupted download (see DownloadOptions).
   */
  async downloadTarget(info: TargetFile, filePath?: string, targetBaseUrl?: string, options: DownloadOptions = {}): Promise<string> {
    const url = await this.targetURL(info, targetBaseUrl);
    const path = filePath ?? this.defaultTargetPath(info);
    await makeDir(dirname(path), `create the folder of target "${info.path}"`);
    if (options.resume) {
      await downloadResumable(this.fetcher, url, info, path, options);
      return path;
    }
    const verifier = new StreamingVerifier(info.length, info.hashes, `target "${info.path}" (${url})`);
    const leftovers = await this.tempFilesIn(dirname(path));
    await removeAbandonedTempFilesOf(path, ABANDONED_DOWNLOAD_MS, leftovers);
    // A resumable download of this path that failed and was left for as long is given up too.
    await removeAbandonedTempFiles(dirname(path), ABANDONED_DOWNLOAD_MS, partialsOf(path, leftovers));
    const commit = (): void => {
      verifier.finish();
      checkNotCancelled(options.signal, info);
    };
    await writeFileAtomic(path, targetStream(this.fetcher, url, info, verifier, options), commit, { action: `write target "${info.path}"` });
    return path;
  }

  /**
   * Downloads several targets (downloadTarget each, into its default path), at most `concurrency`
   * (default 4) at a time; resolves to their paths in order. The first failure cancels the others.
   */
  downloadTargets(
    infos: readonly TargetFile[],
    options: Omit<DownloadOptions, 'onProgress'> & { concurrency?: number; onProgress?: (info: TargetFile, received: number, total: number) => void } = {},
  ): Promise<string[]> {
    const { concurrency = 4, onProgress, ...rest } = options;
    return runLimited(infos, concurrency, options.signal, (info, signal) =>
      this.downloadTarget(info, undefined, undefined, { ...rest, signal, onProgress: onProgress && ((r, t) => onProgress(info, r, t)) }),
    );
  }

  /**
   * The verified bytes of a small target, in memory, never more than its listed length (at most
   * `maxLength`, default 16 MiB: larger targets go to a file with downloadTarget).
   */
  async fetchTargetBytes(info: TargetFile, options: Omit<DownloadOptions, 'resume'> & { targetBaseUrl?: string; maxLength?: number } = {}): Promise<Uint8Array> {
    const maxLength = options.maxLength ?? 16 * 1024 * 1024;
    if (info.length > maxLength) throw new UsageError(`target "${info.path}" is ${info.length} bytes, more than maxLength ${maxLength} for an in-memory download`);
    return fetchVerifiedBytes(this.fetcher, await this.targetURL(info, options.targetBaseUrl), info, options);
  }

  /**
   * The verified bytes of a target as a stream, for consumers that pipe them on (a signature tool,
   * an unpacker): the stream fails with the mismatch error before its end if the bytes do not
   * verify (see verifiedStream), so act on them only once it has ended.
   */
  async *streamTarget(info: TargetFile, options: Omit<DownloadOptions, 'resume'> & { targetBaseUrl?: string } = {}): AsyncGenerator<Uint8Array> {
    yield* verifiedStream(this.fetcher, await this.targetURL(info, options.targetBaseUrl), info, options);
  }

  private async targetURL(info: TargetFile, targetBaseUrl: string | undefined): Promise<string> {
    if (this.config.offline) throw new UsageError(`offline mode: cannot download target "${info.path}"; use findCachedTarget`);
    const base = targetBaseUrl ?? this.targetBaseUrl;
    if (!base) throw new UsageError(`no targetBaseUrl to download target "${info.path}" from`);
    checkBaseUrl('targetBaseUrl', base);
    const root = this.trusted?.root ?? (await this.loadLocalRoot());
    const hashPrefix = root.signed.consistentSnapshot && this.config.prefixTargetsWithHash ? Object.values(info.hashes)[0] : undefined;
    return joinURL(base, targetURLPath(info.path, hashPrefix));
  }

  /**
   * The trusted targets under `query.prefix` and/or matching `query.pattern`, with their custom
   * metadata, streamed role by role: each is exactly what getTargetInfo(path) returns, found
   * through the delegations as lookups find it (see listTrustedTargets). Refreshes first if this
   * Updater has not refreshed yet; a refresh while listing makes the listing fail.
   */
  async *listTargets(query: TargetQuery = {}): AsyncGenerator<ListedTarget> {
    const trusted = await this.exclusive(async () => this.trusted ?? (await this.refreshChecked()));
    const load = (role: string, delegator: string): Metadata<Targets> | Promise<Metadata<Targets>> =>
      trusted.getTargetsRole(role, delegator) ??
      this.exclusive(async () => {
        if (this.trusted !== trusted) throw new UsageError('the trusted metadata was refreshed while targets were being listed: list again');
        return this.loadTargetsRole(trusted, role, delegator);
      });
    yield* listTrustedTargets(query, this.config.maxDelegations, load);
  }

  /**
   * The newest trusted release (see chooseNewestRelease): the highest semver version satisfying
   * `query.range` among the targets listTargets(query) reports whose custom fields match.
   */
  findNewestRelease(query: ReleaseQuery = {}): Promise<ReleaseChoice> {
    return chooseNewestRelease(this.listTargets(query), query);
  }

  // ---- refresh ---------------------------------------------------------------------------------

  /** doRefresh under config.maxStalenessMs (see refresh). */
  private async refreshChecked(): Promise<TrustedMetadataSet> {
    const now = (): Date => this.config.referenceTime ?? new Date();
    if (this.config.offline) await checkNotStale(this.store.dir, this.config, now());
    try {
      return await this.doRefresh();
    } catch (e) {
      await checkNotStale(this.store.dir, this.config, now()).catch((stale: unknown) => {
        if (stale instanceof StaleMetadataError) stale.cause = e;
        throw stale;
      });
      throw e;
    }
  }

  private async doRefresh(): Promise<TrustedMetadataSet> {
    const { referenceTime, offline } = this.config;
    this.trusted = undefined; // a failed refresh must not leave the previous one in use
    const now = new Date();
    const recorded = referenceTime ? undefined : await checkClock(this.store.dir, now, this.config.clockRollbackToleranceMs);
    const rootBytes = await this.store.read('root', this.config.rootMaxLength);
    if (!rootBytes) throw missingRoot(this.store.path('root'));
    // Spec 5.1: one reference time for the whole refresh (and for later lookups of this refresh).
    const trusted = new TrustedMetadataSet(rootBytes, referenceTime ?? now);
    if (!offline) await this.updateRoot(trusted);
    trusted.checkFinalRoot();
    const cachedSnapshotLength = await this.updateTimestamp(trusted);
    await this.updateSnapshot(trusted, cachedSnapshotLength);
    await this.loadTargetsRole(trusted, 'targets', 'root');
    const record = !referenceTime && !offline ? timeRecord(now, recorded) : undefined;
    if (record) this.store.queueFileWrite(TIME_FILE, record, RECORD_TIME);
    await this.store.flush(); // what this refresh trusted is on disk before it counts as done
    this.trusted = trusted;
    return trusted;
  }

  /** Spec 5.3: N+1.root.json until there is none, each persisted as soon as it is trusted. */
  private async updateRoot(trusted: TrustedMetadataSet): Promise<void> {
    let cacheCleared = false;
    for (let i = 0; i < this.config.maxRootRotations; i++) {
      const version = trusted.root.signed.version + 1;
      let bytes: Uint8Array;
      try {
        bytes = await fetchBytes(this.fetcher, this.metadataURL(`${version}.root.json`), this.config.rootMaxLength);
      } catch (e) {
        if (e instanceof DownloadHTTPError && (e.status === 404 || e.status === 403)) return;
        throw e;
      }
      trusted.updateRoot(bytes);
      // 5.3.11, done before the new root is persisted so that a crash in between cannot leave a
      // rotated root beside the timestamp and snapshot it must no longer be compared with.
      if (!cacheCleared && trusted.timestampOrSnapshotKeysRotated()) {
        await this.store.remove('timestamp');
        await this.store.remove('snapshot');
        cacheCleared = true;
      }
      await this.store.writeRoot(bytes);
    }
  }

  /**
   * Spec 5.4: the cached timestamp is the rollback baseline; an equal version keeps it. Returns the
   * length the cached timestamp gives its snapshot (the cached snapshot's length, if any).
   */
  private async updateTimestamp(trusted: TrustedMetadataSet): Promise<number | undefined> {
    const cached = await this.readCached('timestamp', this.config.timestampMaxLength);
    if (cached) this.tryCached(() => trusted.updateTimestamp(cached, true));
    const cachedSnapshotLength = trusted.timestamp?.signed.snapshotMeta.length;
    if (this.config.offline) {
      if (!cached) throw missingCache(this.store.path('timestamp'));
    } else {
      const bytes = await fetchBytes(this.fetcher, this.metadataURL('timestamp.json'), this.config.timestampMaxLength);
      try {
        trusted.updateTimestamp(bytes);
        this.store.queueWrite('timestamp', bytes);
      } catch (e) {
        if (!(e instanceof EqualVersionError)) throw e;
      }
    }
    trusted.checkFinalTimestamp();
    return cachedSnapshotLength;
  }

  /** Spec 5.5: the cached snapshot is used if it is the one timestamp names, else fetched. */
  private async updateSnapshot(trusted: TrustedMetadataSet, cachedLength: number | undefined): Promise<void> {
    const meta = trusted.checkFinalTimestamp().signed.snapshotMeta;
    // The new snapshot is capped by the length timestamp signs. The cached one is read up to the
    // length the previous timestamp gave it: a snapshot of thousands of bins can pass
    // snapshotMaxLength, and a cached snapshot left unread would lose spec 5.5.5's rollback checks.
    const maxLength = meta.length ?? this.config.snapshotMaxLength;
    const cached = await this.readCached('snapshot', Math.max(this.config.snapshotMaxLength, maxLength, cachedLength ?? 0));
    if (cached) {
      const usable = this.tryCached(() => {
        trusted.updateSnapshot(cached, true);
        trusted.checkFinalSnapshot();
      });
      if (usable) return;
    } else if (this.config.offline) {
      throw missingCache(this.store.path('snapshot'));
    }
    const file = trusted.root.signed.consistentSnapshot ? `${meta.version}.snapshot.json` : 'snapshot.json';
    const bytes = await fetchBytes(this.fetcher, this.metadataURL(file), maxLength, meta.length !== undefined);
    trusted.updateSnapshot(bytes, false, file);
    this.store.queueWrite('snapshot', bytes);
  }

  /**
   * Spec 5.6.1-5.6.6 for the top-level targets role and, lazily, for delegated ones: a role already
   * trusted in this refresh is reached through `delegator` without I/O (verified against its keys
   * unless it was before); else the cached file if it passes every check, else the repository's.
   */
  private async loadTargetsRole(trusted: TrustedMetadataSet, name: string, delegator: string): Promise<Metadata<Targets>> {
    const loaded = trusted.reachTargetsRole(name, delegator);
    if (loaded) return loaded;
    const snapshot = trusted.checkFinalSnapshot();
    const meta = snapshot.signed.meta.get(`${name}.json`);
    // Checked before any request: a role snapshot does not list cannot be trusted whatever is served.
    if (!meta) throw new RoleNotFoundError(`role "${name}": delegated by "${delegator}" but snapshot does not list ${name}.json`);
    const maxLength = meta.length ?? this.config.targetsMaxLength;
    const cached = await this.readCached(name, maxLength);
    if (cached) {
      let md: Metadata<Targets> | undefined;
      this.tryCached(() => (md = trusted.updateDelegatedTargets(cached, name, delegator)));
      if (md) return md;
    } else if (this.config.offline) {
      throw missingCache(this.store.path(name));
    }
    const consistent = trusted.root.signed.consistentSnapshot;
    const file = consistent ? `${meta.version}.${name}.json` : `${name}.json`;
    const urlName = consistent ? `${meta.version}.${encodeURLSegment(name)}.json` : `${encodeURLSegment(name)}.json`;
    const bytes = await fetchBytes(this.fetcher, this.metadataURL(urlName), maxLength, meta.length !== undefined);
    const md = trusted.updateDelegatedTargets(bytes, name, delegator, file);
    this.store.queueWrite(name, bytes);
    return md;
  }

  // ---- lookup ----------------------------------------------------------------------------------

  /** Spec 5.6.7, loading (and verifying) each role the search reaches that is not loaded yet. */
  private async findTarget(trusted: TrustedMetadataSet, targetPath: string): Promise<TargetFile | undefined> {
    const found = await findThroughDelegations(targetPath, this.config.maxDelegations, (role, delegator) => this.loadTargetsRole(trusted, role, delegator));
    return found?.target;
  }

  // ---- helpers ---------------------------------------------------------------------------------

  /** Runs `fn` after every earlier call on this Updater, holding the metadata dir lock when writing. */
  private async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.queue;
    let done!: () => void;
    this.queue = new Promise((r) => (done = r));
    this.pending++;
    try {
      await previous;
      // Offline refreshes write nothing, so they work on read-only metadata dirs.
      if (this.config.offline) return await fn();
      const lock = await DirLock.acquire(this.store.dir, this.config.lockTimeoutMs);
      try {
        await removeStaleTempFiles(this.store.dir);
        let result: T;
        try {
          result = await fn();
        } catch (e) {
          // No write may still run once the lock is released. What the call wrote is made durable
          // too; a write that failed came before `e` (calls go on while their writes run), and
          // is the failure reported.
          throw await this.store.flush().then(
            () => e,
            (writeFailure: unknown) => writeFailure,
          );
        }
        await this.store.flush(); // the renames of lookups that cached delegated roles
        return result;
      } finally {
        await lock.release();
      }
    } finally {
      this.pending--;
      done();
    }
  }

  /**
   * Cached metadata is only a candidate: rejected (too long, or failing verification in
   * tryCached), it is ignored and fetched again. Offline there is nothing to fall back to, so the
   * reason it was rejected is the error.
   *
   * A folder in the file's place holds no metadata, so online it counts as no cached copy (it is no
   * lost rollback baseline: whoever could make it could as well have deleted the file) and the
   * verified fetch replaces it if it is empty (writeFileAtomic; a folder with content is never
   * deleted, and writing then fails naming it). Any other failure to read the cache (permissions,
   * I/O error) is an error: ignoring it would silently drop the rollback baseline the cached
   * timestamp and snapshot are.
   */
  private async readCached(role: string, maxLength: number): Promise<Uint8Array | undefined> {
    try {
      return await this.store.read(role, maxLength);
    } catch (e) {
      if (this.config.offline || isDiskFailure(e)) throw e;
      return undefined;
    }
  }

  private tryCached(fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (e) {
      if (this.config.offline) throw e;
      return false;
    }
  }

  private async loadLocalRoot(): Promise<Metadata<Root>> {
    const bytes = await this.store.read('root', this.config.rootMaxLength);
    if (!bytes) throw missingRoot(this.store.path('root'));
    return new TrustedMetadataSet(bytes, this.config.referenceTime ?? new Date()).root;
  }

  private metadataURL(fileName: string): string {
    return joinURL(this.metadataBaseUrl, fileName);
  }

  private tempFilesIn(dir: string): Promise<string[]> {
    let listing = this.downloadFolderTempFiles.get(dir);
    if (!listing) this.downloadFolderTempFiles.set(dir, (listing = listTempFiles(dir, [TEMP_PREFIX, PARTIAL_PREFIX])));
    return listing;
  }

  private defaultTargetPath(info: TargetFile): string {
    if (!this.targetDir) throw new UsageError(`no targetDir (and no filePath) for target "${info.path}"`);
    return join(this.targetDir, safeFileName(info.path));
  }
}

const NOT_LOADED = Symbol('not loaded');

/**
 * The delegation walk over roles `trusted` already verified against the delegator reaching them;
 * NOT_LOADED when it reaches one it did not (not loaded, or verified through other delegators only).
 */
function findInLoadedRoles(trusted: TrustedMetadataSet, targetPath: string, maxDelegations: number): TargetFile | undefined | typeof NOT_LOADED {
  const walk = delegationWalk(targetPath, maxDelegations);
  for (let step = walk.next(); ; ) {
    if (step.done) return step.value;
    const md = trusted.getTargetsRole(...step.value);
    if (!md) return NOT_LOADED;
    step = walk.next(md);
  }
}

function checkBaseUrl(name: string, url: string): void {
  let parsed: URL | undefined;
  try {
    parsed = new URL(url);
  } catch {
    parsed = undefined;
  }
  if (!parsed || (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')) {
    throw new UsageError(`${name} must be an http or https URL, got "${url}"`);
  }
}

function missingRoot(path: string): StorageError {
  return new StorageError(`no trusted root at ${path}: copy the initial root.json there first (tufkit client init)`);
}

function missingCache(path: string): StorageError {
  return new StorageError(`offline mode: ${path} is missing, so it cannot be verified from the cache`);
}
