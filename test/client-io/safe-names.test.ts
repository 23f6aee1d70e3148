import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetadataStore } from '../../src/client/metadata-store.js';
import { encodeURLSegment, joinURL, safeFileName, targetURLPath } from '../../src/client/safe-names.js';
import { UnsafePathError } from '../../src/errors.js';

const tricky = [
  '../x',
  '/x',
  '?',
  '#',
  'ö',
  'Ö',
  '..',
  '.',
  '...',
  'a/b',
  'a%2Fb',
  '%2E',
  '%2E%2E',
  '%',
  '\\',
  '..\\..\\x',
  'a b',
  "!'()*",
  'nul\0byte',
  'root',
  'root.json',
  '.tufkit.lock',
  'x'.repeat(66),
  'ö'.repeat(40),
  'ö'.repeat(41),
  '/'.repeat(300),
  'a'.repeat(10_000),
  'a'.repeat(10_001),
];

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('safeFileName', () => {
  it('maps every name to one plain file name inside its folder', () => {
    for (const name of tricky) {
      const file = safeFileName(name);
      expect(file, name).not.toMatch(/[/\\\0]/);
      expect(file, name).not.toBe('.');
      expect(file, name).not.toBe('..');
      expect(file.length, name).toBeGreaterThan(0);
      expect(Buffer.byteLength(`${file}.json`), name).toBeLessThanOrEqual(255);
      const dir = '/some/dir';
      expect(path.dirname(path.join(dir, file)), name).toBe(dir);
    }
  });

  it('never gives two names the same file name', () => {
    const files = tricky.map(safeFileName);
    expect(new Set(files).size).toBe(tricky.length);
  });

  it('is reversible for short names, and spells . and .. out', () => {
    expect(safeFileName('..')).toBe('%2E%2E');
    expect(safeFileName('.')).toBe('%2E');
    expect(safeFileName('../x')).toBe('..%2Fx');
    expect(safeFileName('ö')).toBe('%C3%B6');
    for (const name of tricky.filter((n) => n !== '.' && n !== '..' && encodeURLSegment(n).length <= 200)) {
      expect(decodeURIComponent(safeFileName(name))).toBe(name);
    }
  });

  it('refuses names that cannot be files', () => {
    expect(() => safeFileName('')).toThrow(UnsafePathError);
    expect(() => safeFileName('\ud800')).toThrow(UnsafePathError);
  });

  it('creates exactly one file per name inside the folder (on a real file system)', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'tufkit-names-'));
    dirs.push(base);
    const store = new MetadataStore(path.join(base, 'metadata'));
    await mkdir(store.dir);
    for (const name of tricky) await writeFile(store.path(name), name);
    expect(await readdir(base)).toEqual(['metadata']);
    expect((await readdir(store.dir)).length).toBe(tricky.length);
  });
});

describe('URLs', () => {
  it('encodes role names like Python quote(name, safe="")', () => {
    expect(encodeURLSegment('?')).toBe('%3F');
    expect(encodeURLSegment('#')).toBe('%23');
    expect(encodeURLSegment('/delegatedrole')).toBe('%2Fdelegatedrole');
    expect(encodeURLSegment('../delegatedrole')).toBe('..%2Fdelegatedrole');
    expect(encodeURLSegment("a b!'()*~-_.")).toBe('a%20b%21%27%28%29%2A~-_.');
  });

  it('encodes each segment of a target path, with the hash prefix on the last one', () => {
    expect(targetURLPath('dir/sub/file name.txt')).toBe('dir/sub/file%20name.txt');
    expect(targetURLPath('dir/file.txt', 'abc')).toBe('dir/abc.file.txt');
    expect(targetURLPath('a?b#c')).toBe('a%3Fb%23c');
  });

  it('refuses target paths whose URL would leave the base', () => {
    expect(() => targetURLPath('../x')).toThrow(UnsafePathError);
    expect(() => targetURLPath('a/./x')).toThrow(UnsafePathError);
    expect(() => targetURLPath('a/..')).toThrow(UnsafePathError);
    // Percent signs are themselves encoded, so "%2e%2e" cannot become a dot segment.
    const url = new URL(joinURL('http://h/targets/', targetURLPath('%2e%2e/x')));
    expect(url.pathname).toBe('/targets/%252e%252e/x');
  });

  it('joins base URLs with exactly one slash', () => {
    expect(joinURL('http://h/m', 'a.json')).toBe('http://h/m/a.json');
    expect(joinURL('http://h/m/', 'a.json')).toBe('http://h/m/a.json');
  });
});
