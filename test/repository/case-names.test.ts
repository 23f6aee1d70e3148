import { existsSync } from 'node:fs';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsafePathError } from '../../src/errors.js';
import { Metadata } from '../../src/models/metadata.js';
import { DelegatedRole } from '../../src/models/role.js';
import { TargetFile } from '../../src/models/files.js';
import type { Targets } from '../../src/models/targets.js';
import { publicKeyFileText } from '../../src/repository/key-files.js';
import { Repository } from '../../src/repository/repository.js';
import { ensureBuilt, expectRefusedInOneLine, keyOf, newSigner, removeTemps, tempDir, treeHash, tufkit } from './helpers.js';

// Names that differ only in case are one file on macOS and Windows: a delegated role "Root" would
// replace root.json, "X" would replace "x", a target "README.txt" would replace "readme.txt" in a
// published folder and in the download folder of clients that name files after target paths.
// The repository refuses to make such names, and publish refuses a folder that holds them.

const ROOT = newSigner();
const ONLINE = newSigner();
const DEV = newSigner();
let work: string;

async function newRepo(name: string, consistentSnapshot = true): Promise<Repository> {
  const repo = await Repository.init(path.join(work, name), {
    roles: { root: { keys: [keyOf(ROOT)] }, targets: { keys: [keyOf(ONLINE)] }, snapshot: { keys: [keyOf(ONLINE)] }, timestamp: { keys: [keyOf(ONLINE)] } },
    consistentSnapshot,
  });
  await repo.sign('root', ROOT);
  return repo;
}

/** Signs whatever changed and makes snapshot and timestamp, so that publish has nothing else to refuse. */
async function signAll(repo: Repository): Promise<void> {
  for (const { name } of await repo.tree()) await repo.sign(name, name === 'targets' ? ONLINE : DEV);
  await repo.updateSnapshot(ONLINE);
  await repo.updateTimestamp(ONLINE);
}

/** What another tool could leave in a repository folder: delegated role `from` renamed to `to`, files and all. */
async function renameRoleByHand(repo: Repository, from: string, to: string): Promise<void> {
  const file = path.join(repo.dir, 'metadata/targets.json');
  const md = Metadata.fromBytes(await readFile(file), 'targets');
  const old = md.signed.delegations!.roles!.get(from)!;
  md.signed.delegations!.roles = new Map([[to, new DelegatedRole(to, old.keyids, old.threshold, old.terminating, old.paths, old.pathHashPrefixes)]]);
  await writeFile(file, md.toBytes());
  await rename(path.join(repo.dir, `metadata/${from}.json`), path.join(repo.dir, `metadata/${to}.json`));
}

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir('tufkit-case-');
  await mkdir(path.join(work, 'keys'));
  await writeFile(path.join(work, 'keys/dev.pub'), publicKeyFileText(keyOf(DEV)));
  for (const f of ['a.txt', 'b.txt']) await writeFile(path.join(work, f), `${f}\n`);
}, 20_000);

afterAll(removeTemps);

describe('library', () => {
  it('refuses delegated role names equal ignoring case to a top-level role or another role', async () => {
    const repo = await newRepo('lib-roles');
    const dev = { keys: [keyOf(DEV)], threshold: 1 };
    await repo.delegate('targets', { name: 'x', ...dev, paths: ['x/*'] });
    await repo.delegate('targets', { name: 'Bins-1', ...dev, paths: ['b/*'] });
    const before = await treeHash(repo.dir);
    const refused = async (from: string, spec: Parameters<Repository['delegate']>[1], message: RegExp): Promise<void> => {
      const e = await repo.delegate(from, spec).then(() => undefined, (err: unknown) => err);
      expect(e, spec.name).toBeInstanceOf(UnsafePathError);
      expect((e as Error).message).toMatch(message);
      expect(await treeHash(repo.dir)).toBe(before);
    };
    for (const name of ['Root', 'ROOT', 'Targets', 'SNAPSHOT', 'timeStamp']) {
      await refused('targets', { name, ...dev, paths: ['y/*'] }, new RegExp(`role name "${name}" is not allowed: .*top-level role's \\(${name.toLowerCase()}\\.json\\)`));
    }
    // Published without consistent snapshots these would be 1.root.json, which every client fetches.
    for (const name of ['1.root', '2.Root', '3.snapshot']) await refused('targets', { name, ...dev, paths: ['y/*'] }, /is not allowed/);
    for (const name of ['nul', 'CON', 'com1.x']) await refused('targets', { name, ...dev, paths: ['y/*'] }, /Windows takes .* for a device/);
    await refused('targets', { name: 'X', ...dev, paths: ['y/*'] }, /^role "x" and role "X" would be stored as "x.json" and "X.json", which differ only in case/);
    await refused('x', { name: 'BINS-1', ...dev, paths: ['x/1/*'] }, /role "Bins-1" and role "BINS-1"/);
    // Hash bins are roles too: "bins" with 2 bins makes bins-0 and bins-1.
    await refused('x', { name: 'bins', ...dev, bins: 2 }, /role "Bins-1" and role "bins-1"/);
    // The same names in lower case are fine where nothing else has them.
    expect(await repo.delegate('x', { name: 'x2', ...dev, paths: ['x/2/*'] })).toEqual(['x2']);
  });

  it('refuses target paths that differ only in case, in one call and across calls', async () => {
    const repo = await newRepo('lib-targets');
    await repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['dev/*'] });
    const a = path.join(work, 'a.txt');
    const b = path.join(work, 'b.txt');
    await repo.addTargets([{ file: a, path: 'README.txt' }]);
    await repo.addTargets([{ file: a, path: 'dev/File' }], { role: 'dev' });
    const before = await treeHash(repo.dir);
    const refused = async (inputs: { file: string; path: string }[], message: RegExp, role?: string): Promise<void> => {
      const e = await repo.addTargets(inputs, { role }).then(() => undefined, (err: unknown) => err);
      expect(e, inputs.map((i) => i.path).join()).toBeInstanceOf(UnsafePathError);
      expect((e as Error).message).toMatch(message);
      expect(await treeHash(repo.dir)).toBe(before);
    };
    await refused([{ file: b, path: 'readme.txt' }], /^target "README.txt" of role "targets" and target "readme.txt" of role "targets" would be stored as "README.txt" and "readme.txt", which differ only in case/);
    await refused([{ file: a, path: 'A.bin' }, { file: b, path: 'a.BIN' }], /target "A.bin" .* and target "a.BIN"/);
    await refused([{ file: b, path: 'dev/file' }], /target "dev\/File" of role "dev" and target "dev\/file" of role "dev"/, 'dev');
    // Unicode: NFC and NFD spell one name on macOS, and Σ/σ/ς are one letter.
    await refused([{ file: a, path: 'caf\u00e9' }, { file: b, path: 'cafe\u0301' }], /differ only in case/);
    await refused([{ file: a, path: 'ΟΔΟΣ' }, { file: b, path: 'οδος' }], /differ only in case/);
    // The same path again is an update, not a second file.
    expect((await repo.addTargets([{ file: b, path: 'README.txt' }]))[0]!.length).toBe(6);
  });

  it('publish refuses a folder in which another tool named a role like root', async () => {
    const repo = await newRepo('lib-publish-root');
    await repo.delegate('targets', { name: 'zz', keys: [keyOf(DEV)], threshold: 1, paths: ['z/*'] });
    await renameRoleByHand(repo, 'zz', 'Root');
    await signAll(repo);
    const out = path.join(work, 'out-root');
    const e = await repo.publish(out).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(UnsafePathError);
    expect((e as Error).message).toMatch(/^root version 1 and role "Root" would be stored as "1.root.json" and "1.Root.json", which differ only in case/);
    expect(existsSync(out)).toBe(false);
  });

  it('publish refuses a role whose published file is a root version (without consistent snapshots)', async () => {
    const repo = await newRepo('lib-publish-1root', false);
    await repo.delegate('targets', { name: 'zz', keys: [keyOf(DEV)], threshold: 1, paths: ['z/*'] });
    await renameRoleByHand(repo, 'zz', '1.root');
    await signAll(repo);
    const e = await repo.publish(path.join(work, 'out-1root')).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(UnsafePathError);
    expect((e as Error).message).toMatch(/^root version 1 and role "1.root" would be stored as "1.root.json": /);
  });

  it('publish refuses target paths that differ only in case in two roles (targets add checks one role)', async () => {
    const repo = await newRepo('lib-publish-roles');
    await repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['dev/*'] });
    await repo.addTargets([{ file: path.join(work, 'a.txt'), path: 'dev/File' }], { role: 'dev' });
    await repo.addTargets([{ file: path.join(work, 'b.txt'), path: 'DEV/FILE' }]);
    await signAll(repo);
    const out = path.join(work, 'out-roles');
    const e = await repo.publish(out).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(UnsafePathError);
    expect((e as Error).message).toMatch(/^target "DEV\/FILE" of role "targets" and target "dev\/File" of role "dev" would be stored as "DEV\/FILE" and "dev\/File"/);
    expect(existsSync(out)).toBe(false);
  });

  it('publish refuses targets whose paths another tool listed in two cases', async () => {
    const repo = await newRepo('lib-publish-targets');
    await repo.addTargets([{ file: path.join(work, 'a.txt'), path: 'A.txt' }]);
    const file = path.join(repo.dir, 'metadata/targets.json');
    const md = Metadata.fromBytes(await readFile(file), 'targets') as Metadata<Targets>;
    const tf = md.signed.targets.get('A.txt')!;
    md.signed.targets.set('a.txt', new TargetFile('a.txt', tf.length, tf.hashes));
    await writeFile(file, md.toBytes());
    await signAll(repo);
    const out = path.join(work, 'out-targets');
    const e = await repo.publish(out).then(() => undefined, (err: unknown) => err);
    expect(e).toBeInstanceOf(UnsafePathError);
    expect((e as Error).message).toMatch(/^target "A.txt" of role "targets" and target "a.txt" of role "targets" would be stored as "A.txt" and "a.txt"/);
    expect(existsSync(out)).toBe(false);
  });
});

describe('CLI: one line, exit 1, nothing changed', () => {
  it.each([
    ['delegated role named like root', ['delegate', 'cli', '--from', 'targets', '--to', 'Root', '--key', 'keys/dev.pub', '--threshold', '1', '--paths', 'y/*'], /UnsafePathError: role name "Root" is not allowed/],
    ['delegated role named like another role', ['delegate', 'cli', '--from', 'targets', '--to', 'DEV', '--key', 'keys/dev.pub', '--threshold', '1', '--paths', 'y/*'], /UnsafePathError: role "dev" and role "DEV" would be stored as "dev.json" and "DEV.json"/],
    ['hash bins named like another role', ['delegate', 'cli', '--from', 'dev', '--to', 'DEV', '--key', 'keys/dev.pub', '--threshold', '1', '--bins', '2'], /UnsafePathError: role "Dev-0" and role "DEV-0" would be stored/],
    ['target path differing only in case', ['targets', 'add', 'cli', 'b.txt', '--path', 'readme.TXT'], /UnsafePathError: target "README.txt" of role "targets" and target "readme.TXT" of role "targets" would be stored as "README.txt" and "readme.TXT", which differ only in case/],
  ])('%s', async (_name, args, message) => {
    if (!existsSync(path.join(work, 'cli'))) {
      const repo = await newRepo('cli');
      await repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['dev/*'] });
      await repo.delegate('targets', { name: 'Dev-0', keys: [keyOf(DEV)], threshold: 1, paths: ['d0/*'] });
      await repo.addTargets([{ file: path.join(work, 'a.txt'), path: 'README.txt' }]);
    }
    await expectRefusedInOneLine(work, args, message);
  });

  it('publish refuses a folder that holds a role named like root', async () => {
    const repo = await newRepo('cli-publish');
    await repo.delegate('targets', { name: 'zz', keys: [keyOf(DEV)], threshold: 1, paths: ['z/*'] });
    await renameRoleByHand(repo, 'zz', 'ROOT');
    await signAll(repo);
    const r = await tufkit(['publish', 'cli-publish', '--out', 'cli-out'], { cwd: work });
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^tufkit: UnsafePathError: root version 1 and role "ROOT" would be stored as "1.root.json" and "1.ROOT.json", which differ only in case/)]);
    expect(existsSync(path.join(work, 'cli-out'))).toBe(false);
  });
});
