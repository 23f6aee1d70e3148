import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { linkLine, TargetLinker, type LinkFailure, type LinkRequest } from '../../src/repository/link-worker.js';
import { removeTemps, tempDir } from './helpers.js';

// The thread that hard-links target files for publish, driven directly: many batches (the main
// thread takes those the thread has not started), a blob of the wrong size, files already there,
// and no thread at all (workers not allowed): the same outcome every time.

afterAll(removeTemps);
afterEach(() => {
  vi.doUnmock('node:worker_threads');
  vi.resetModules();
});

interface Item extends LinkRequest {
  n: number;
}

/** `count` blobs of distinct sizes, and where each goes (in 10 folders, not made yet). */
async function items(count: number): Promise<{ base: string; list: Item[] }> {
  const base = await tempDir('tufkit-links-');
  await mkdir(path.join(base, 'blobs'));
  const list: Item[] = [];
  for (let n = 0; n < count; n++) {
    const blob = path.join(base, 'blobs', `b${n}`);
    await writeFile(blob, 'x'.repeat(n + 1));
    list.push({ n, blob, dest: path.join(base, 'out', `d${n % 10}`, `f${n}`), size: n + 1 });
  }
  return { base, list };
}

type Linker = new (
  capacity: number,
  onDone: (linked: number, bytes: number) => void,
  toError: (batch: Item[], position: number, request: LinkRequest, f: LinkFailure) => Error,
  maxQueued?: number,
) => TargetLinker<Item[]>;

async function linkAll(Linker: Linker, list: Item[], perBatch: number, maxQueued?: number): Promise<{ later: Item[]; made: Set<string>; progress: [number, number][] }> {
  const progress: [number, number][] = [];
  const linker = new Linker(
    Math.ceil(list.length / perBatch),
    (l, b) => progress.push([l, b]),
    (batch, position, request, f) => {
      // The request as sent, read back from the batch's text.
      expect(request).toEqual({ blob: batch[position]!.blob, dest: batch[position]!.dest, size: batch[position]!.size });
      return new Error(`item ${batch[position]!.n}: ${'blob' in f ? 'blob' : f.error.code}`);
    },
    maxQueued,
  );
  for (let i = 0; i < list.length; i += perBatch) {
    const batch = list.slice(i, i + perBatch);
    linker.send(batch, batch.map((it) => linkLine(it.blob, it.dest, it.size)).join(''));
  }
  const { unlinked, made } = await linker.finish();
  return { later: unlinked.map(({ batch, position }) => batch[position]!), made, progress };
}

async function sameFile(a: string, b: string): Promise<boolean> {
  const [x, y] = await Promise.all([stat(a), stat(b)]);
  return x.ino === y.ino && x.dev === y.dev;
}

describe('the link thread', () => {
  it('links every request across many batches, making folders as needed, and reports progress', async () => {
    const { list } = await items(600);
    const { later, made, progress } = await linkAll(TargetLinker, list, 7);
    expect(later).toEqual([]);
    // Made here: the 10 folders and the one above them, each reported once.
    expect([...made].sort()).toEqual([path.dirname(path.dirname(list[0]!.dest)), ...Array.from({ length: 10 }, (_, d) => path.dirname(list[d]!.dest))].sort());
    for (const it of list) expect(await sameFile(it.blob, it.dest), it.dest).toBe(true);
    expect(progress.at(-1)).toEqual([600, (600 * 601) / 2]);
  });

  it('links batches itself while the thread is far behind, with the same outcome', async () => {
    const { list } = await items(300);
    // At most one batch waits for the thread: the others sent meanwhile are linked on this thread.
    const { later, progress } = await linkAll(TargetLinker, list, 3, 1);
    expect(later).toEqual([]);
    for (const it of list) expect(await sameFile(it.blob, it.dest), it.dest).toBe(true);
    expect(progress.at(-1)).toEqual([300, (300 * 301) / 2]);

    const other = await items(60);
    await writeFile(other.list[41]!.blob, 'damaged');
    await expect(linkAll(TargetLinker, other.list, 4, 1)).rejects.toThrow('item 41: blob');
  });

  it('leaves a file already there for a copy, and stops at a blob of the wrong size', async () => {
    const { list } = await items(50);
    await mkdir(path.dirname(list[3]!.dest), { recursive: true });
    await writeFile(list[3]!.dest, 'already');
    const { later, made } = await linkAll(TargetLinker, list, 5);
    expect(later.map((i) => i.n)).toEqual([3]);
    expect(made.has(path.dirname(list[3]!.dest))).toBe(false); // there before
    expect(made.has(path.dirname(list[4]!.dest))).toBe(true);
    expect(await readFile(list[3]!.dest, 'utf8')).toBe('already');

    const other = await items(50);
    await writeFile(other.list[27]!.blob, 'damaged');
    await expect(linkAll(TargetLinker, other.list, 5)).rejects.toThrow('item 27: blob');
  });

  it('links everything itself when no thread can be started', async () => {
    let tried = 0;
    vi.doMock('node:worker_threads', () => ({
      Worker: class {
        constructor() {
          tried++;
          throw Object.assign(new Error('Access to this API has been restricted'), { code: 'ERR_ACCESS_DENIED' });
        }
      },
    }));
    const { TargetLinker: Unthreaded } = await import('../../src/repository/link-worker.js');
    expect(Unthreaded).not.toBe(TargetLinker);
    const { list } = await items(120);
    const { later, progress } = await linkAll(Unthreaded, list, 9);
    expect(later).toEqual([]);
    for (const it of list) expect(await sameFile(it.blob, it.dest)).toBe(true);
    expect(progress.at(-1)![0]).toBe(120);
    expect(tried).toBe(1); // asked for once, then never again
  });
});
