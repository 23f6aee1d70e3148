import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DirLock, LOCK_FILE } from '../../src/client/lock.js';
import { StorageError } from '../../src/errors.js';
import { sleep } from './http-server.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tufkit-lock-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

/** The pid of a process that has exited. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString());
}

describe('DirLock', () => {
  it('is a dot-file that is not *.json, removed on release', async () => {
    expect(LOCK_FILE.startsWith('.')).toBe(true);
    expect(LOCK_FILE.endsWith('.json')).toBe(false);
    const lock = await DirLock.acquire(dir, 1000);
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    await lock.release();
    expect(await readdir(dir)).toEqual([]);
  });

  it('serializes holders: a read-modify-write counter never loses an update', async () => {
    const counter = path.join(dir, 'counter');
    await writeFile(counter, '0');
    const worker = async (): Promise<void> => {
      for (let i = 0; i < 5; i++) {
        const lock = await DirLock.acquire(dir, 10_000);
        try {
          const n = Number(await readFile(counter, 'utf8'));
          await sleep(1); // widen the race window a lock must close
          await writeFile(counter, String(n + 1));
        } finally {
          await lock.release();
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(await readFile(counter, 'utf8')).toBe('30');
  });

  it('makes a second holder wait until the first releases', async () => {
    const first = await DirLock.acquire(dir, 1000);
    const events: string[] = [];
    const second = DirLock.acquire(dir, 5000).then((l) => {
      events.push('second acquired');
      return l;
    });
    await sleep(100);
    events.push('first releases');
    await first.release();
    await (await second).release();
    expect(events).toEqual(['first releases', 'second acquired']);
  });

  it('times out with a StorageError naming the holder', async () => {
    const first = await DirLock.acquire(dir, 1000);
    const e = await DirLock.acquire(dir, 150).catch((err: unknown) => err);
    expect(e).toBeInstanceOf(StorageError);
    expect((e as Error).message).toContain(`process ${process.pid}`);
    await first.release();
  });

  it('takes over a lock whose owner process is dead', async () => {
    await writeFile(path.join(dir, LOCK_FILE), `${deadPid()} ${os.hostname()} 00ff\n`);
    const lock = await DirLock.acquire(dir, 2000);
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toContain(`${process.pid} `);
    await lock.release();
  });

  it('never presumes a lock of another host stale', async () => {
    await writeFile(path.join(dir, LOCK_FILE), `${deadPid()} some-other-host 00ff\n`);
    await expect(DirLock.acquire(dir, 150)).rejects.toBeInstanceOf(StorageError);
  });

  it('does not remove a lock it no longer owns', async () => {
    const lock = await DirLock.acquire(dir, 1000);
    const other = `${process.pid} ${os.hostname()} beef\n`;
    await writeFile(path.join(dir, LOCK_FILE), other);
    await lock.release();
    expect(await readFile(path.join(dir, LOCK_FILE), 'utf8')).toBe(other);
  });
});
