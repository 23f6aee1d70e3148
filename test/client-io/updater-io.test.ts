import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HttpFetcher, type Fetcher } from '../../src/client/fetcher.js';
import { TIME_FILE } from '../../src/client/trusted-time.js';
import { Updater, type UpdaterOptions } from '../../src/client/updater.js';
import {
  ClockRollbackError,
  DownloadHTTPError,
  ExpiredMetadataError,
  LengthOrHashMismatchError,
  StorageError,
  UnsafePathError,
  UsageError,
} from '../../src/errors.js';
import { RouteServer, sleep } from './http-server.js';
import { MiniRepo } from './mini-repo.js';

// The updater's own I/O: lock, clock record, offline mode, what lands on disk. (Trust rules and
// attacks are tested end to end in test/client.)

let server: RouteServer;
let repo: MiniRepo;
let urls: { metadataUrl: string; targetsUrl: string };
beforeAll(async () => {
  server = await RouteServer.start();
  repo = await MiniRepo.create({ 'a.txt': 'hello', 'dir/b c.txt': 'second', '../up': 'escape?' });
  urls = repo.serve(server);
});
afterAll(() => server.close());

let base: string;
let metadataDir: string;
let targetDir: string;
beforeEach(async () => {
  base = await mkdtemp(path.join(os.tmpdir(), 'tufkit-updater-io-'));
  metadataDir = path.join(base, 'metadata');
  targetDir = path.join(base, 'targets');
  await mkdir(metadataDir);
  await writeFile(path.join(metadataDir, 'root.json'), repo.rootBytes);
});
afterEach(() => rm(base, { recursive: true, force: true }));

const quick = { retries: 0, requestTimeoutMs: 2000, idleTimeoutMs: 1000 };

/** A fetcher that logs every URL under `name` (and can be slowed down to provoke interleaving). */
function logging(name: string, log: string[], delayMs = 0): Fetcher {
  const inner = new HttpFetcher(quick);
  return {
    async *fetch(url, maxLength) {
      log.push(`${name} ${new URL(url).pathname}`);
      await sleep(delayMs);
      yield* inner.fetch(url, maxLength);
    },
  };
}

const noNetwork: Fetcher = {
  // eslint-disable-next-line require-yield
  async *fetch(url) {
    throw new Error(`offline updater made a request: ${url}`);
  },
};

function updater(extra: Partial<UpdaterOptions> = {}): Updater {
  return new Updater({ metadataDir, metadataBaseUrl: urls.metadataUrl, targetDir, targetBaseUrl: urls.targetsUrl, config: quick, ...extra });
}

describe('Updater I/O', () => {
  it('leaves only trusted metadata as *.json, byte for byte as served, plus its dot-files', async () => {
    await updater().refresh();
    const names = (await readdir(metadataDir)).sort();
    expect(names).toEqual([TIME_FILE, 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json'].sort());
    expect(await readFile(path.join(metadataDir, 'snapshot.json'))).toEqual(Buffer.from(repo.files.get('/metadata/1.snapshot.json')!));
    expect(await readFile(path.join(metadataDir, 'targets.json'))).toEqual(Buffer.from(repo.files.get('/metadata/1.targets.json')!));
  });

  it('serializes two updaters sharing one metadata dir', async () => {
    const log: string[] = [];
    const a = updater({ fetcher: logging('A', log, 15) });
    const b = updater({ fetcher: logging('B', log, 15) });
    await Promise.all([a.refresh(), b.refresh()]);
    const owners = log.map((l) => l[0]);
    const switches = owners.filter((o, i) => i > 0 && o !== owners[i - 1]).length;
    expect(switches).toBe(1); // all of one refresh, then all of the other
    expect(owners).toContain('A');
    expect(owners).toContain('B');
  });

  it('refuses a clock set back before the newest trusted time, before any request', async () => {
    await writeFile(path.join(metadataDir, TIME_FILE), `${new Date(Date.now() + 86400_000).toISOString()}\n`);
    const log: string[] = [];
    await expect(updater({ fetcher: logging('A', log) }).refresh()).rejects.toBeInstanceOf(ClockRollbackError);
    expect(log).toEqual([]);
    // A fixed reference time is the caller's choice: no clock check then.
    await updater({ config: { ...quick, referenceTime: new Date() } }).refresh();
  });

  it('records the newest trusted time after a refresh', async () => {
    const before = Date.now();
    await updater().refresh();
    const recorded = Date.parse((await readFile(path.join(metadataDir, TIME_FILE), 'utf8')).trim());
    expect(recorded).toBeGreaterThanOrEqual(before - 1000);
  });

  it('offline: verifies and looks up from the cache alone, without any request', async () => {
    const online = updater();
    await online.refresh();
    const info = await online.getTargetInfo('a.txt');
    await online.downloadTarget(info!);
    const offline = updater({ fetcher: noNetwork, config: { offline: true } });
    const cachedInfo = await offline.getTargetInfo('a.txt');
    expect(cachedInfo?.hashes).toEqual(info!.hashes);
    expect(await offline.findCachedTarget(cachedInfo!)).toBe(path.join(targetDir, 'a.txt'));
    await expect(offline.downloadTarget(cachedInfo!)).rejects.toBeInstanceOf(UsageError);
    // Still fully verified: at a reference time after expiry the cache is refused, with its type.
    const late = updater({ fetcher: noNetwork, config: { offline: true, referenceTime: new Date(Date.now() + 2 * 86400_000) } });
    await expect(late.refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
  });

  it('offline with an empty cache fails with StorageError and no request', async () => {
    await expect(updater({ fetcher: noNetwork, config: { offline: true } }).refresh()).rejects.toBeInstanceOf(StorageError);
  });

  it('fails without a trusted root and makes no request', async () => {
    await rm(path.join(metadataDir, 'root.json'));
    const log: string[] = [];
    await expect(updater({ fetcher: logging('A', log) }).refresh()).rejects.toBeInstanceOf(StorageError);
    expect(log).toEqual([]);
  });

  it('keeps download error types (no wrapping)', async () => {
    const u = updater({ metadataBaseUrl: `${server.url}/nowhere/` });
    const e = await u.refresh().catch((err: unknown) => err);
    expect(e).toBeInstanceOf(DownloadHTTPError);
    expect((e as DownloadHTTPError).status).toBe(404);
  });
});

describe('Updater targets on disk', () => {
  it('downloads by hash-prefixed, encoded URL to the safe name inside targetDir', async () => {
    const u = updater();
    const log: string[] = [];
    const logged = updater({ fetcher: logging('A', log) });
    const info = await u.getTargetInfo('dir/b c.txt');
    const file = await logged.downloadTarget(info!);
    expect(file).toBe(path.join(targetDir, 'dir%2Fb%20c.txt'));
    expect(await readFile(file, 'utf8')).toBe('second');
    expect(log.at(-1)).toBe(`A /targets/dir/${info!.hashes.sha256}.b%20c.txt`);
  });

  it('never writes outside targetDir for a path like ../up', async () => {
    const u = updater();
    const info = await u.getTargetInfo('../up');
    expect(info).toBeDefined();
    // The URL would need a ".." segment: refused before any request; nothing written anywhere.
    await expect(u.downloadTarget(info!)).rejects.toBeInstanceOf(UnsafePathError);
    expect(await u.findCachedTarget(info!)).toBeUndefined();
    await writeFile(path.join(base, 'up'), 'escape?'); // the right bytes, in the wrong place
    expect(await u.findCachedTarget(info!)).toBeUndefined(); // looks at targetDir/..%2Fup only
    expect((await readdir(base)).sort()).toEqual(['metadata', 'up']);
  });

  it('reuses a cached target only when length and hashes match', async () => {
    const u = updater();
    const info = (await u.getTargetInfo('a.txt'))!;
    expect(await u.findCachedTarget(info)).toBeUndefined();
    const file = await u.downloadTarget(info);
    expect(await u.findCachedTarget(info)).toBe(file);
    await writeFile(file, 'hellO'); // same length, other bytes
    expect(await u.findCachedTarget(info)).toBeUndefined();
  });

  it('leaves no file when the served bytes do not match, and keeps the verified one', async () => {
    const u = updater();
    const info = (await u.getTargetInfo('a.txt'))!;
    const file = await u.downloadTarget(info);
    const tampered = server.route(`/tampered/${info.hashes.sha256}.a.txt`, (_req, res) => void res.end('HELLO'));
    expect(tampered).toContain('/tampered/');
    await expect(u.downloadTarget(info, undefined, `${server.url}/tampered/`)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(await readFile(file, 'utf8')).toBe('hello');
    expect(await readdir(targetDir)).toEqual(['a.txt']);
  });

  it('refuses a targetDir equal to the metadata dir', () => {
    expect(() => updater({ targetDir: metadataDir })).toThrow(UsageError);
  });
});
