import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KeyError, RepositoryError, RoleNotFoundError, UnsignedMetadataError, UsageError } from '../../src/errors.js';
import { TargetFile } from '../../src/models/files.js';
import { Metadata } from '../../src/models/metadata.js';
import { SuccinctRoles } from '../../src/models/role.js';
import type { Snapshot } from '../../src/models/snapshot.js';
import type { Targets } from '../../src/models/targets.js';
import { Repository } from '../../src/repository/repository.js';
import {
  addFileTargets,
  type ClientUnderTest,
  ensureBuilt,
  expectRefusedInOneLine,
  keyOf,
  newSigner,
  ok,
  removeTemps,
  serveToClients,
  tempDir,
  TestServer,
  treeHash,
  tufkit,
  tufkitClient,
  writeKeyFiles,
} from './helpers.js';

// Re-binning succinct hash bins in place (16 -> 256 here; 1,024 -> 16,384 at PyPI scale): the
// delegator's bit_length changes, targets move to their new bins, the old bins are removed and stay
// listed in snapshot. Library checks first, then the CLI with clients over HTTP on 127.0.0.1.

const T = newSigner();
const B1 = newSigner();
const B2 = newSigner();
const ONLINE = newSigner();

afterAll(removeTemps);

async function binRepo(bins: number, files: Record<string, string>): Promise<{ repo: Repository; dir: string; base: string }> {
  const base = await tempDir();
  const dir = path.join(base, 'repo');
  const repo = await Repository.init(dir, {
    roles: { root: { keys: [keyOf(T)] }, targets: { keys: [keyOf(T)] }, snapshot: { keys: [keyOf(ONLINE)] }, timestamp: { keys: [keyOf(ONLINE)] } },
  });
  await repo.delegate('targets', { name: 'bins', keys: [keyOf(B1), keyOf(B2)], threshold: 2, bins });
  await addFileTargets(repo, base, files);
  return { repo, dir, base };
}

const files = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`pkg/file-${i}.txt`, `contents ${i}\n`]));

async function binsOf(repo: Repository): Promise<SuccinctRoles> {
  return (await repo.targets('targets')).signed.delegations!.succinctRoles!;
}

describe('Repository.rebin', { timeout: 30_000 }, () => {
  it('moves every target to its new bin, with the old keys and threshold, and retires the old bins', async () => {
    const { repo, dir } = await binRepo(16, files);
    const before = await binsOf(repo);
    const r = await repo.rebin('targets', 'bins', 256);
    expect(r).toMatchObject({ from: 'targets', prefix: 'bins', oldBins: 16, newBins: 256, moved: 60 });
    expect(r.created).toEqual([...new SuccinctRoles([], 1, 8, 'bins').getRoles()]);
    expect(r.retired).toEqual([...before.getRoles()]);
    const after = await binsOf(repo);
    expect(after.bitLength).toBe(8);
    expect(after.keyids).toEqual(before.keyids);
    expect(after.threshold).toBe(2);
    for (const [p, content] of Object.entries(files)) {
      const bin = await repo.targets(after.getRoleForTarget(p));
      const tf = bin.signed.targets.get(p)!;
      expect(tf.length, p).toBe(content.length);
      expect(await readFile(repo.blobPath(tf), 'utf8')).toBe(content);
    }
    let listed = 0;
    for (const name of r.created) listed += (await repo.targets(name)).signed.targets.size;
    expect(listed).toBe(60);
    for (const old of r.retired) expect(existsSync(path.join(dir, 'metadata', `${old}.json`)), old).toBe(false);
    expect(repo.settings.retiredVersions).toEqual(Object.fromEntries(r.retired.map((n) => [n, 1])));
    // The old bins stay in snapshot at their last version (spec 5.5.5).
    await repo.updateSnapshot();
    const meta = (await repo.load('snapshot')).signed as Snapshot;
    expect(meta.meta.get('bins-3.json')).toMatchObject({ version: 1, length: undefined });
    expect(meta.meta.get('bins-3f.json')!.length).toBeGreaterThan(0);
    expect(meta.meta.size).toBe(1 + 16 + 256);
  });

  it('going back to an earlier count re-creates the retired names above their last version', async () => {
    const { repo } = await binRepo(16, files);
    await repo.rebin('targets', 'bins', 256);
    await repo.rebin('targets', 'bins', 16);
    expect((await binsOf(repo)).bitLength).toBe(4);
    // Removed at version 1 (never complete: no version moved), back as version 2.
    expect((await repo.targets('bins-a')).signed.version).toBe(2);
    expect(repo.settings.retiredVersions['bins-00']).toBe(1);
    expect(existsSync(path.join(repo.dir, 'metadata', 'bins-00.json'))).toBe(false);
    let listed = 0;
    for (const name of (await binsOf(repo)).getRoles()) listed += (await repo.targets(name)).signed.targets.size;
    expect(listed).toBe(60);
  });

  it('signs the new bins when given a bin key', async () => {
    const { repo } = await binRepo(16, files);
    const r = await repo.rebin('targets', 'bins', 256, B1);
    for (const name of [r.created[0]!, r.created[255]!]) {
      const s = await repo.signatureStatus(name);
      expect(s.valid, name).toEqual([B1.keyid]);
    }
  });

  it('refuses, changing nothing: same count, same number of hex digits, wrong prefix, no power of two, a key of another role', async () => {
    const { repo, dir } = await binRepo(16, files);
    const before = await treeHash(dir);
    await expect(repo.rebin('targets', 'bins', 16)).rejects.toThrow(UsageError);
    await expect(repo.rebin('targets', 'bins', 8)).rejects.toThrow(/8 hash bins would be named bins-0 … bins-7, like the current 16 .*choose at least 32 bins/);
    await expect(repo.rebin('targets', 'bins', 8)).rejects.toThrow(UsageError);
    await expect(repo.rebin('targets', 'bin', 256)).rejects.toThrow(RoleNotFoundError);
    await expect(repo.rebin('targets', 'bins', 100)).rejects.toThrow(UsageError);
    await expect(repo.rebin('targets', 'bins', 256, T)).rejects.toThrow(KeyError);
    expect(await treeHash(dir)).toBe(before);
  });

  it('refuses bins that delegate further, and a bin listing a target outside its range', async () => {
    const { repo, dir } = await binRepo(16, files);
    const bin = (await binsOf(repo)).getRoleForTarget('pkg/file-0.txt');
    await repo.delegate(bin, { name: 'sub', keys: [keyOf(B1)], threshold: 1, paths: ['sub/*'] });
    await expect(repo.rebin('targets', 'bins', 256)).rejects.toThrow(new RegExp(`hash bin "${bin}" delegates to "sub"`));
    await repo.removeDelegation(bin, 'sub');

    // A target that bin-0 lists but clients never look for there.
    const file = path.join(dir, 'metadata', 'bins-0.json');
    const md = Metadata.fromBytes(await readFile(file), 'targets', 'bins-0') as Metadata<Targets>;
    const some = Object.keys(files)[0]!;
    const other = (await repo.targets((await binsOf(repo)).getRoleForTarget(some))).signed.targets.get(some)!;
    md.signed.targets.set('pkg/stray.txt', new TargetFile('pkg/stray.txt', other.length, other.hashes));
    expect((await binsOf(repo)).getRoleForTarget('pkg/stray.txt')).not.toBe('bins-0');
    await writeFile(file, md.toBytes());
    const before = await treeHash(dir);
    const refused = repo.rebin('targets', 'bins', 256);
    await expect(refused).rejects.toThrow(RepositoryError);
    await expect(refused).rejects.toThrow(/target "pkg\/stray\.txt" is listed by hash bin "bins-0", which is not its bin/);
    expect(await treeHash(dir)).toBe(before);
  });
});

// ---- through the CLI, followed by clients over HTTP --------------------------------------------

describe('tufkit delegate rebin, followed by clients', { timeout: 60_000 }, () => {
  let work: string;
  let server: TestServer;
  let clients: ClientUnderTest[];
  let root1: Uint8Array;
  const keyNames = ['T', 'B', 'S'] as const;
  const keys = { T, B: B1, S: ONLINE };
  const targetNames = Array.from({ length: 40 }, (_, i) => `pkg/f${i}.txt`);
  const run = (...args: string[]): Promise<string> => ok(args, { cwd: work });
  const release = async (...sign: [string, string][]): Promise<void> => {
    for (const [role, key] of sign) await run('sign', 'repo', role, '--key', `keys/${key}.pem`);
    await run('snapshot', 'repo', '--key', 'keys/S.pem');
    await run('timestamp', 'repo', '--key', 'keys/S.pem');
    await run('publish', 'repo', '--out', 'pub');
  };

  beforeAll(async () => {
    ensureBuilt();
    work = await tempDir();
    await writeKeyFiles(work, Object.fromEntries(keyNames.map((n) => [n, keys[n]])));
    await mkdir(path.join(work, 'files/pkg'), { recursive: true });
    for (const t of targetNames) await writeFile(path.join(work, 'files', t), `contents of ${t}\n`);
    // Without snapshot hashes a bin is checked by its signatures alone (the tampering test below).
    await run('repo', 'init', 'repo', '--root-key', 'keys/T.pub', '--targets-key', 'keys/T.pub', '--snapshot-key', 'keys/S.pub', '--timestamp-key', 'keys/S.pub', '--no-snapshot-hashes');
    await run('delegate', 'add', 'repo', '--from', 'targets', '--to', 'bins', '--key', 'keys/B.pub', '--bins', '16');
    await run('targets', 'add', 'repo', 'files/pkg', '--path', 'pkg', '--role', 'bins');
    await release(['root', 'T'], ['targets', 'T'], ['bins-*', 'B']);
    ({ server, root1, clients } = await serveToClients(path.join(work, 'pub')));
    for (const c of clients) {
      await c.refresh();
      expect(await c.download(targetNames[7]!)).toEqual(Buffer.from(`contents of ${targetNames[7]}\n`));
    }
  }, 60_000);

  afterAll(async () => {
    await server?.close();
  });

  it('re-bins 16 -> 256 in one command; clients that trusted the 16 bins find every target', async () => {
    const out = JSON.parse(await run('delegate', 'rebin', 'repo', '--from', 'targets', '--prefix', 'bins', '--bins', '256', '--key', 'keys/B.pem', '--json')) as {
      created: string[];
      retired: string[];
      moved: number;
    };
    expect(out).toMatchObject({ moved: 40 });
    expect(out.created).toHaveLength(256);
    expect(out.retired).toHaveLength(16);
    // The new bins are signed already; targets (offline key) is not.
    const st = await tufkit(['status', 'repo', '--json'], { cwd: work });
    expect(st.code).toBe(1);
    const unsigned = (JSON.parse(st.stdout) as { problems: { role: string; kind: string }[] }).problems.filter((p) => p.kind === 'unsigned').map((p) => p.role);
    expect(unsigned).toEqual(['targets']);
    await release(['targets', 'T']);
    for (const c of clients) {
      await c.refresh();
      for (const t of targetNames) expect(await c.download(t), `${c.name} ${t}`).toEqual(Buffer.from(`contents of ${t}\n`));
    }
  });

  it('a target added after the re-binning reaches clients like any release', async () => {
    await writeFile(path.join(work, 'late.txt'), 'added after re-binning\n');
    const added = JSON.parse(await run('targets', 'add', 'repo', 'late.txt', '--path', 'pkg/late.txt', '--role', 'bins', '--json')) as { role: string }[];
    expect(added[0]!.role).toMatch(/^bins-[0-9a-f]{2}$/);
    await release([added[0]!.role, 'B']);
    for (const c of clients) {
      await c.refresh();
      expect(await c.download('pkg/late.txt'), c.name).toEqual(Buffer.from('added after re-binning\n'));
    }
  });

  it('a tampered new bin is refused', async () => {
    const bins = new SuccinctRoles([], 1, 8, 'bins');
    const bin = bins.getRoleForTarget(targetNames[3]!);
    const snap = Metadata.fromBytes(await readFile(path.join(work, 'pub/metadata/timestamp.json')), 'timestamp');
    const snapshot = Metadata.fromBytes(
      await readFile(path.join(work, `pub/metadata/${(snap.signed as { snapshotMeta: { version: number } }).snapshotMeta.version}.snapshot.json`)),
      'snapshot',
    ) as Metadata<Snapshot>;
    const v = snapshot.signed.meta.get(`${bin}.json`)!.version;
    const served = `/metadata/${v}.${bin}.json`;
    const md = Metadata.fromBytes(await readFile(path.join(work, 'pub', served)), 'targets', bin) as Metadata<Targets>;
    const tf = md.signed.targets.get(targetNames[3]!)!;
    md.signed.targets.set(targetNames[3]!, new TargetFile(tf.path, tf.length + 1, tf.hashes)); // signatures kept
    server.override(served, { body: md.toBytes() });
    try {
      const fresh = await tufkitClient(root1, server.metadataUrl, server.targetsUrl);
      await fresh.refresh();
      const refused = fresh.download(targetNames[3]!);
      await expect(refused).rejects.toThrow(UnsignedMetadataError);
      await expect(refused).rejects.toThrow(new RegExp(`role "${bin}"`));
    } finally {
      server.clearOverrides();
    }
  });

  it('refuses in one line, changing nothing: the names of the current bins, and an unknown prefix', async () => {
    await expectRefusedInOneLine(work, ['delegate', 'rebin', 'repo', '--from', 'targets', '--prefix', 'bins', '--bins', '128'], /^tufkit: UsageError: 128 hash bins would be named bins-00 … bins-7f, like the current 256/);
    await expectRefusedInOneLine(work, ['delegate', 'rebin', 'repo', '--from', 'targets', '--prefix', 'nope', '--bins', '16'], /^tufkit: RoleNotFoundError: role "targets" does not delegate to hash bins named "nope-…"/);
  });
});
