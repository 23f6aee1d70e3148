import { mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { FileSystemError } from '../../src/errors.js';
import { cleanup, errorOf, setup, type Env } from '../helpers/client.js';
import { utf8 } from '../helpers/repo.js';

// The order in which the client makes its writes durable, observed at the file-system calls it
// makes (node:fs/promises, passed through and logged): each file is fsynced before it is renamed
// into place; the folder is fsynced after the last rename and before the call returns; the trusted
// root is durable before anything is written after it; and the cached timestamp and snapshot
// removed for spec 5.3.11 are durably gone before the rotated root is renamed into place. Writes
// other than root's run while the refresh goes on, in the order queued: one that fails stops the
// ones after it and is the refresh's error.

const log = vi.hoisted(() => ({ dirs: [] as string[], ops: [] as string[], record: undefined as ((op: string, path: string) => void) | undefined }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs/promises')>();
  /** A name for `path` in the log when it is in (or is) a watched folder. */
  const name = (path: string): string | undefined => {
    if (basename(path).startsWith('.tufkit.lock')) return undefined; // the lock is no data
    if (log.dirs.includes(path)) return `dir:${basename(path)}`;
    if (log.dirs.includes(dirname(path))) return basename(path).replace(/^\.tufkit-tmp-(.*)-[0-9a-f]{12}$/, 'tmp:$1');
    return undefined;
  };
  const record = (op: string, path: string): void => {
    const n = name(path);
    if (n) log.ops.push(`${op} ${n}`);
  };
  log.record = record;
  const open: typeof fs.open = async (path, ...rest) => {
    const handle = await fs.open(path, ...rest);
    const sync = handle.sync.bind(handle);
    handle.sync = async () => {
      await sync();
      record('fsync', String(path));
    };
    return handle;
  };
  const rename: typeof fs.rename = async (from, to) => {
    await fs.rename(from, to);
    record(`rename ${name(String(from)) ?? '?'} ->`, String(to));
  };
  const unlink: typeof fs.unlink = async (path) => {
    await fs.unlink(path);
    record('unlink', String(path));
  };
  return { ...fs, open, rename, unlink, default: { ...fs, open, rename, unlink } };
});

// Whole files given as bytes are written through node:fs callbacks (one chain, no FileHandle).
vi.mock('node:fs', async (importOriginal) => {
  const fs = await importOriginal<typeof import('node:fs')>();
  const paths = new Map<number, string>();
  const open = ((path: string, flags: string, mode: number, cb: (e: NodeJS.ErrnoException | null, fd: number) => void) =>
    fs.open(path, flags, mode, (e, fd) => {
      if (!e) paths.set(fd, String(path));
      cb(e, fd);
    })) as unknown as typeof fs.open;
  const fsync = ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) =>
    fs.fsync(fd, (e) => {
      if (!e) log.record?.('fsync', paths.get(fd) ?? '');
      cb(e);
    })) as typeof fs.fsync;
  const close = ((fd: number, cb: (e: NodeJS.ErrnoException | null) => void) => {
    paths.delete(fd);
    fs.close(fd, cb);
  }) as typeof fs.close;
  return { ...fs, open, fsync, close, default: { ...fs, open, fsync, close } };
});

afterEach(async () => {
  log.dirs.length = 0;
  log.ops.length = 0;
  await cleanup();
});

async function withTarget(): Promise<Env> {
  return setup({
    build: async (r) => {
      r.addTarget('app.txt', utf8('the target\n'));
      await r.publish();
    },
  });
}

function watch(env: Env): void {
  log.dirs.push(env.metadataDir, env.targetDir);
  log.ops.length = 0;
}

/** Checks that every rename in `ops` comes after the fsync of the same temp file. */
function expectFsyncBeforeRename(ops: string[]): void {
  ops.forEach((op, i) => {
    const m = /^rename (tmp:\S+) ->/.exec(op);
    if (m) expect(ops.slice(0, i), op).toContain(`fsync ${m[1]}`);
  });
}

describe('durable writes of the client', () => {
  it('a refresh fsyncs each file before renaming it and the metadata folder once, after the last rename', async () => {
    const env = await withTarget();
    const u = env.updater();
    watch(env);
    await u.refresh();
    const ops = [...log.ops];
    expectFsyncBeforeRename(ops);
    const renames = ops.filter((o) => o.startsWith('rename'));
    expect(renames.map((o) => o.split(' -> ')[1])).toEqual(['timestamp.json', 'snapshot.json', 'targets.json', '.tufkit-time']);
    const dirSyncs = ops.flatMap((o, i) => (o === 'fsync dir:metadata' ? [i] : []));
    expect(dirSyncs).toEqual([ops.length - 1]); // one, after everything else, before refresh() returned

    watch(env);
    const info = await u.getTargetInfo('app.txt');
    await u.downloadTarget(info!);
    expectFsyncBeforeRename(log.ops);
    expect(log.ops.at(-2)).toBe('rename tmp:app.txt -> app.txt');
    expect(log.ops.at(-1)).toBe('fsync dir:targets');
  });

  it('a lookup that caches a delegated role fsyncs the folder before it returns', async () => {
    const env = await setup({
      build: async (r) => {
        await r.delegate('targets', 'a', { paths: ['deep/*'] });
        r.addTarget('deep/file.txt', utf8('deep\n'), 'a');
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    watch(env);
    expect(await u.getTargetInfo('deep/file.txt')).toBeDefined();
    expectFsyncBeforeRename(log.ops);
    expect(log.ops.slice(-2)).toEqual(['rename tmp:a.json -> a.json', 'fsync dir:metadata']);
  });

  it('5.3.11: the removed timestamp and snapshot are durably gone before the rotated root is renamed in, and that root is durable before the new timestamp is written', async () => {
    const env = await withTarget();
    const { repo } = env;
    await env.updater().refresh();
    await repo.rotateRoot(() => repo.replaceKeys('timestamp'));
    await repo.publish();
    watch(env);
    await env.updater().refresh();
    const ops = [...log.ops];
    expectFsyncBeforeRename(ops);
    const at = (op: string): number => {
      const i = ops.indexOf(op);
      expect(i, `${op} in\n${ops.join('\n')}`).toBeGreaterThanOrEqual(0);
      return i;
    };
    const rootIn = at('rename tmp:root.json -> root.json');
    const removed = Math.max(at('unlink timestamp.json'), at('unlink snapshot.json'));
    const syncAfterRemoval = ops.indexOf('fsync dir:metadata', removed);
    expect(syncAfterRemoval).toBeGreaterThan(removed);
    expect(syncAfterRemoval).toBeLessThan(rootIn);
    const syncAfterRoot = ops.indexOf('fsync dir:metadata', rootIn);
    expect(syncAfterRoot).toBeGreaterThan(rootIn);
    expect(syncAfterRoot).toBeLessThan(at('fsync tmp:timestamp.json'));
  });

  it('a queued write that fails is the error of the refresh, which wrote nothing after it, and the next refresh succeeds', async () => {
    const env = await withTarget();
    const timestamp = join(env.metadataDir, 'timestamp.json');
    await mkdir(timestamp);
    await writeFile(join(timestamp, 'keep'), 'not tufkit data'); // a folder with content is never replaced
    watch(env);
    const e = await errorOf(() => env.updater().refresh());
    expect(e).toBeInstanceOf(FileSystemError);
    expect((e as FileSystemError).path).toBe(timestamp);
    expect((e as Error).message).toContain('write the cached metadata of role "timestamp"');
    // The refresh went on verifying (snapshot and targets were fetched) but wrote nothing after the failure.
    expect(env.server.metadataRequests.slice(1).map((n) => n.replace(/^\d+\./, ''))).toEqual(['timestamp.json', 'snapshot.json', 'targets.json']);
    expect(log.ops.filter((o) => o.startsWith('rename'))).toEqual([]);
    expect((await readdir(env.metadataDir)).sort()).toEqual(['root.json', 'timestamp.json']);
    await rm(timestamp, { recursive: true });
    await env.updater().refresh();
    expect((await readdir(env.metadataDir)).sort()).toEqual(['.tufkit-time', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
  });
});
