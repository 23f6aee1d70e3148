import { join } from 'node:path';
import type { Command } from 'commander';
import { makeDir, readFileCapped, writeFileAtomic } from '../src/client/atomic-file.js';
import { DEFAULT_CONFIG } from '../src/client/config.js';
import { HttpFetcher, type Fetcher } from '../src/client/fetcher.js';
import { DirLock } from '../src/client/lock.js';
import { TrustedMetadataSet } from '../src/client/trusted-metadata-set.js';
import { Updater } from '../src/client/updater.js';
import { StorageError, UsageError } from '../src/errors.js';
import { action } from './run.js';

// The tuf-conformance client protocol (CLIENT-CLI.md): `init`, `refresh`, `download`, with the
// options of `tufkit client` accepted before or after the command word, exit 0 or 1.

interface ClientOptions {
  metadataDir?: string;
  metadataUrl?: string;
  targetName: string[];
  targetBaseUrl?: string;
  targetDir?: string;
}

function say(line: string): void {
  process.stderr.write(`tufkit: ${line}\n`);
}

function need<K extends keyof ClientOptions>(opts: ClientOptions, key: K, flag: string): NonNullable<ClientOptions[K]> {
  const v = opts[key];
  if (v === undefined || (Array.isArray(v) && v.length === 0)) throw new UsageError(`${flag} is required`);
  return v as NonNullable<ClientOptions[K]>;
}

/** Shows downloads of at least this size with a progress bar, when stderr is a terminal. */
const PROGRESS_MIN_BYTES = 1 << 20;

/** Prints one line per fetched file, and a progress bar while a large target streams in. */
class ReportingFetcher implements Fetcher {
  /** Expected length of the target being downloaded (progress is only shown for targets). */
  targetLength: number | undefined;

  constructor(private readonly inner: Fetcher) {}

  async *fetch(url: string, maxLength: number): AsyncGenerator<Uint8Array> {
    const name = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? url);
    const total = this.targetLength;
    const bar = total !== undefined && total >= PROGRESS_MIN_BYTES && process.stderr.isTTY;
    let received = 0;
    let shown = -1;
    for await (const chunk of this.inner.fetch(url, maxLength)) {
      received += chunk.length;
      if (bar) {
        const pct = Math.floor((received * 100) / total);
        if (pct !== shown) {
          shown = pct;
          const filled = Math.round(pct / 5);
          process.stderr.write(`\r  [${'#'.repeat(filled)}${' '.repeat(20 - filled)}] ${pct}% ${mb(received)}/${mb(total)} MB`);
        }
      }
      yield chunk;
    }
    if (bar) process.stderr.write('\n');
    say(`fetched ${name} (${received} bytes)`);
  }
}

function mb(n: number): string {
  return (n / 1e6).toFixed(1);
}

function makeUpdater(opts: ClientOptions, fetcher: Fetcher, withTargets: boolean): Updater {
  return new Updater({
    metadataDir: need(opts, 'metadataDir', '--metadata-dir'),
    metadataBaseUrl: need(opts, 'metadataUrl', '--metadata-url'),
    targetDir: withTargets ? need(opts, 'targetDir', '--target-dir') : undefined,
    targetBaseUrl: withTargets ? need(opts, 'targetBaseUrl', '--target-base-url') : undefined,
    fetcher,
  });
}

function reportTrusted(updater: Updater): void {
  const set = updater.trustedMetadata;
  if (!set) return;
  say(`trusted root v${set.root.signed.version}`);
  say(`trusted timestamp v${set.timestamp?.signed.version}`);
  say(`trusted snapshot v${set.snapshot?.signed.version}`);
  say(`trusted targets v${set.targets?.signed.version}`);
}

/** Copies a trusted root into the metadata dir, after checking it parses and is self-signed. No network. */
async function init(metadataDir: string, rootFile: string): Promise<void> {
  const bytes = await readFileCapped(rootFile, DEFAULT_CONFIG.rootMaxLength, 'read the initial root');
  if (!bytes) throw new StorageError(`${rootFile}: no such file`);
  const root = new TrustedMetadataSet(bytes, new Date()).root;
  await makeDir(metadataDir, 'create the metadata folder');
  const lock = await DirLock.acquire(metadataDir, DEFAULT_CONFIG.lockTimeoutMs);
  try {
    await writeFileAtomic(join(metadataDir, 'root.json'), bytes, undefined, { action: 'write the trusted root' });
  } finally {
    await lock.release();
  }
  say(`trusted root v${root.signed.version} stored as ${join(metadataDir, 'root.json')}`);
}

async function download(opts: ClientOptions): Promise<void> {
  const names = need(opts, 'targetName', '--target-name');
  const fetcher = new ReportingFetcher(new HttpFetcher());
  const updater = makeUpdater(opts, fetcher, true);
  // One updater for every target: metadata is refreshed and verified once; the first failure stops.
  for (const name of names) {
    const info = await updater.getTargetInfo(name);
    if (!info) throw new UsageError(`target "${name}" is not listed by any trusted targets role`);
    const cached = await updater.findCachedTarget(info);
    if (cached) {
      say(`target ${name}: already present and verified at ${cached}`);
      continue;
    }
    fetcher.targetLength = info.length;
    try {
      const path = await updater.downloadTarget(info);
      say(`target ${name}: downloaded and verified (${info.length} bytes) to ${path}`);
    } finally {
      fetcher.targetLength = undefined;
    }
  }
}

/** Prints the trusted targets as they stream in: one line each, or one JSON object per line. */
async function list(opts: ClientOptions, query: { prefix?: string; pattern?: string; json?: boolean }): Promise<void> {
  const updater = makeUpdater(opts, new HttpFetcher(), false);
  let count = 0;
  for await (const { path, info, role } of updater.listTargets({ prefix: query.prefix, pattern: query.pattern })) {
    count++;
    const line = query.json
      ? JSON.stringify({ path, length: info.length, hashes: info.hashes, custom: info.custom, role })
      : `${path}\t${info.length}\t${role}${info.custom === undefined ? '' : `\t${JSON.stringify(info.custom)}`}`;
    process.stdout.write(`${line}\n`);
  }
  say(`${count} trusted target${count === 1 ? '' : 's'}`);
}

/**
 * Prints what the metadata dir trusts, from the cache alone. Exit code for monitoring: 0 fresh,
 * 2 expired or stale (--max-staleness), 1 when the cache cannot be read or does not verify.
 */
async function status(opts: ClientOptions, flags: { json?: boolean; maxStaleness?: string }): Promise<void> {
  let maxStalenessMs: number | undefined;
  if (flags.maxStaleness !== undefined) {
    maxStalenessMs = Number(flags.maxStaleness) * 1000;
    if (!/^\d+(\.\d+)?$/.test(flags.maxStaleness)) throw new UsageError(`--max-staleness must be a number of seconds, got "${flags.maxStaleness}"`);
  }
  // Offline: no request is made (the URL is required by Updater, never used), no lock is taken.
  const updater = new Updater({
    metadataDir: need(opts, 'metadataDir', '--metadata-dir'),
    metadataBaseUrl: opts.metadataUrl ?? 'http://127.0.0.1/',
    config: { offline: true, maxStalenessMs },
  });
  const st = await updater.status();
  if (flags.json) {
    process.stdout.write(`${JSON.stringify(st)}\n`);
  } else {
    const ago = st.lastRefresh ? ` (${Math.round((st.checkedAt.getTime() - st.lastRefresh.getTime()) / 1000)} s ago)` : '';
    const lines = [`last refresh: ${st.lastRefresh ? `${st.lastRefresh.toISOString()}${ago}` : 'never'}`];
    for (const [role, r] of Object.entries(st.roles)) lines.push(`${role}: ${r ? `v${r.version}, expires ${r.expires.toISOString()}` : 'not cached'}`);
    lines.push(`earliest expiry: ${st.earliestExpiry.role} at ${st.earliestExpiry.expires.toISOString()}`);
    lines.push(`state: ${st.expired ? 'expired' : st.stale ? 'stale' : 'ok'}`);
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  if (st.expired || st.stale) process.exitCode = 2;
}

export function registerClient(program: Command): void {
  const client = program
    .command('client')
    .description('TUF client (tuf-conformance protocol): init, refresh, download')
    .option('--metadata-dir <dir>', 'folder of the trusted metadata')
    .option('--metadata-url <url>', 'base URL of the repository metadata')
    .option('--target-name <path>', 'target path to download (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--target-base-url <url>', 'base URL of the repository targets')
    .option('--target-dir <dir>', 'folder for downloaded targets');

  client
    .command('init')
    .description('trust ROOT (copied into the metadata dir as root.json); no network request')
    .argument('<root>', 'initial trusted root.json')
    .action(
      action(async (rootFile: string) => {
        const opts = client.opts<ClientOptions>();
        await init(need(opts, 'metadataDir', '--metadata-dir'), rootFile);
      }),
    );

  client
    .command('refresh')
    .description('update the trusted metadata from the repository')
    .action(
      action(async () => {
        const updater = makeUpdater(client.opts<ClientOptions>(), new ReportingFetcher(new HttpFetcher()), false);
        await updater.refresh();
        reportTrusted(updater);
      }),
    );

  client
    .command('list')
    .description('refresh, then print the trusted targets (path, length, role, custom), found through delegations as lookups find them')
    .option('--prefix <prefix>', 'only target paths starting with this')
    .option('--pattern <pattern>', 'only target paths matching this delegation-style pattern ("*" never crosses "/")')
    .option('--json', 'one JSON object per line')
    .action(action(async (query: { prefix?: string; pattern?: string; json?: boolean }) => list(client.opts<ClientOptions>(), query)));

  client
    .command('status')
    .description('what the metadata dir trusts, from the cache alone; exit 0 fresh, 2 expired or stale, 1 error')
    .option('--json', 'one JSON object')
    .option('--max-staleness <seconds>', 'stale when the last successful refresh is older than this')
    .action(action(async (flags: { json?: boolean; maxStaleness?: string }) => status(client.opts<ClientOptions>(), flags)));

  client
    .command('download')
    .description('refresh, then download and verify each --target-name into --target-dir')
    .action(action(async () => download(client.opts<ClientOptions>())));
}
