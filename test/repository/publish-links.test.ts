import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadVersionError, LengthOrHashMismatchError } from '../../src/errors.js';
import type { TargetFile } from '../../src/models/files.js';
import { publishedTargetName } from '../../src/repository/layout.js';
import { ABANDONED_PUBLISH_MS } from '../../src/repository/publish.js';
import { Repository } from '../../src/repository/repository.js';
import { addFileTargets, keyOf, newSigner, removeTemps, tempDir } from './helpers.js';

// Publishing near the copy floor: new target files are hard links to the repository's blobs when
// OUT is on the same file system (copies, verified, when it is not), a link never lets a later
// edit change a published file, and a re-publish writes only what is new.

const KEY = newSigner();
const BINS = newSigner();
const SECOND = newSigner();

afterAll(removeTemps);

async function fresh(opts: { consistentSnapshot?: boolean; bins?: boolean } = {}): Promise<{ repo: Repository; base: string; binNames: string[] }> {
  const base = await tempDir('tufkit-publish-');
  const k = keyOf(KEY);
  const repo = await Repository.init(path.join(base, 'repo'), {
    roles: { root: { keys: [k] }, targets: { keys: [k] }, snapshot: { keys: [k] }, timestamp: { keys: [k] } },
    consistentSnapshot: opts.consistentSnapshot ?? true,
  });
  const binNames = opts.bins ? await repo.delegate('targets', { name: 'bins', keys: [keyOf(BINS)], threshold: 1, bins: 16 }) : [];
  return { repo, base, binNames };
}

const add = addFileTargets;

/** Signs whatever changed, then snapshot and timestamp: ready to publish. */
async function release(repo: Repository): Promise<void> {
  for (const r of (await repo.status()).roles) {
    if (r.signatures.complete || r.type === 'snapshot' || r.type === 'timestamp') continue;
    await repo.sign(r.name, r.name.startsWith('bins-') ? BINS : KEY);
  }
  await repo.updateSnapshot(KEY);
  await repo.updateTimestamp(KEY);
}

async function inode(p: string): Promise<string> {
  const s = await stat(p);
  return `${s.dev}:${s.ino}`;
}

async function publishedPath(repo: Repository, out: string, target: string): Promise<string> {
  const tf = (await repo.targets()).signed.targets.get(target)!;
  return path.join(out, 'targets', publishedTargetName(target, tf.hashes.sha256));
}

describe('publish places targets as hard links to the blob store', () => {
  it('links every new target to its blob on one file system, and makes blobs read-only', async () => {
    const { repo, base } = await fresh();
    await add(repo, base, { 'a/one.txt': 'one', 'two.txt': 'two' });
    await release(repo);
    const out = path.join(base, 'out');
    const result = await repo.publish(out);
    expect(result.written.filter((w) => w.startsWith('targets/'))).toHaveLength(2);
    for (const t of ['a/one.txt', 'two.txt']) {
      const published = await publishedPath(repo, out, t);
      const blob = repo.blobPath((await repo.targets()).signed.targets.get(t)!);
      expect(await inode(published)).toBe(await inode(blob));
      expect((await stat(blob)).mode & 0o222).toBe(0);
    }
    expect(await readFile(await publishedPath(repo, out, 'a/one.txt'), 'utf8')).toBe('one');
  });

  it('never lets a later edit change a published file: a replaced target is renamed into place, not written through the link', async () => {
    // Without consistent snapshots a target keeps its name across contents: p and q share a blob
    // (and so an inode) until p changes; writing p's new contents in place would change q too.
    const { repo, base } = await fresh({ consistentSnapshot: false });
    await add(repo, base, { p: 'same', q: 'same' });
    await release(repo);
    const out = path.join(base, 'out');
    await repo.publish(out);
    expect(await inode(path.join(out, 'targets/p'))).toBe(await inode(path.join(out, 'targets/q')));
    const blobSame = repo.blobPath((await repo.targets()).signed.targets.get('q')!);

    await add(repo, base, { p: 'changed' });
    await release(repo);
    const again = await repo.publish(out);
    expect(again.written).toContain('targets/p');
    expect(again.written).not.toContain('targets/q');
    expect(await readFile(path.join(out, 'targets/p'), 'utf8')).toBe('changed');
    expect(await readFile(path.join(out, 'targets/q'), 'utf8')).toBe('same');
    expect(await readFile(blobSame, 'utf8')).toBe('same');
  });

  it('keeps a published file when its target is removed and the blob deleted', async () => {
    const { repo, base } = await fresh();
    await add(repo, base, { gone: 'bytes of gone' });
    await release(repo);
    const out = path.join(base, 'out');
    await repo.publish(out);
    const published = await publishedPath(repo, out, 'gone');
    const blob = repo.blobPath((await repo.targets()).signed.targets.get('gone')!);
    await repo.removeTargets(['gone']);
    expect(existsSync(blob)).toBe(false);
    expect(await readFile(published, 'utf8')).toBe('bytes of gone');
  });

  it('copies, verified, when OUT is on another file system (and refuses a damaged blob there before any metadata)', async () => {
    const shm = '/dev/shm';
    // Linux mounts a tmpfs here; the repository's temp folder is on the disk.
    expect(existsSync(shm), `${shm} (a tmpfs, another file system than the temp folder) is needed for this test`).toBe(true);
    const out = await mkdtemp(path.join(shm, 'tufkit-publish-'));
    try {
      const { repo, base } = await fresh();
      expect((await stat(base)).dev).not.toBe((await stat(out)).dev);
      await add(repo, base, { x: 'contents of x', y: 'contents of y' });
      await release(repo);
      await repo.publish(out);
      const px = await publishedPath(repo, out, 'x');
      const bx = repo.blobPath((await repo.targets()).signed.targets.get('x')!);
      expect(await inode(px)).not.toBe(await inode(bx));
      expect(await readFile(px, 'utf8')).toBe('contents of x');

      // Same length, other bytes: only reading it shows the damage, and a copy reads it.
      await add(repo, base, { z: 'contents of z' });
      await release(repo);
      const bz = repo.blobPath((await repo.targets()).signed.targets.get('z')!);
      await rm(bz, { force: true });
      await writeFile(bz, 'CONTENTS OF Z');
      const before = (await readdir(path.join(out, 'metadata'))).sort();
      await expect(repo.publish(out)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
      expect((await readdir(path.join(out, 'metadata'))).sort()).toEqual(before);
    } finally {
      await rm(out, { recursive: true, force: true });
    }
  });
});

describe('publish links beside reading the roles', () => {
  it('refuses a damaged blob among many bins before any metadata; after the repair a publish keeps the files already linked and links the rest', async () => {
    const { repo, base } = await fresh({ bins: true });
    const files: Record<string, string> = {};
    for (let i = 0; i < 400; i++) files[`p/${i}.txt`] = `contents of ${i}`;
    await add(repo, base, files);
    await release(repo);
    const targets = new Map<string, TargetFile>();
    for (const name of (await repo.status()).roles.map((r) => r.name).filter((n) => n.startsWith('bins-'))) {
      for (const [p, tf] of (await repo.targets(name)).signed.targets) targets.set(p, tf);
    }
    expect(targets.size).toBe(400);
    const damaged = repo.blobPath(targets.get('p/200.txt')!);
    await rm(damaged);
    await writeFile(damaged, 'a different length');
    const out = path.join(base, 'out');
    await expect(repo.publish(out)).rejects.toThrow(/stored contents of target "p\/200\.txt" .* are missing or damaged/);
    // Target files may be there (no metadata names them); role files only as temp files, removed.
    expect(existsSync(out) ? await readdir(path.join(out, 'metadata')).catch(() => []) : []).toEqual([]);

    await rm(damaged);
    await writeFile(damaged, files['p/200.txt']!);
    const linkedBefore = existsSync(path.join(out, 'targets/p')) ? (await readdir(path.join(out, 'targets/p'))).length : 0;
    expect(linkedBefore).toBeGreaterThan(0); // files of the bins read before the damaged one's
    const result = await repo.publish(out);
    expect(result.written.filter((w) => w.startsWith('targets/'))).toHaveLength(400 - linkedBefore);
    expect(result.filesWritten).toBe(result.written.length);
    for (const [p, tf] of targets) {
      const published = path.join(out, 'targets', publishedTargetName(p, tf.hashes.sha256));
      expect(await inode(published), p).toBe(await inode(repo.blobPath(tf)));
    }
    expect(existsSync(path.join(out, 'metadata/timestamp.json'))).toBe(true);
  });
});

describe('temp files a killed publish left', () => {
  it('are removed from OUT itself (the caching rules are written there) and its folders once abandoned, young ones kept', async () => {
    const { repo, base } = await fresh();
    await add(repo, base, { 'dir/a.txt': 'a' });
    await release(repo);
    const out = path.join(base, 'out');
    await repo.publish(out);
    const left = [path.join(out, '.tufkit-tmp-_headers-0123456789ab'), path.join(out, 'metadata', '.tufkit-tmp-timestamp.json-0123456789ab')];
    const young = path.join(out, '.tufkit-tmp-tufkit-nginx.conf-0123456789ab');
    for (const f of [...left, young]) await writeFile(f, 'half written');
    const then = new Date(Date.now() - ABANDONED_PUBLISH_MS - 60_000);
    for (const f of left) await utimes(f, then, then);
    await repo.publish(out);
    for (const f of left) expect(existsSync(f), f).toBe(false);
    expect(existsSync(young)).toBe(true);
  });
});

describe('re-publish writes only what is new', () => {
  it('after one new target in one of 16 bins: that file, that bin, snapshot and timestamp', async () => {
    const { repo, base } = await fresh({ bins: true });
    const files: Record<string, string> = {};
    for (let i = 0; i < 64; i++) files[`pkg/f${i}.txt`] = `file ${i}`;
    await add(repo, base, files);
    await release(repo);
    const out = path.join(base, 'out');
    const first = await repo.publish(out);
    expect(first.written.filter((w) => w.startsWith('targets/'))).toHaveLength(64);

    expect(first.filesWritten).toBe(first.written.length);
    const unchanged = await repo.publish(out);
    expect(unchanged.written).toEqual([]);
    expect(unchanged.filesWritten).toBe(0);

    const [bin] = await add(repo, base, { 'pkg/new.txt': 'new' });
    await release(repo);
    const next = await repo.publish(out);
    const tf = (await repo.targets(bin)).signed.targets.get('pkg/new.txt')!;
    const binVersion = (await repo.targets(bin)).signed.version;
    const snapshot = (await repo.load('snapshot')).signed.version;
    expect(next.written.sort()).toEqual(
      [`targets/${publishedTargetName('pkg/new.txt', tf.hashes.sha256)}`, `metadata/${binVersion}.${bin}.json`, `metadata/${snapshot}.snapshot.json`, 'metadata/timestamp.json'].sort(),
    );
  });
});

describe('a published version never changes (caches keep it for good)', () => {
  it('refuses to publish other bytes under a published V.<role>.json, before writing anything', async () => {
    const base = await tempDir('tufkit-publish-');
    const k = keyOf(KEY);
    const repo = await Repository.init(path.join(base, 'repo'), {
      roles: { root: { keys: [k] }, targets: { keys: [k, keyOf(SECOND)] }, snapshot: { keys: [k] }, timestamp: { keys: [k] } },
    });
    await add(repo, base, { t: 'target' });
    await release(repo);
    const out = path.join(base, 'out');
    await repo.publish(out);
    const v = (await repo.load('targets')).signed.version;
    const published = await readFile(path.join(out, 'metadata', `${v}.targets.json`));

    // A second signature on a complete version: same version, other bytes.
    await repo.sign('targets', SECOND);
    expect((await repo.load('targets')).signed.version).toBe(v);
    await repo.updateSnapshot(KEY);
    await repo.updateTimestamp(KEY);
    const timestamp = await readFile(path.join(out, 'metadata/timestamp.json'));
    await expect(repo.publish(out)).rejects.toBeInstanceOf(BadVersionError);
    expect(await readFile(path.join(out, 'metadata', `${v}.targets.json`))).toEqual(published);
    expect(await readFile(path.join(out, 'metadata/timestamp.json'))).toEqual(timestamp);
  });
});
