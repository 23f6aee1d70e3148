import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { syncBuiltinESMExports } from 'node:module';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BadVersionError, UnsafePathError, UnsignedMetadataError } from '../../src/errors.js';
import { Metadata } from '../../src/models/metadata.js';
import { SuccinctRoles } from '../../src/models/role.js';
import type { Snapshot } from '../../src/models/snapshot.js';
import { Repository } from '../../src/repository/repository.js';
import { addFileTargets, keyOf, newSigner, removeTemps, tempDir } from './helpers.js';

// The repository index (src/repository/repo-index.ts): a one-file release reads only the roles it
// changes, and an index that does not match the role files (deleted, damaged, restored from before
// the last command, a role file replaced behind tufkit's back) is rebuilt, never trusted.

const KEY = newSigner();
const BINS = newSigner();
const BIN_COUNT = 32;

afterAll(removeTemps);

async function fresh(): Promise<{ repo: Repository; base: string; out: string }> {
  const base = await tempDir('tufkit-index-');
  const k = keyOf(KEY);
  const repo = await Repository.init(path.join(base, 'repo'), {
    roles: { root: { keys: [k] }, targets: { keys: [k] }, snapshot: { keys: [k] }, timestamp: { keys: [k] } },
  });
  await repo.delegate('targets', { name: 'bins', keys: [keyOf(BINS)], threshold: 1, bins: BIN_COUNT });
  const files: Record<string, string> = {};
  for (let i = 0; i < 96; i++) files[`pkg/f${i}.txt`] = `file ${i}`;
  await addFileTargets(repo, base, files);
  await release(repo);
  const out = path.join(base, 'out');
  await repo.publish(out);
  return { repo, base, out };
}

/** Signs whatever changed, then snapshot and timestamp. */
async function release(repo: Repository): Promise<void> {
  const unsigned = (await repo.status()).roles.filter((r) => !r.signatures.complete && (r.type === 'targets' || r.type === 'root')).map((r) => r.name);
  const bins = unsigned.filter((n) => n.startsWith('bins-'));
  if (bins.length > 0) await repo.sign(bins, BINS);
  const own = unsigned.filter((n) => !n.startsWith('bins-'));
  if (own.length > 0) await repo.sign(own, KEY);
  await repo.updateSnapshot(KEY);
  await repo.updateTimestamp(KEY);
}

const binOf = (p: string): string => new SuccinctRoles([], 1, Math.log2(BIN_COUNT), 'bins').getRoleForTarget(p);

/**
 * Every path `fn` opens or reads through node:fs, whichever API it uses (the ESM named imports of
 * node:fs and node:fs/promises follow the patch through syncBuiltinESMExports).
 */
async function pathsOpened(fn: () => Promise<unknown>): Promise<Set<string>> {
  const seen = new Set<string>();
  const record = (p: unknown): void => void (typeof p === 'string' ? seen.add(path.resolve(p)) : undefined);
  const patches: [Record<string, unknown>, string][] = [
    [fs.promises as unknown as Record<string, unknown>, 'open'],
    [fs.promises as unknown as Record<string, unknown>, 'readFile'],
    [fs as unknown as Record<string, unknown>, 'open'],
    [fs as unknown as Record<string, unknown>, 'openSync'],
    [fs as unknown as Record<string, unknown>, 'readFile'],
    [fs as unknown as Record<string, unknown>, 'readFileSync'],
    [fs as unknown as Record<string, unknown>, 'createReadStream'],
  ];
  const originals = patches.map(([obj, name]) => obj[name] as (...a: unknown[]) => unknown);
  patches.forEach(([obj, name], i) => {
    obj[name] = (...args: unknown[]): unknown => {
      record(args[0]);
      return originals[i]!.apply(obj, args);
    };
  });
  syncBuiltinESMExports();
  try {
    await fn();
  } finally {
    patches.forEach(([obj, name], i) => (obj[name] = originals[i]));
    syncBuiltinESMExports();
  }
  return seen;
}

async function snapshotOf(repo: Repository): Promise<Metadata<Snapshot>> {
  return (await repo.load('snapshot')) as Metadata<Snapshot>;
}

/** Snapshot lists every targets role at the version, length and sha256 of its file. */
async function expectSnapshotMatchesFiles(repo: Repository): Promise<void> {
  const snapshot = await snapshotOf(repo);
  const tree = await repo.tree();
  expect([...snapshot.signed.meta.keys()].sort()).toEqual(tree.map((n) => `${n.name}.json`).sort());
  for (const { name } of tree) {
    const bytes = await readFile(path.join(repo.dir, 'metadata', `${name}.json`));
    const meta = snapshot.signed.meta.get(`${name}.json`)!;
    expect(meta.version).toBe(Metadata.fromBytes(bytes, 'targets', name).signed.version);
    expect(meta.length).toBe(bytes.length);
    expect(meta.hashes?.sha256).toBe(createHash('sha256').update(bytes).digest('hex'));
  }
}

describe('a one-file release reads only the roles it changes', () => {
  it('add, sign the bin, snapshot, timestamp and publish open no other bin file', async () => {
    const { repo, base, out } = await fresh();
    const newPath = 'pkg/new-one.txt';
    const bin = binOf(newPath);
    const opened = await pathsOpened(async () => {
      await addFileTargets(repo, base, { [newPath]: 'new contents' });
      await repo.sign(bin, BINS);
      await repo.updateSnapshot(KEY);
      await repo.updateTimestamp(KEY);
      const result = await repo.publish(out);
      expect(result.written.filter((w) => w.startsWith('metadata/'))).toHaveLength(3);
    });
    const metadataDir = path.resolve(repo.dir, 'metadata');
    // The watch sees reads at all: the changed bin was read.
    expect(opened.has(path.join(metadataDir, `${bin}.json`))).toBe(true);
    const otherBins = [...opened].filter((p) => path.dirname(p) === metadataDir && /^bins-/.test(path.basename(p)) && path.basename(p) !== `${bin}.json`);
    expect(otherBins).toEqual([]);
    // Nor any published copy of them in OUT (checked by stat against the index, not read).
    const outBins = [...opened].filter((p) => p.startsWith(path.resolve(out)) && /\.bins-/.test(path.basename(p)) && !path.basename(p).includes(`.${bin}.json`));
    expect(outBins).toEqual([]);
    await expectSnapshotMatchesFiles(repo);
  });

  it('removing a target reads only its bin, and keeps contents another target still lists', async () => {
    const { repo, base } = await fresh();
    // Same contents under a second path (stored once): removing one keeps the blob.
    const [binA] = await addFileTargets(repo, base, { 'pkg/same-a.txt': 'shared' });
    await addFileTargets(repo, base, { 'pkg/same-b.txt': 'shared' });
    const sha = createHash('sha256').update('shared').digest('hex');
    const blob = path.join(repo.dir, 'blobs/sha256', sha.slice(0, 2), sha);
    const opened = await pathsOpened(() => repo.removeTargets(['pkg/same-a.txt']));
    const metadataDir = path.resolve(repo.dir, 'metadata');
    const binsRead = [...opened].filter((p) => path.dirname(p) === metadataDir && /^bins-/.test(path.basename(p))).map((p) => path.basename(p));
    expect(binsRead).toEqual([`${binA}.json`]);
    expect(fs.existsSync(blob)).toBe(true);
    await repo.removeTargets(['pkg/same-b.txt']);
    expect(fs.existsSync(blob)).toBe(false);
  });
});

describe('an index that does not match the role files is rebuilt, never trusted', () => {
  it('deleted or damaged: every command works and snapshot lists the role files', async () => {
    const { repo, base, out } = await fresh();
    await rm(path.join(repo.dir, 'index'), { recursive: true });
    await addFileTargets(repo, base, { 'pkg/after-delete.txt': 'x' });
    await release(repo);
    await expectSnapshotMatchesFiles(repo);
    await repo.publish(out);

    await writeFile(path.join(repo.dir, 'index/index.json'), '{"format":1,"gen":"g-000000000000","roles":{},"shards":{},"problems":[]');
    await addFileTargets(repo, base, { 'pkg/after-damage.txt': 'y' });
    await release(repo);
    await expectSnapshotMatchesFiles(repo);
    const result = await repo.publish(out);
    expect(result.written).toContain('metadata/timestamp.json');

    // Still JSON, but not what was written: every bin claims version 99.
    const indexFile = path.join(repo.dir, 'index/index.json');
    const text = await readFile(indexFile, 'utf8');
    expect(text).toMatch(/"v":1,/);
    await writeFile(indexFile, text.replace(/"v":\d+,/g, '"v":99,'));
    await repo.updateSnapshot(KEY);
    await expectSnapshotMatchesFiles(repo);
  });

  it('restored from before the last command (killed between the role write and the index write): snapshot lists the new bin, publish refuses it unsigned', async () => {
    const { repo, base, out } = await fresh();
    const before = path.join(base, 'index-before');
    await cp(path.join(repo.dir, 'index'), before, { recursive: true });
    const [bin] = await addFileTargets(repo, base, { 'pkg/killed.txt': 'z' });
    await rm(path.join(repo.dir, 'index'), { recursive: true });
    await cp(before, path.join(repo.dir, 'index'), { recursive: true });

    await repo.updateSnapshot(KEY);
    await repo.updateTimestamp(KEY);
    await expectSnapshotMatchesFiles(repo);
    const status = await repo.status();
    expect(status.roles.find((r) => r.name === bin)!.signatures.verified).toBe(false);
    const timestamp = await readFile(path.join(out, 'metadata/timestamp.json'));
    await expect(repo.publish(out)).rejects.toBeInstanceOf(UnsignedMetadataError);
    expect(await readFile(path.join(out, 'metadata/timestamp.json'))).toEqual(timestamp);
  });

  it('a bin file replaced behind tufkit’s back by an older copy: snapshot lists the file as it is, publish refuses the old snapshot', async () => {
    const { repo, base, out } = await fresh();
    const newPath = 'pkg/replaced.txt';
    const bin = binOf(newPath);
    const binFile = path.join(repo.dir, 'metadata', `${bin}.json`);
    const old = await readFile(binFile);
    await addFileTargets(repo, base, { [newPath]: 'w' });
    await release(repo);
    await repo.publish(out);
    // A signed version, written in place: the index's stat of the file no longer matches.
    await writeFile(binFile, old);
    await expect(repo.publish(out)).rejects.toBeInstanceOf(BadVersionError);
    await repo.updateSnapshot(KEY);
    await expectSnapshotMatchesFiles(repo);
    expect((await snapshotOf(repo)).signed.meta.get(`${bin}.json`)!.version).toBe(Metadata.fromBytes(old, 'targets', bin).signed.version);
  });

  it('a damaged or missing shard: publish still refuses target paths that differ only in case across bins', async () => {
    const { repo, base, out } = await fresh();
    // Two paths in two bins (targets add compares only the bins it edits).
    let variant = '';
    for (let i = 0; !variant; i++) if (binOf(`Docs/${i}.txt`) !== binOf(`docs/${i}.txt`)) variant = `${i}.txt`;
    await addFileTargets(repo, base, { [`docs/${variant}`]: 'lower' });
    await addFileTargets(repo, base, { [`Docs/${variant}`]: 'upper' });
    await release(repo);
    await expect(repo.publish(out)).rejects.toBeInstanceOf(UnsafePathError);

    const index = path.join(repo.dir, 'index');
    const gen = (await readdir(index)).find((d) => d.startsWith('g-'))!;
    const shards = await readdir(path.join(index, gen));
    for (const s of shards) await writeFile(path.join(index, gen, s), '{}');
    await expect(repo.publish(out)).rejects.toBeInstanceOf(UnsafePathError);
    await rm(path.join(index, gen), { recursive: true });
    await expect(repo.publish(out)).rejects.toBeInstanceOf(UnsafePathError);
    // And the records are rebuilt in full: removing one of the two clears the refusal.
    await repo.removeTargets([`Docs/${variant}`]);
    await release(repo);
    await repo.publish(out);
  });
});
