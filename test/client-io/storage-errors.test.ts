import { execFileSync } from 'node:child_process';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DownloadError, DownloadHTTPError, FileSystemError, SlowRetrievalError, StorageError, type Fetcher } from '../../src/index.js';
import { LOCK_FILE } from '../../src/client/lock.js';
import { TIME_FILE } from '../../src/client/trusted-time.js';
import { cleanup, downloadArgs, ensureBuilt, errorOf, refreshArgs, runCli, setup, type Env } from '../helpers/client.js';
import { utf8 } from '../helpers/repo.js';

// No raw error escapes the client: every file-system failure is a FileSystemError naming what was
// being done and on which path (system error as cause), every fetcher failure a DownloadError.
// Failures that need a read-only or full disk are in disk-errors.test.ts.

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

const A = utf8('target a\n');
const TEAM = utf8('a target of the delegated role\n');

async function env(): Promise<Env> {
  return setup({
    build: async (r) => {
      r.addTarget('a.txt', A);
      await r.delegate('targets', 'team', { paths: ['team/*'] });
      r.addTarget('team/x.txt', TEAM, 'team');
      await r.publish();
    },
  });
}

/** Checks `e` is exactly a FileSystemError about `file`, for `action`, caused by a system error `code`. */
function expectFsError(e: unknown, file: string, action: string, code: string): void {
  expect(e).toBeInstanceOf(FileSystemError);
  const err = e as FileSystemError;
  expect(err.constructor).toBe(FileSystemError);
  expect(err).toBeInstanceOf(StorageError);
  expect(err.path).toBe(file);
  expect(err.message).toContain(`cannot ${action} (${file})`);
  expect(err.code).toBe(code);
  expect(err.cause).toBeInstanceOf(Error);
  expect((err.cause as NodeJS.ErrnoException).code).toBe(code);
}

/** Puts a folder holding one file where `file` is (a folder with content is never deleted). */
async function folderAt(file: string, withContent = true): Promise<void> {
  await rm(file, { force: true });
  await mkdir(file);
  if (withContent) await writeFile(path.join(file, 'keep'), 'not tufkit data');
}

describe('metadata files that are folders', () => {
  it('root.json: FileSystemError reading the trusted root, before any request, online and offline', async () => {
    const e = await env();
    const root = path.join(e.metadataDir, 'root.json');
    await folderAt(root, false);
    expectFsError(await errorOf(() => e.updater().refresh()), root, 'read the trusted root', 'EISDIR');
    expectFsError(await errorOf(() => e.updater({ offline: true }).refresh()), root, 'read the trusted root', 'EISDIR');
    expect(e.server.requests).toEqual([]);
  });

  it('timestamp.json, empty folder, online: counts as not cached and the verified fetch replaces it', async () => {
    const e = await env();
    const file = path.join(e.metadataDir, 'timestamp.json');
    await folderAt(file, false);
    await e.updater().refresh();
    expect(await readFile(file)).toEqual(Buffer.from(e.repo.bytesOf('timestamp')));
  });

  it('timestamp.json, folder with content: online the write names it (content kept), offline the read does', async () => {
    const e = await env();
    await e.updater().refresh();
    const file = path.join(e.metadataDir, 'timestamp.json');
    await folderAt(file);
    expectFsError(await errorOf(() => e.updater().refresh()), file, 'write the cached metadata of role "timestamp"', 'EISDIR');
    expect(await readdir(file)).toEqual(['keep']);
    expectFsError(await errorOf(() => e.updater({ offline: true }).refresh()), file, 'read the cached metadata of role "timestamp"', 'EISDIR');
  });

  it("a delegated role's file: replaced when an empty folder, else a FileSystemError naming it", async () => {
    const e = await env();
    expect((await e.updater().getTargetInfo('team/x.txt'))?.length).toBe(TEAM.length);
    const file = path.join(e.metadataDir, 'team.json');
    expect((await readFile(file)).length).toBeGreaterThan(0);

    await folderAt(file, false);
    expect((await e.updater().getTargetInfo('team/x.txt'))?.length).toBe(TEAM.length);
    expect(await readFile(file)).toEqual(Buffer.from(e.repo.bytesOf('team')));

    await folderAt(file);
    const online = await errorOf(() => e.updater().getTargetInfo('team/x.txt'));
    expectFsError(online, file, 'write the cached metadata of role "team"', 'EISDIR');
    const offline = await errorOf(() => e.updater({ offline: true }).getTargetInfo('team/x.txt'));
    expectFsError(offline, file, 'read the cached metadata of role "team"', 'EISDIR');
  });

  it('the trusted-time record: an empty folder is replaced, one with content is named', async () => {
    const e = await env();
    const file = path.join(e.metadataDir, TIME_FILE);
    await folderAt(file, false);
    await e.updater().refresh();
    expect(Date.parse((await readFile(file, 'utf8')).trim())).toBeGreaterThan(0);
    await folderAt(file);
    expectFsError(await errorOf(() => e.updater().refresh()), file, 'record the newest trusted time', 'EISDIR');
  });
});

describe('metadata files that are FIFOs', () => {
  it('a FIFO at timestamp.json: offline a StorageError at once (no read that waits for a writer), online replaced by the verified fetch', async () => {
    const e = await env();
    await e.updater().refresh();
    const file = path.join(e.metadataDir, 'timestamp.json');
    await rm(file);
    execFileSync('mkfifo', [file]);
    const err = await errorOf(() => e.updater({ offline: true }).refresh());
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toBe(`${file}: not a regular file`);
    await e.updater().refresh();
    expect(await readFile(file)).toEqual(Buffer.from(e.repo.bytesOf('timestamp')));
  });

  it('a FIFO at root.json: StorageError naming it, online too', async () => {
    const e = await env();
    const root = path.join(e.metadataDir, 'root.json');
    await rm(root);
    execFileSync('mkfifo', [root]);
    const err = await errorOf(() => e.updater().refresh());
    expect(err).toBeInstanceOf(StorageError);
    expect((err as Error).message).toBe(`${root}: not a regular file`);
    expect(e.server.requests).toEqual([]);
  });
});

describe('target folder and files', () => {
  it('targetDir that is a file: FileSystemError creating the folder, before any target request', async () => {
    const e = await env();
    await rm(e.targetDir, { recursive: true });
    await writeFile(e.targetDir, 'a file, not a folder');
    const u = e.updater();
    const info = (await u.getTargetInfo('a.txt'))!;
    expect(await u.findCachedTarget(info)).toBeUndefined(); // nothing cached there: not an error
    expectFsError(await errorOf(() => u.downloadTarget(info)), e.targetDir, 'create the folder of target "a.txt"', 'EEXIST');
    expect(e.server.targetRequests).toEqual([]);
  });

  it('a folder with content at the target path: FileSystemError writing the target, no temp file left', async () => {
    const e = await env();
    const u = e.updater();
    const info = (await u.getTargetInfo('a.txt'))!;
    const file = path.join(e.targetDir, 'a.txt');
    await folderAt(file);
    expect(await u.findCachedTarget(info)).toBeUndefined();
    expectFsError(await errorOf(() => u.downloadTarget(info)), file, 'write target "a.txt"', 'EISDIR');
    expect(await readdir(e.targetDir)).toEqual(['a.txt']);
    expect(await readdir(file)).toEqual(['keep']);
  });
});

describe('the metadata dir lock', () => {
  it('a folder at the lock path: FileSystemError taking the lock, at once rather than at the lock timeout', async () => {
    const e = await env();
    const lock = path.join(e.metadataDir, LOCK_FILE);
    await mkdir(lock);
    const started = Date.now();
    expectFsError(await errorOf(() => e.updater({ lockTimeoutMs: 20_000 }).refresh()), lock, 'take the lock', 'EISDIR');
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(e.server.requests).toEqual([]);
  });

  it('a lock that cannot be created (the metadata dir is a file): FileSystemError taking the lock', async () => {
    const e = await env();
    await rm(e.metadataDir, { recursive: true });
    await writeFile(e.metadataDir, 'a file, not a folder');
    const lock = path.join(e.metadataDir, LOCK_FILE);
    expectFsError(await errorOf(() => e.updater().refresh()), lock, 'take the lock', 'ENOTDIR');
  });
});

describe('custom fetchers', () => {
  /**
   * A fetcher serving the repository, except that `fail` may name an error to throw for a URL
   * (after the first half of the body) and `chunks` what to yield instead of the body.
   */
  function fetcherFailing(fail: (url: string) => unknown, chunks?: (url: string) => unknown[] | undefined): Fetcher {
    return {
      async *fetch(url: string) {
        const res = await fetch(url);
        if (res.status === 404) throw new DownloadHTTPError(`${url}: 404`, 404, url); // the end of the root chain
        const body = new Uint8Array(await res.arrayBuffer());
        const error = fail(url);
        if (error) {
          yield body.subarray(0, body.length >> 1);
          throw error;
        }
        yield* (chunks?.(url) ?? [body]) as Uint8Array[];
      },
    };
  }

  it('a fetcher that throws: DownloadError naming the url, with the thrown error as cause', async () => {
    const e = await env();
    const boom = new Error('socket on fire');
    const url = `${e.server.metadataUrl}/timestamp.json`; // 2.root.json: 404, the end of the chain
    const err = await errorOf(() => e.updater({}, { fetcher: fetcherFailing(() => boom) }).refresh());
    expect(err).toBeInstanceOf(DownloadError);
    expect((err as DownloadError).constructor).toBe(DownloadError);
    expect((err as DownloadError).url).toBe(url);
    expect((err as Error).message).toContain(url);
    expect((err as Error).message).toContain('socket on fire');
    expect((err as Error).cause).toBe(boom);
  });

  it('a fetcher whose fetch is not a generator and throws at once, or throws a string: DownloadError too', async () => {
    const e = await env();
    const sync: Fetcher = {
      fetch() {
        throw new TypeError('not today');
      },
    };
    const err = await errorOf(() => e.updater({}, { fetcher: sync }).refresh());
    expect((err as DownloadError).constructor).toBe(DownloadError);
    expect((err as Error).message).toContain(`${e.server.metadataUrl}/2.root.json`);
    expect((err as Error).cause).toBeInstanceOf(TypeError);

    const str = await errorOf(() => e.updater({}, { fetcher: fetcherFailing(() => 'plain string') }).refresh());
    expect((str as DownloadError).constructor).toBe(DownloadError);
    expect((str as Error).cause).toBe('plain string');
  });

  it("a fetcher's own DownloadError passes unchanged", async () => {
    const e = await env();
    const slow = new SlowRetrievalError('too slow', 'http://x/');
    expect(await errorOf(() => e.updater({}, { fetcher: fetcherFailing(() => slow) }).refresh())).toBe(slow);
  });

  it('a fetcher that fails in the middle of a target: DownloadError, and no file or temp file left', async () => {
    const e = await env();
    const boom = new Error('cut');
    const u = e.updater({}, { fetcher: fetcherFailing((url) => url.startsWith(e.server.targetsUrl) && boom) });
    const info = (await u.getTargetInfo('a.txt'))!;
    const err = await errorOf(() => u.downloadTarget(info));
    expect((err as DownloadError).constructor).toBe(DownloadError);
    expect((err as DownloadError).url).toContain(e.server.targetsUrl);
    expect((err as Error).cause).toBe(boom);
    expect(await readdir(e.targetDir)).toEqual([]);
  });

  it('a fetcher yielding strings or numbers instead of bytes: DownloadError naming the url', async () => {
    const e = await env();
    const strings = fetcherFailing(
      () => undefined,
      (url) => (url.startsWith(e.server.targetsUrl) ? [Buffer.from(A).toString()] : undefined),
    );
    const u = e.updater({}, { fetcher: strings });
    const info = (await u.getTargetInfo('a.txt'))!;
    const err = await errorOf(() => u.downloadTarget(info));
    expect((err as DownloadError).constructor).toBe(DownloadError);
    expect((err as DownloadError).url).toContain(e.server.targetsUrl);
    expect((err as Error).message).toContain('the fetcher yielded a string, not bytes');
    expect(await readdir(e.targetDir)).toEqual([]);

    const numbers = fetcherFailing(
      () => undefined,
      (url) => (url.endsWith('timestamp.json') ? [1, 2, 3] : undefined),
    );
    const ts = await errorOf(() => e.updater({}, { fetcher: numbers }).refresh());
    expect((ts as DownloadError).constructor).toBe(DownloadError);
    expect((ts as DownloadError).url).toBe(`${e.server.metadataUrl}/timestamp.json`);
    expect((ts as Error).message).toContain('the fetcher yielded a number, not bytes');
  });
});

describe('tufkit client prints one line for these, no stack trace', () => {
  function errorLines(stderr: string): string[] {
    expect(stderr).not.toMatch(/\n\s+at /);
    return stderr.split('\n').filter((l) => l && !l.startsWith('tufkit: fetched '));
  }

  it('root.json that is a folder', async () => {
    const e = await env();
    const root = path.join(e.metadataDir, 'root.json');
    await folderAt(root, false);
    const r = await runCli(refreshArgs(e));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([expect.stringMatching(/^tufkit: FileSystemError: cannot read the trusted root \(.*root\.json\): EISDIR/)]);
    expect(r.stderr).toContain(root);
  });

  it('a targetDir that is a file, and a lock path that is a folder', async () => {
    const e = await env();
    await rm(e.targetDir, { recursive: true });
    await writeFile(e.targetDir, 'a file');
    const r = await runCli(downloadArgs(e, ['a.txt']));
    expect(r.code).toBe(1);
    expect(errorLines(r.stderr)).toEqual([`tufkit: FileSystemError: cannot create the folder of target "a.txt" (${e.targetDir}): EEXIST: file already exists, mkdir '${e.targetDir}'`]);

    await mkdir(path.join(e.metadataDir, LOCK_FILE));
    const l = await runCli(refreshArgs(e));
    expect(l.code).toBe(1);
    expect(errorLines(l.stderr)).toEqual([expect.stringMatching(/^tufkit: FileSystemError: cannot take the lock \(.*\.tufkit\.lock\): EISDIR/)]);
  });
});
