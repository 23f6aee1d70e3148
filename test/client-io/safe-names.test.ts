import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/client/lock.js';
import { MetadataStore } from '../../src/client/metadata-store.js';
import { encodeURLSegment, joinURL, safeFileName, targetURLPath } from '../../src/client/safe-names.js';
import { TIME_FILE } from '../../src/client/trusted-time.js';
import { UnsafePathError } from '../../src/errors.js';
import { TOP_LEVEL_ROLES } from '../../src/models/root.js';

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
    expect(safeFileName('../x')).toBe('%2E.%2Fx');
    expect(safeFileName('...')).toBe('%2E.%2E');
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

/** A small seeded generator (mulberry32), so that a failing name can be found again. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Pieces names are made of: case pairs (ASCII and beyond), characters that fold or normalise
// (Kelvin sign, sharp s, dotted I, NFC/NFD), separators, dots, escapes, reserved names.
const PIECES = [
  ...'aAbBzZ09-_.~ %/\\:*?"<>|'.split(''),
  'ö', 'Ö', 'o\u0308', 'O\u0308', 'ß', 'ẞ', 'SS', '\u212a', 'k', 'K', 'İ', 'ı', 'i', 'I', 'Σ', 'σ', 'ς', '😀', '\u00a0', '\u3000',
  '%2E', '%2e', '%C3%B6', '%c3%b6', '%41', '%7E', '..', '.json', '.JSON',
  'root', 'Root', 'ROOT', 'targets', 'Timestamp', 'SNAPSHOT', '.tufkit.lock', '.tufkit-time', '.tufkit-tmp-', 'CON', 'nul', 'Com1', 'lpt9', 'PROGRA~1',
];

function randomName(rnd: () => number): string {
  const roll = rnd();
  const count = roll < 0.05 ? 150 + Math.floor(rnd() * 200) : 1 + Math.floor(rnd() * 6);
  let name = '';
  for (let i = 0; i < count; i++) name += PIECES[Math.floor(rnd() * PIECES.length)]!;
  return name;
}

/** Case and normalisation variants of `name`: the names a case-insensitive disk could merge with it. */
function variants(name: string, rnd: () => number): string[] {
  const flipped = [...name].map((c) => (rnd() < 0.5 ? c.toUpperCase() : c.toLowerCase())).join('');
  return [name, name.toUpperCase(), name.toLowerCase(), flipped, name.normalize('NFD'), name.normalize('NFC')];
}

/** Every file name a metadata dir holds besides role files (root.json etc. are added per name below). */
const RESERVED = [LOCK_FILE, `${LOCK_FILE}.break`, TIME_FILE].map((n) => n.toLowerCase());

describe('safeFileName on case-insensitive file systems', () => {
  it('gives distinct names file names that differ ignoring case, and never a reserved one (property test)', () => {
    const rnd = random(20240609);
    const names = new Set<string>(tricky);
    for (const top of TOP_LEVEL_ROLES) for (const v of variants(top, rnd)) names.add(v);
    while (names.size < 20_000) for (const v of variants(randomName(rnd), rnd)) names.add(v);
    const owner = new Map<string, string>();
    const topLevelFiles = TOP_LEVEL_ROLES.map((r) => `${r}.json`);
    const problems: string[] = [];
    for (const name of names) {
      const file = safeFileName(name);
      const json = `${file}.json`;
      const folded = json.toLowerCase();
      const why = (what: string): number => problems.push(`${JSON.stringify(name)} -> ${file}: ${what}`);
      const seen = owner.get(folded);
      if (seen !== undefined) why(`same file ignoring case as ${JSON.stringify(seen)}`);
      owner.set(folded, name);
      // A delegated role can never be named like a top-level role, so it never gets its file.
      if (!(TOP_LEVEL_ROLES as readonly string[]).includes(name) && topLevelFiles.includes(folded)) why('a top-level role file');
      if (RESERVED.includes(folded) || RESERVED.includes(file.toLowerCase())) why('a reserved file');
      // tufkit's own files (lock, trusted time, temp files) all start with "."; these never do.
      if (file.startsWith('.')) why('starts with "."');
      if (!/^(?:[a-z0-9_.-]|%[0-9A-F]{2})+(?:\.[0-9a-f]{64})?$/.test(file)) why('characters outside [a-z0-9_.-] and %XX');
      // Windows: no device name (with any extension), no trailing dot, no short-name "~".
      if (/^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\.|$)/i.test(file)) why('a Windows device name');
      if (file.endsWith('.')) why('ends with "."');
      if (Buffer.byteLength(json) > 255) why('longer than 255 bytes');
      if (file.length <= 200 && decodeURIComponent(file) !== name) why('does not decode to the name');
    }
    expect(problems.slice(0, 10)).toEqual([]);
    expect(owner.size).toBe(names.size);
  });

  it('keeps the common names readable and escapes only what could collide', () => {
    expect(safeFileName('role1')).toBe('role1');
    expect(safeFileName('bins-3f')).toBe('bins-3f');
    expect(safeFileName('root')).toBe('root');
    expect(safeFileName('Root')).toBe('%52oot');
    expect(safeFileName('x')).not.toBe(safeFileName('X').toLowerCase());
    expect(safeFileName('CON')).toBe('%43%4F%4E');
    expect(safeFileName('nul.tar.gz')).toBe('%6Eul.tar.gz');
    expect(safeFileName('com1')).toBe('%63om1');
    expect(safeFileName('console')).toBe('console');
    expect(safeFileName('a.')).toBe('a%2E');
    expect(safeFileName('~user')).toBe('%7Euser');
    expect(safeFileName('.tufkit.lock')).toBe('%2Etufkit.lock');
  });

  it('keeps case variants apart on disk: one file each, root.json untouched', async () => {
    const base = await mkdtemp(path.join(os.tmpdir(), 'tufkit-names-'));
    dirs.push(base);
    const store = new MetadataStore(path.join(base, 'metadata'));
    await mkdir(store.dir);
    await writeFile(store.path('root'), 'trusted root');
    const names = ['Root', 'ROOT', 'rOOT', 'Targets', 'TIMESTAMP', 'Snapshot', 'x', 'X', 'ö', 'Ö', 'o\u0308', 'CON', 'con', '.tufkit.lock', 'root.JSON'];
    for (const name of names) store.queueWrite(name, Buffer.from(name));
    await store.flush();
    const files = (await readdir(store.dir)).filter((n) => n !== 'root.json');
    expect(files).toHaveLength(names.length);
    expect(new Set(files.map((f) => f.toLowerCase())).size).toBe(names.length);
    expect(await readFile(store.path('root'), 'utf8')).toBe('trusted root');
    for (const name of names) expect(await readFile(store.path(name), 'utf8')).toBe(name);
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
