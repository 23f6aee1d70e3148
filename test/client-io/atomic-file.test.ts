import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { readFileCapped, readFileCappedSync, removeFile, removeStaleTempFiles, writeFileAtomic } from '../../src/client/atomic-file.js';
import { FileSystemError, StorageError } from '../../src/errors.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'tufkit-atomic-'));
});
afterEach(() => rm(dir, { recursive: true, force: true }));

const text = (s: string): Uint8Array => Buffer.from(s);

describe('writeFileAtomic', () => {
  it('writes bytes and streams', async () => {
    const file = path.join(dir, 'a.json');
    await writeFileAtomic(file, text('one'));
    expect(await readFile(file, 'utf8')).toBe('one');
    async function* parts(): AsyncGenerator<Uint8Array> {
      yield text('tw');
      yield text('o');
    }
    await writeFileAtomic(file, parts());
    expect(await readFile(file, 'utf8')).toBe('two');
    expect(await readdir(dir)).toEqual(['a.json']);
  });

  it('writes long streams exactly, in batches taken while earlier ones are written', async () => {
    const file = path.join(dir, 'stream.bin');
    const expected: Buffer[] = [];
    async function* chunks(): AsyncGenerator<Uint8Array> {
      // Chunk sizes from 1 byte to 300 KB, more than a batch holds, across many batches.
      for (let i = 0; i < 3000; i++) {
        const size = i % 97 === 0 ? 300_000 : (i * 7919) % 4099;
        const chunk = Buffer.alloc(size, i % 251);
        expected.push(chunk);
        if (i % 500 === 0) await new Promise((r) => setImmediate(r));
        yield chunk;
      }
    }
    await writeFileAtomic(file, chunks());
    expect((await readFile(file)).equals(Buffer.concat(expected))).toBe(true);
    expect(await readdir(dir)).toEqual(['stream.bin']);
  });

  it('leaves the old file intact when a long stream fails after several batches were written', async () => {
    const file = path.join(dir, 'target.bin');
    await writeFile(file, 'trusted');
    async function* failing(): AsyncGenerator<Uint8Array> {
      for (let i = 0; i < 40; i++) yield Buffer.alloc(100_000, i);
      throw new Error('connection lost late');
    }
    await expect(writeFileAtomic(file, failing())).rejects.toThrow('connection lost late');
    expect(await readFile(file, 'utf8')).toBe('trusted');
    expect(await readdir(dir)).toEqual(['target.bin']);
  });

  it('leaves the old file intact, and no temp file, when the data fails midway', async () => {
    const file = path.join(dir, 'root.json');
    await writeFile(file, 'trusted');
    async function* failing(): AsyncGenerator<Uint8Array> {
      yield text('half of the new ');
      throw new Error('connection lost');
    }
    await expect(writeFileAtomic(file, failing())).rejects.toThrow('connection lost');
    expect(await readFile(file, 'utf8')).toBe('trusted');
    expect(await readdir(dir)).toEqual(['root.json']);
  });

  it('leaves the old file intact when the check before commit fails', async () => {
    const file = path.join(dir, 'target');
    await writeFile(file, 'verified');
    await expect(
      writeFileAtomic(file, text('tampered'), () => {
        throw new StorageError('hash mismatch');
      }),
    ).rejects.toBeInstanceOf(StorageError);
    expect(await readFile(file, 'utf8')).toBe('verified');
    expect(await readdir(dir)).toEqual(['target']);
  });

  it('never shows a partly written file under the final name', async () => {
    const file = path.join(dir, 'big');
    await writeFile(file, 'old');
    let seen: string | undefined;
    async function* slow(): AsyncGenerator<Uint8Array> {
      yield text('new-part-1 ');
      seen = await readFile(file, 'utf8');
      yield text('new-part-2');
    }
    await writeFileAtomic(file, slow());
    expect(seen).toBe('old');
    expect(await readFile(file, 'utf8')).toBe('new-part-1 new-part-2');
  });

  it('uses temp names that metadata tools do not read as metadata', async () => {
    const file = path.join(dir, 'timestamp.json');
    let names: string[] = [];
    async function* peek(): AsyncGenerator<Uint8Array> {
      yield text('x');
      names = await readdir(dir);
    }
    await writeFileAtomic(file, peek());
    expect(names).toHaveLength(1);
    expect(names[0]).not.toMatch(/\.json$/);
    expect(names[0]!.startsWith('.')).toBe(true);
  });
});

describe('readFileCapped / removeFile / removeStaleTempFiles', () => {
  it('reads up to the cap, refuses more, and reports a missing file as undefined', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, '12345');
    expect(Buffer.from((await readFileCapped(file, 5))!).toString()).toBe('12345');
    await expect(readFileCapped(file, 4)).rejects.toBeInstanceOf(StorageError);
    expect(await readFileCapped(path.join(dir, 'none'), 4)).toBeUndefined();
  });

  it('reads the same way in one blocking call: cap, missing file, folder', async () => {
    const file = path.join(dir, 'f');
    await writeFile(file, '12345');
    expect(Buffer.from(readFileCappedSync(file, 5)!).toString()).toBe('12345');
    expect(() => readFileCappedSync(file, 4)).toThrow(StorageError);
    expect(readFileCappedSync(path.join(dir, 'none'), 4)).toBeUndefined();
    await mkdir(path.join(dir, 'sub'));
    expect(() => readFileCappedSync(path.join(dir, 'sub'), 4)).toThrow(FileSystemError);
    // A FIFO where a file belongs is refused at once, never waited on.
    execFileSync('mkfifo', [path.join(dir, 'fifo')]);
    expect(() => readFileCappedSync(path.join(dir, 'fifo'), 4)).toThrow(`${path.join(dir, 'fifo')}: not a regular file`);
  });

  it('removes files (missing ones too) and leftover temp files only', async () => {
    await writeFile(path.join(dir, 'keep.json'), '{}');
    await writeFile(path.join(dir, '.tufkit-tmp-root.json-0123'), 'half');
    await removeStaleTempFiles(dir);
    expect(await readdir(dir)).toEqual(['keep.json']);
    await removeFile(path.join(dir, 'keep.json'));
    await removeFile(path.join(dir, 'keep.json'));
    expect(await readdir(dir)).toEqual([]);
  });
});
