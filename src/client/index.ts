export { Updater, type UpdaterOptions } from './updater.js';
export { DEFAULT_CONFIG, resolveConfig, type UpdaterConfig } from './config.js';
export { HttpFetcher, fetchBytes, type Fetcher, type HttpFetcherOptions } from './fetcher.js';
export { TrustedMetadataSet } from './trusted-metadata-set.js';
export { safeFileName, encodeURLSegment } from './safe-names.js';
export type { ListedTarget, TargetQuery } from './list-targets.js';
export type { Release, ReleaseChoice, ReleaseQuery, UnparsableRelease } from './releases.js';
export type { DownloadOptions } from './download.js';
export type { FetchOptions } from './fetcher.js';
