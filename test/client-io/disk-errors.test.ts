import { spawn, spawnSync } from 'node:child_process';
import { chmod, chown, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, cliPath, ensureBuilt, refreshArgs, repoRoot, setup, tempDir, type Env } from '../helpers/client.js';
import { utf8 } from '../helpers/repo.js';

// A read-only and a full disk, for real: tests may run as root, whom chmod does not stop, so the
// client runs in a child process inside a user and mount namespace (`unshare -rm`) where the
// folder is bind-mounted read-only, or is a small tmpfs. The child uses the built package (dist/).

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

/** Whether this machine lets an unprivileged user namespace mount (kernel and sandbox settings). */
function canMount(): boolean {
  const r = spawnSync('unshare', ['-rm', 'sh', '-c', 'd=$(mktemp -d) && mount -t tmpfs -o size=16k tmpfs "$d" && umount "$d" && rmdir "$d"']);
  return r.status === 0;
}
const mountable = canMount();

interface Outcome {
  ok: boolean;
  /** The error's class name, and whether it is that class of the package (not a look-alike). */
  name?: string;
  isFileSystemError?: boolean;
  isStorageError?: boolean;
  message?: string;
  path?: string;
  code?: string;
  causeCode?: string;
  /** What `body` returned. */
  result?: unknown;
}

const readOnly = (dir: string): string => `mount --bind "${dir}" "${dir}" && mount -o remount,ro,bind "${dir}" "${dir}"`;
const tmpfs = (dir: string, size: string): string => `mount -t tmpfs -o size=${size} tmpfs "${dir}"`;

/** Runs `command` (argv) in a new user+mount namespace after `mounts` (shell), returning its output. */
function inNamespace(mounts: string, command: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('unshare', ['-rm', 'sh', '-c', `${mounts} && exec "$@"`, 'sh', ...command], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * Runs `body` (the text of an async function body: `tufkit` is the package, `opts` the given
 * options, `fs` node:fs/promises) in the namespace, and reports how it ended.
 */
async function runClient(mounts: string, opts: Record<string, unknown>, body: string): Promise<Outcome> {
  const pkg = pathToFileURL(path.join(repoRoot, 'dist/src/index.js')).href;
  const script = `
    import * as tufkit from ${JSON.stringify(pkg)};
    import * as fs from 'node:fs/promises';
    const opts = JSON.parse(process.env.TUFKIT_TEST_OPTS);
    let out;
    try {
      out = { ok: true, result: await (async () => { ${body} })() };
    } catch (e) {
      out = {
        ok: false, name: e?.constructor?.name, message: String(e?.message ?? e), path: e?.path, code: e?.code,
        isFileSystemError: e instanceof tufkit.FileSystemError, isStorageError: e instanceof tufkit.StorageError,
        causeCode: e?.cause?.code,
      };
    }
    process.stdout.write(JSON.stringify(out));`;
  const r = await inNamespace(mounts, [process.execPath, '--input-type=module', '-e', script], { TUFKIT_TEST_OPTS: JSON.stringify(opts) });
  if (r.code !== 0 || !r.stdout) throw new Error(`child failed (${r.code}): ${r.stderr}`);
  return JSON.parse(r.stdout) as Outcome;
}

const BIG = utf8('0123456789abcdef'.repeat(8192)); // 128 KiB, more than the small tmpfs holds

async function env(): Promise<Env> {
  return setup({
    build: async (r) => {
      r.addTarget('big.bin', BIG);
      await r.publish();
    },
  });
}

function clientOpts(e: Env): Record<string, unknown> {
  return { metadataDir: e.metadataDir, metadataBaseUrl: e.server.metadataUrl, targetDir: e.targetDir, targetBaseUrl: e.server.targetsUrl };
}

function expectFsError(o: Outcome, file: string, action: string, code: string): void {
  expect(o.ok, JSON.stringify(o)).toBe(false);
  expect(o.name).toBe('FileSystemError');
  expect(o.isFileSystemError).toBe(true);
  expect(o.isStorageError).toBe(true);
  expect(o.path).toBe(file);
  expect(o.message).toContain(`cannot ${action} (${file})`);
  expect(o.code).toBe(code);
  expect(o.causeCode).toBe(code);
}

describe.skipIf(!mountable)('read-only and full disks (unshare -rm)', () => {
  it('a read-only metadata dir: online refresh fails taking the lock (EROFS); offline verification still works', async () => {
    const e = await env();
    await e.updater().refresh();
    const o = clientOpts(e);
    // The mount really refuses writes, even to root in the namespace.
    const probe = await runClient(readOnly(e.metadataDir), o, `await fs.writeFile(opts.metadataDir + '/probe', 'x');`);
    expect(probe.causeCode ?? probe.code).toBe('EROFS');

    const online = await runClient(readOnly(e.metadataDir), o, `await new tufkit.Updater(opts).refresh();`);
    expectFsError(online, path.join(e.metadataDir, '.tufkit.lock'), 'take the lock', 'EROFS');

    const offline = await runClient(
      readOnly(e.metadataDir),
      o,
      `const u = new tufkit.Updater({ ...opts, config: { offline: true } });
       return (await u.getTargetInfo('big.bin')).length;`,
    );
    expect(offline).toEqual({ ok: true, result: BIG.length });
  });

  it('a full disk under targetDir: FileSystemError writing the target (ENOSPC), no temp file left', async () => {
    const e = await env();
    const o = await runClient(
      tmpfs(e.targetDir, '64k'),
      clientOpts(e),
      `const u = new tufkit.Updater(opts);
       const info = await u.getTargetInfo('big.bin');
       await u.downloadTarget(info).catch(async (e) => {
         e.message += ' | left: ' + JSON.stringify(await fs.readdir(opts.targetDir));
         throw e;
       });`,
    );
    expectFsError(o, path.join(e.targetDir, 'big.bin'), 'write target "big.bin"', 'ENOSPC');
    expect(o.message).toContain(' | left: []');
  });

  it('a metadata dir whose disk fills during a refresh: FileSystemError writing the timestamp (ENOSPC), root intact', async () => {
    const e = await env();
    const spare = path.join(await tempDir(), 'root.json');
    await copyFile(path.join(e.metadataDir, 'root.json'), spare);
    const o = { ...clientOpts(e), spare };
    const body = `
      await fs.copyFile(opts.spare, opts.metadataDir + '/root.json');
      const http = new tufkit.HttpFetcher();
      const fetcher = {
        async *fetch(url, max) {
          // Fill the disk once the lock is held and the refresh is under way.
          if (url.endsWith('/timestamp.json')) await fs.writeFile(opts.metadataDir + '/filler', Buffer.alloc(1 << 20)).catch(() => undefined);
          yield* http.fetch(url, max);
        },
      };
      try {
        await new tufkit.Updater({ ...opts, fetcher }).refresh();
      } catch (e) {
        const names = (await fs.readdir(opts.metadataDir)).sort();
        const root = await fs.readFile(opts.metadataDir + '/root.json');
        const same = Buffer.compare(root, await fs.readFile(opts.spare)) === 0;
        e.message += ' | left: ' + JSON.stringify(names) + ' root intact: ' + same;
        throw e;
      }`;
    const r = await runClient(tmpfs(e.metadataDir, '64k'), o, body);
    const file = path.join(e.metadataDir, 'timestamp.json');
    expectFsError(r, file, 'write the cached metadata of role "timestamp"', 'ENOSPC');
    expect(r.message).toContain(' | left: ["filler","root.json"] root intact: true');
  });

  it('a full disk before the refresh: FileSystemError taking the lock (ENOSPC), and no empty lock left to wait on', async () => {
    const e = await env();
    const spare = path.join(await tempDir(), 'root.json');
    await copyFile(path.join(e.metadataDir, 'root.json'), spare);
    const body = `
      await fs.copyFile(opts.spare, opts.metadataDir + '/root.json');
      await fs.writeFile(opts.metadataDir + '/filler', Buffer.alloc(1 << 20)).catch(() => undefined);
      await new tufkit.Updater(opts).refresh().catch(async (e) => {
        e.message += ' | left: ' + JSON.stringify((await fs.readdir(opts.metadataDir)).sort());
        throw e;
      });`;
    const r = await runClient(tmpfs(e.metadataDir, '64k'), { ...clientOpts(e), spare }, body);
    expectFsError(r, path.join(e.metadataDir, '.tufkit.lock'), 'take the lock', 'ENOSPC');
    expect(r.message).toContain(' | left: ["filler","root.json"]');
  });

  it('tufkit client prints one line for a read-only metadata dir', async () => {
    const e = await env();
    const r = await inNamespace(readOnly(e.metadataDir), [process.execPath, cliPath, ...refreshArgs(e)]);
    expect(r.code).toBe(1);
    const lock = path.join(e.metadataDir, '.tufkit.lock');
    expect(r.stderr).toBe(`tufkit: FileSystemError: cannot take the lock (${lock}): EROFS: read-only file system, open '${lock}'\n`);
  });
});

// Root in a user namespace has no power over files of a user the namespace does not map: a file
// chowned to such a user (mode 0600) by the real root is unreadable to the client in there.
const UNMAPPED_UID = 12345;
const canChown = mountable && process.getuid?.() === 0;

async function unreadable(file: string): Promise<void> {
  await chown(file, UNMAPPED_UID, UNMAPPED_UID);
  await chmod(file, 0o600);
}

describe.skipIf(!canChown)('unreadable cached files (unshare -rm, files of an unmapped user)', () => {
  it('an unreadable cached timestamp is an error, not a silently dropped rollback baseline', async () => {
    const e = await env();
    await e.updater().refresh();
    const oldTimestamp = e.repo.bytesOf('timestamp');
    e.repo.addTarget('later.bin', utf8('published later'));
    await e.repo.publish();
    await e.updater().refresh();
    // The repository (or a man in the middle) now serves the older, still validly signed timestamp.
    e.server.override('/metadata/timestamp.json', { body: oldTimestamp });
    const file = path.join(e.metadataDir, 'timestamp.json');
    await unreadable(file);
    // The cached snapshot would catch the rollback too: unreadable as well, it is the timestamp's turn.
    await unreadable(path.join(e.metadataDir, 'snapshot.json'));
    const o = await runClient('true', clientOpts(e), `await new tufkit.Updater(opts).refresh();`);
    expectFsError(o, file, 'read the cached metadata of role "timestamp"', 'EACCES');
  });

  it('an unreadable trusted-time record is an error, not a silently disabled clock check', async () => {
    const e = await env();
    await e.updater().refresh();
    const file = path.join(e.metadataDir, '.tufkit-time');
    await unreadable(file);
    const o = await runClient('true', clientOpts(e), `await new tufkit.Updater(opts).refresh();`);
    expectFsError(o, file, 'read the newest trusted time', 'EACCES');
  });

  it('an unreadable cached target: FileSystemError from findCachedTarget', async () => {
    const e = await env();
    const u = e.updater();
    await u.downloadTarget((await u.getTargetInfo('big.bin'))!);
    const file = path.join(e.targetDir, 'big.bin');
    await unreadable(file);
    const o = await runClient(
      'true',
      clientOpts(e),
      `const u = new tufkit.Updater(opts);
       return u.findCachedTarget(await u.getTargetInfo('big.bin'));`,
    );
    expectFsError(o, file, 'read the cached target "big.bin"', 'EACCES');
  });
});
