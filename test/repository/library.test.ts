import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BadVersionError,
  ExpiredMetadataError,
  KeyError,
  LengthOrHashMismatchError,
  RoleNotFoundError,
  UnsafePathError,
  UnsignedMetadataError,
  UsageError,
} from '../../src/errors.js';
import { Metadata } from '../../src/models/metadata.js';
import type { Targets } from '../../src/models/targets.js';
import { ExternalSigner } from '../../src/repository/external-signer.js';
import { checkTargetPath, publishedTargetName } from '../../src/repository/layout.js';
import { readSigner } from '../../src/repository/key-files.js';
import { Repository } from '../../src/repository/repository.js';
import { hashFile, hashFiles } from '../../src/repository/targets-hashing.js';
import { keyOf, newSigner, removeTemps, tempDir, treeHash } from './helpers.js';

// The Repository library: version rounds, signing, snapshot/timestamp consistency, delegations
// and hash bins, key changes, atomic failure, publish layout and refusals.

const R1 = newSigner();
const R2 = newSigner();
const T = newSigner();
const ONLINE = newSigner();
const DEV = newSigner('ecdsa');
const BINS = newSigner();

afterAll(removeTemps);

async function fresh(opts: { consistentSnapshot?: boolean; targetHashes?: string[] } = {}): Promise<{ repo: Repository; dir: string; files: string }> {
  const base = await tempDir();
  const dir = path.join(base, 'repo');
  const files = path.join(base, 'files');
  await mkdir(files);
  const repo = await Repository.init(dir, {
    roles: {
      root: { keys: [keyOf(R1), keyOf(R2)], threshold: 2 },
      targets: { keys: [keyOf(T)] },
      snapshot: { keys: [keyOf(ONLINE)] },
      timestamp: { keys: [keyOf(ONLINE)] },
    },
    ...opts,
  });
  return { repo, dir, files };
}

async function file(dir: string, name: string, content: string | Uint8Array): Promise<string> {
  const p = path.join(dir, name);
  await mkdir(path.dirname(p), { recursive: true });
  await writeFile(p, content);
  return p;
}

/** Signs everything top-level and releases: the repository is then ready to publish. */
async function release(repo: Repository): Promise<void> {
  const st = await repo.status();
  for (const r of st.roles) {
    if (r.signatures.complete || r.type === 'snapshot' || r.type === 'timestamp') continue;
    if (r.name === 'root') {
      await repo.sign('root', R1);
      await repo.sign('root', R2);
    } else if (r.name === 'targets') await repo.sign('targets', T);
    else if (r.name.startsWith('bins-')) await repo.sign(r.name, BINS);
    else await repo.sign(r.name, DEV);
  }
  await repo.updateSnapshot(ONLINE);
  await repo.updateTimestamp(ONLINE);
}

describe('version rounds', () => {
  it('bumps a role once per round: edits of an unfinished version keep its number', async () => {
    const { repo, files } = await fresh();
    const a = await file(files, 'a.txt', 'a');
    await repo.addTargets([{ file: a, path: 'a.txt' }]);
    await repo.addTargets([{ file: a, path: 'b.txt' }]);
    expect((await repo.targets()).signed.version).toBe(1); // version 1 was never finished
    await repo.sign('targets', T);
    const signedV1 = (await repo.targets()).signed.expires;

    repo.now = () => new Date(Date.now() + 86400_000);
    await repo.addTargets([{ file: a, path: 'c.txt' }]);
    let t = await repo.targets();
    expect(t.signed.version).toBe(2);
    expect(t.signatures.size).toBe(0);
    expect(t.signed.expires.getTime()).toBeGreaterThan(signedV1.getTime()); // renewed from the period
    await repo.sign('targets', T);
    // ...a partially signed version is unfinished too: threshold 1 of 1 is finished, so v3.
    await repo.removeTargets(['c.txt']);
    await repo.setExpiry('targets', new Date(Date.now() + 40 * 86400_000));
    await repo.addTargets([{ file: a, path: 'd.txt' }], { custom: { tag: 'x' } });
    t = await repo.targets();
    expect(t.signed.version).toBe(3);
    expect(t.signed.targets.get('d.txt')!.custom).toEqual({ tag: 'x' });
    expect(Math.round((t.signed.expires.getTime() - Date.now()) / 86400_000)).toBe(40); // explicit expiry kept
  });

  it('an edit that changes nothing writes nothing', async () => {
    const { repo, dir, files } = await fresh();
    const a = await file(files, 'a.txt', 'a');
    await repo.addTargets([{ file: a, path: 'a.txt' }]);
    await repo.sign('targets', T);
    const before = await treeHash(dir);
    await repo.addTargets([{ file: a, path: 'a.txt' }]);
    expect(await treeHash(dir)).toBe(before);
    expect((await repo.targets()).signed.version).toBe(1);
  });

  it('signing adds a signature and never changes the signed part', async () => {
    const { repo, dir } = await fresh();
    const before = (await repo.root()).signedBytes();
    await repo.sign('root', R1);
    await repo.sign('root', R1); // the same key again replaces its signature
    const root = Metadata.fromBytes(await readFile(path.join(dir, 'metadata/root.json')), 'root');
    expect(Buffer.from(root.signedBytes())).toEqual(Buffer.from(before));
    expect([...root.signatures.keys()]).toEqual([R1.keyid]);
    // The signer writes the file itself (one encoding for signature and file): exactly toBytes().
    expect(Buffer.from(root.toBytes()).equals(await readFile(path.join(dir, 'metadata/root.json')))).toBe(true);
    expect(existsSync(path.join(dir, 'metadata/root_history/1.root.json'))).toBe(false); // not finished
    await repo.sign('root', R2);
    expect(existsSync(path.join(dir, 'metadata/root_history/1.root.json'))).toBe(true);
  });

  it('refuses a key not authorised for the role, a public key, and an unknown role', async () => {
    const { repo, dir } = await fresh();
    const before = await treeHash(dir);
    await expect(repo.sign('root', T)).rejects.toBeInstanceOf(KeyError);
    await expect(repo.sign(['targets', 'root'], T)).rejects.toBeInstanceOf(KeyError); // checked before any is signed
    await expect(repo.sign('nosuch', T)).rejects.toBeInstanceOf(RoleNotFoundError);
    expect(await treeHash(dir)).toBe(before);
  });
});

describe('snapshot, timestamp and publish checks', () => {
  it('publish refuses unsigned, expired and out-of-date roles with their own error class', async () => {
    const { repo, dir, files } = await fresh();
    const out = path.join(path.dirname(dir), 'out');
    await expect(repo.publish(out)).rejects.toBeInstanceOf(UnsignedMetadataError);
    await release(repo);
    expect((await repo.status()).ready).toBe(true);

    // Signed after the snapshot: its hash no longer matches.
    await repo.addTargets([{ file: await file(files, 'x', 'x'), path: 'x' }]);
    await repo.sign('targets', T);
    let err = await repo.publish(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadVersionError);
    expect(String(err)).toMatch(/snapshot version 1 lists targets.json at version 1, but it is at version 2/);
    await repo.updateSnapshot(ONLINE);
    err = await repo.publish(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BadVersionError);
    expect(String(err)).toMatch(/timestamp version 1 lists snapshot.json at version 1, but it is at version 2/);
    await repo.updateTimestamp(ONLINE);
    await repo.publish(out);

    // Same version, different bytes: a signature added after the snapshot.
    const T2 = newSigner();
    await repo.changeKeys('targets', { add: [keyOf(T2)] });
    await repo.sign('root', R1);
    await repo.sign('root', R2);
    await repo.sign('targets', T2);
    err = await repo.publish(out).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(LengthOrHashMismatchError);
    expect(String(err)).toMatch(/snapshot version 2 lists targets.json with \d+ bytes, the file has \d+: it changed or was signed since/);

    repo.now = () => new Date(Date.now() + 400 * 86400_000);
    await expect(repo.publish(out)).rejects.toBeInstanceOf(ExpiredMetadataError);
  });

  it('publishes consistent snapshot names: N.root.json, V.role.json, HASH.name for every hash', async () => {
    const { repo, dir, files } = await fresh({ targetHashes: ['sha256', 'sha512'] });
    const data = Buffer.from('payload');
    await repo.addTargets([{ file: await file(files, 'p', data), path: 'dir/sub/p.bin' }]);
    await release(repo);
    const out = path.join(path.dirname(dir), 'out');
    const result = await repo.publish(out);
    const sha256 = createHash('sha256').update(data).digest('hex');
    const sha512 = createHash('sha512').update(data).digest('hex');
    expect((await readdir(path.join(out, 'targets/dir/sub'))).sort()).toEqual([`${sha256}.p.bin`, `${sha512}.p.bin`].sort());
    expect((await readdir(path.join(out, 'metadata'))).sort()).toEqual(['1.root.json', '1.snapshot.json', '1.targets.json', 'root.json', 'timestamp.json']);
    expect(await readFile(path.join(out, `targets/dir/sub/${sha512}.p.bin`))).toEqual(data);
    expect(result.written.filter((w) => /^(metadata|targets)\//.test(w))).toHaveLength(7);
    expect(result.written).toEqual(expect.arrayContaining(['_headers', 'tufkit-nginx.conf'])); // the caching rules
    // Publishing again writes nothing new.
    expect((await repo.publish(out)).written).toEqual([]);
  });

  it('publishes plain names without consistent snapshots', async () => {
    const { repo, dir, files } = await fresh({ consistentSnapshot: false });
    await repo.addTargets([{ file: await file(files, 'p', 'plain'), path: 'a/p.txt' }]);
    await release(repo);
    const out = path.join(path.dirname(dir), 'out');
    await repo.publish(out);
    expect((await readdir(path.join(out, 'metadata'))).sort()).toEqual(['1.root.json', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    expect(await readFile(path.join(out, 'targets/a/p.txt'), 'utf8')).toBe('plain');
  });

  it('refuses to publish into its own folders, and refuses a damaged stored target before publishing any metadata', async () => {
    const { repo, dir, files } = await fresh();
    await repo.addTargets([{ file: await file(files, 'p', 'abc'), path: 'p' }]);
    await release(repo);
    await expect(repo.publish(dir)).rejects.toBeInstanceOf(UsageError);
    const blob = repo.blobPath((await repo.targets()).signed.targets.get('p')!);
    await writeFile(blob, 'abcd');
    const out = path.join(path.dirname(dir), 'out');
    await expect(repo.publish(out)).rejects.toThrow(/stored contents of target "p" .* are missing or damaged/);
    // Role files are written beside the target files, but only as temp files until every target is in place.
    expect(existsSync(path.join(out, 'targets'))).toBe(false);
    expect(existsSync(out) ? await readdir(path.join(out, 'metadata')) : []).toEqual([]);
  });
});

describe('delegations', () => {
  it('delegates with paths and path hash prefixes, and checks a target fits its role', async () => {
    const { repo, files } = await fresh();
    const a = await file(files, 'a', 'a');
    await repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['dev/*'], terminating: true });
    const h = createHash('sha256').update('x/y').digest('hex');
    await repo.delegate('targets', { name: 'hashed', keys: [keyOf(DEV)], threshold: 1, pathHashPrefixes: [h.slice(0, 2)] });
    await repo.addTargets([{ file: a, path: 'dev/a' }], { role: 'dev' });
    await repo.addTargets([{ file: a, path: 'x/y' }], { role: 'hashed' });
    await expect(repo.addTargets([{ file: a, path: 'other/a' }], { role: 'dev' })).rejects.toBeInstanceOf(UsageError);
    await expect(repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['x'] })).rejects.toThrow(/exists already/);
    await expect(repo.delegate('targets', { name: 'z', keys: [keyOf(DEV)], threshold: 2, paths: ['x'] })).rejects.toThrow(/larger than its 1 key/);
    const d = (await repo.targets()).signed.delegations!;
    expect([...d.roles!.keys()]).toEqual(['dev', 'hashed']);
    expect(d.roles!.get('dev')!.terminating).toBe(true);
    expect((await repo.tree()).map((n) => n.name)).toEqual(['targets', 'dev', 'hashed']);
  });

  it('creates succinct hash bins, files each target in its bin, and removes them all again', async () => {
    const { repo, dir, files } = await fresh();
    const created = await repo.delegate('targets', { name: 'bins', keys: [keyOf(BINS)], threshold: 1, bins: 16 });
    expect(created).toEqual([...Array(16).keys()].map((i) => `bins-${i.toString(16)}`));
    const inputs = await Promise.all([...Array(40).keys()].map(async (i) => ({ file: await file(files, `f${i}`, `content ${i}`), path: `pkg/f${i}` })));
    const added = await repo.addTargets(inputs);
    const succinct = (await repo.targets()).signed.delegations!.succinctRoles!;
    for (const a of added) expect(a.role).toBe(succinct.getRoleForTarget(a.path));
    const bin = added[0]!.role;
    expect(((await repo.load(bin)) as Metadata<Targets>).signed.targets.has(added[0]!.path)).toBe(true);
    await expect(repo.addTargets([{ file: inputs[0]!.file, path: 'x' }], { role: succinct.getRoleForTarget('y') === 'bins-0' ? 'bins-1' : 'bins-0' }).catch((e) => {
      throw e;
    })).rejects.toThrow(/does not delegate that path/);

    await release(repo);
    await repo.publish(path.join(path.dirname(dir), 'out'));
    const removed = await repo.removeDelegation('targets', 'bins');
    expect(removed).toHaveLength(16);
    expect((await readdir(path.join(dir, 'metadata'))).filter((f) => f.startsWith('bins-'))).toEqual([]);
    const blobs = (await readdir(path.join(dir, 'blobs/sha256'), { recursive: true, withFileTypes: true })).filter((e) => e.isFile());
    expect(blobs).toEqual([]); // contents nobody lists any more are deleted
    // Delegated again, the bins start above their old versions (clients may still hold them).
    await repo.delegate('targets', { name: 'bins', keys: [keyOf(BINS)], threshold: 1, bins: 16 });
    expect((await repo.load('bins-3')).signed.version).toBe(2);
  });

  it('changes a delegated role\'s keys in its delegator, and root keys in a new root version', async () => {
    const { repo } = await fresh();
    await repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['*'] });
    await repo.sign('targets', T);
    const K = newSigner();
    await repo.changeKeys('dev', { add: [keyOf(K)], threshold: 2 });
    const t = await repo.targets();
    expect(t.signed.version).toBe(2);
    expect(t.signed.delegations!.roles!.get('dev')!.keyids).toEqual([DEV.keyid, K.keyid]);
    await repo.changeKeys('dev', { remove: [DEV.keyid], threshold: 1 });
    expect((await repo.targets()).signed.delegations!.keys.has(DEV.keyid)).toBe(false);

    await repo.sign('root', R1);
    await repo.sign('root', R2);
    await repo.changeKeys('root', { remove: [R1.keyid], add: [keyOf(K)] });
    expect((await repo.root()).signed.version).toBe(2);
    await expect(repo.changeKeys('root', { threshold: 3 })).rejects.toThrow(/threshold 3 of role "root" is larger than its 2 key/);
    // R1 (version 1 only) may still sign version 2: its signature counts for version 1's threshold.
    await repo.sign('root', R1);
    const s = await repo.signatureStatus('root');
    expect(s.valid).toEqual([]);
    expect(s.previous!.valid).toEqual([R1.keyid]);
  });
});

describe('safety', () => {
  it('rejects unsafe target paths', () => {
    for (const p of ['', '/abs', '../x', 'a/../b', 'a//b', 'a/', './a', 'a\\b', 'C:/x', 'a\u0000b', `${'x'.repeat(200)}`]) {
      expect(() => checkTargetPath(p), JSON.stringify(p)).toThrow(UnsafePathError);
    }
    for (const p of ['a', 'a/b/c.tar.gz', 'ü/ñ', 'a b/c', '.well-known/x', 'a/.b', '-/+/_']) expect(() => checkTargetPath(p)).not.toThrow();
    expect(publishedTargetName('a/b/c.txt', 'ff')).toBe('a/b/ff.c.txt');
    // A plain 100-byte segment is taken at a glance only while HASH.name stays within 255 bytes.
    const seg = 'x'.repeat(100);
    expect(() => checkTargetPath(`a/${seg}`, 154)).not.toThrow();
    expect(() => checkTargetPath(`a/${seg}`, 155)).toThrow(UnsafePathError);
    expect(() => checkTargetPath(`${'y'.repeat(101)}/${seg}`, 153)).not.toThrow();
    expect(() => checkTargetPath(`${'y'.repeat(101)}/${seg}`, 154)).toThrow(UnsafePathError);
  });

  it('a failing add leaves the folder exactly as it was (stored contents included)', async () => {
    const { repo, dir, files } = await fresh();
    const before = await treeHash(dir);
    const good = await file(files, 'good', 'good');
    await expect(repo.addTargets([{ file: good, path: 'good' }, { file: path.join(files, 'missing'), path: 'missing' }])).rejects.toBeInstanceOf(UsageError);
    await expect(repo.addTargets([{ file: good, path: 'good' }], { role: 'nosuch' })).rejects.toBeInstanceOf(RoleNotFoundError);
    await expect(repo.addTargets([{ file: good, path: 'good' }], { custom: { f: 0.5 } })).rejects.toThrow(/custom/);
    await expect(repo.setExpiry('targets', new Date(Date.now() - 1000))).rejects.toBeInstanceOf(UsageError);
    expect(await treeHash(dir)).toBe(before);
  });

  it('writes new delegated roles before the delegated role that names them: a failed write never leaves it naming a missing file', async () => {
    const { repo, dir } = await fresh();
    await repo.delegate('targets', { name: 'team', keys: [keyOf(DEV)], threshold: 1, paths: ['team/*'], terminating: false });
    const teamFile = path.join(dir, 'metadata', 'team.json');
    const before = await readFile(teamFile);
    // A non-empty folder where the second new bin's file goes: its rename fails (EISDIR).
    const blocker = path.join(dir, 'metadata', 'team-bins-1.json');
    await file(blocker, 'keep', 'x');
    await expect(repo.delegate('team', { name: 'team-bins', keys: [keyOf(BINS)], threshold: 1, bins: 2 })).rejects.toThrow(/team-bins-1\.json/);
    // Written together, "team" would name team-bins-0 and team-bins-1 now, and the repository could not load.
    expect(await readFile(teamFile)).toEqual(before);
    expect((await repo.roleNames()).sort()).toEqual(['root', 'snapshot', 'targets', 'team', 'timestamp']);
    await rm(blocker, { recursive: true });
    expect(await repo.delegate('team', { name: 'team-bins', keys: [keyOf(BINS)], threshold: 1, bins: 2 })).toEqual(['team-bins-0', 'team-bins-1']);
    expect((await repo.status()).roles.map((r) => r.name)).toEqual(expect.arrayContaining(['team', 'team-bins-0', 'team-bins-1']));
  });

  it('serialises concurrent commands on one folder (the lock)', async () => {
    const { repo, files } = await fresh();
    const other = await Repository.open(repo.dir);
    const inputs = await Promise.all([...Array(6).keys()].map(async (i) => ({ file: await file(files, `c${i}`, `c${i}`), path: `c${i}` })));
    await Promise.all(inputs.map((t, i) => (i % 2 ? repo : other).addTargets([t])));
    expect([...(await repo.targets()).signed.targets.keys()].sort()).toEqual(inputs.map((t) => t.path).sort());
  });
});

describe('signers and hashing', () => {
  let keyFile: string;
  let work: string;
  beforeAll(async () => {
    work = await tempDir();
    keyFile = await file(work, 'r1.pem', R1.toPem());
  });

  // Signs stdin with node:crypto: a stand-in for an HSM or KMS tool. Prints hex or raw bytes.
  const command = (raw: boolean): string =>
    `"${process.execPath}" -e "const c=require('crypto');const k=c.createPrivateKey(require('fs').readFileSync(process.argv[1]));const b=[];process.stdin.on('data',d=>b.push(d)).on('end',()=>{const s=c.sign(null,Buffer.concat(b),k);process.stdout.write(${raw ? 's' : "s.toString('hex')+'\\\\n'"})})" "${keyFile}"`;

  it('signs through an external command (hex or raw), finding the key from the signature', async () => {
    const { repo } = await fresh();
    const [r] = await repo.sign('root', new ExternalSigner(command(false)));
    expect(r!.keyid).toBe(R1.keyid);
    await repo.sign('root', new ExternalSigner(command(true), keyOf(R1)));
    expect((await repo.signatureStatus('root')).valid).toEqual([R1.keyid]);
    await expect(repo.sign('targets', new ExternalSigner(command(false)))).rejects.toThrow(/does not verify with any key authorised for role "targets"/);
    await expect(repo.sign('targets', new ExternalSigner(command(false), keyOf(T)))).rejects.toThrow(/does not verify/);
    await expect(repo.sign('root', new ExternalSigner('exit 7'))).rejects.toThrow(/failed \(exit status 7\)/);
  });

  it('loads a private key file as the key a role lists', async () => {
    const { repo } = await fresh();
    const signer = await readSigner(keyFile, undefined, await repo.authorisedKeys('root'));
    expect(signer.keyid).toBe(R1.keyid);
  });

  it('hashes files in one pass with several algorithms, as node:crypto does', async () => {
    const big = Buffer.alloc(3 * 1024 * 1024 + 17, 7);
    const p = await file(work, 'big', big);
    const d = await hashFile(p, ['sha256', 'sha384', 'sha512']);
    expect(d.length).toBe(big.length);
    for (const alg of ['sha256', 'sha384', 'sha512']) expect(d.hashes[alg]).toBe(createHash(alg).update(big).digest('hex'));
    const small = await Promise.all([...Array(20).keys()].map((i) => file(work, `s${i}`, `s${i}`)));
    const all = await hashFiles(small, ['sha256']);
    all.forEach((x, i) => expect(x.hashes.sha256).toBe(createHash('sha256').update(`s${i}`).digest('hex')));
  });
});
