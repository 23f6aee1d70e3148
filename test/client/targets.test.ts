import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadVersionError,
  ExpiredMetadataError,
  LengthOrHashMismatchError,
  UnsignedMetadataError,
} from '../../src/index.js';
import { cleanup, readJSONVersion, setup, type Env } from '../helpers/client.js';
import { flipByte, sha256, utf8, type TestRepo } from '../helpers/repo.js';

// Spec 5.6: the top-level targets role, delegated roles and the delegation search.

afterEach(cleanup);

/** A client that trusts the repository's current release. */
async function refreshed(build?: (r: TestRepo) => Promise<void>, opts: Parameters<typeof setup>[0] = {}): Promise<Env> {
  const env = await setup({ ...opts, build });
  await env.repo.publish();
  await env.updater().refresh();
  env.server.resetRequests();
  return env;
}

describe('top-level targets (spec 5.6.1-5.6.6)', () => {
  it('rejects targets bytes whose hash differs from the one in snapshot (5.6.2)', async () => {
    const env = await refreshed();
    env.repo.addTarget('a.txt', utf8('a'));
    await env.repo.publish();
    const bytes = env.repo.bytesOf('targets');
    env.server.override(`/metadata/${env.repo.metadataFile('targets')}`, { body: flipByte(bytes, bytes.length - 5) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'targets.json'))).toBe(1);
  });

  it('rejects targets whose length differs from the one in snapshot, even with the right hash (5.6.2)', async () => {
    const env = await refreshed();
    env.repo.touch('targets');
    await env.repo.publish({ snapshotMeta: (m) => void (m.get('targets.json')!.length! += 1) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(LengthOrHashMismatchError);
  });

  it('rejects targets not signed by the targets keys (5.6.3)', async () => {
    const env = await refreshed();
    env.repo.touch('targets');
    await env.repo.publish({ signWith: { targets: await env.repo.newSigners(1) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('rejects targets signed below its threshold (5.6.3)', async () => {
    const env = await refreshed(undefined, { onlineKeys: 3, onlineThreshold: 2 });
    env.repo.touch('targets');
    await env.repo.publish({ signWith: { targets: env.repo.signersOf('targets').slice(2) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('rejects targets whose version is not the one snapshot names (5.6.4)', async () => {
    const env = await refreshed();
    // Snapshot names targets v2 (with the hash of the served file), which is targets v1.
    await env.repo.publish({ snapshotMeta: (m) => void (m.get('targets.json')!.version = 2) });
    await env.repo.writeMetadata('2.targets.json', env.repo.bytesOf('targets', 1));
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
  });

  it('rejects expired targets (5.6.5)', async () => {
    const env = await refreshed();
    env.repo.expire('targets');
    await env.repo.publish();
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'targets.json'))).toBe(1);
  });

  it('persists the new targets (5.6.6)', async () => {
    const env = await refreshed();
    env.repo.addTarget('a.txt', utf8('a'));
    await env.repo.publish();
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'targets.json'))).toBe(2);
  });
});

describe('file names of metadata (consistent snapshots, spec 5.5.1, 5.6.1)', () => {
  for (const consistent of [true, false]) {
    it(`requests ${consistent ? 'V.role.json' : 'role.json'} when consistent_snapshot is ${consistent}`, async () => {
      const env = await setup({
        consistentSnapshot: consistent,
        build: async (r) => {
          await r.delegate('targets', 'role1', { paths: ['r/*'] });
          r.addTarget('r/x', utf8('x'), 'role1');
          await r.publish();
        },
      });
      const u = env.updater();
      await u.refresh();
      expect(await u.getTargetInfo('r/x')).toMatchObject({ path: 'r/x', length: 1, hashes: { sha256: sha256(utf8('x')) } });
      const expected = consistent
        ? ['2.root.json', 'timestamp.json', '2.snapshot.json', '2.targets.json', '1.role1.json']
        : ['2.root.json', 'timestamp.json', 'snapshot.json', 'targets.json', 'role1.json'];
      expect(env.server.metadataRequests).toEqual(expected);
    });
  }
});

describe('delegated roles (spec 5.6.7)', () => {
  /** targets -> A -> (A1, A2), targets -> B, all for every path, none terminating. */
  async function tree(r: TestRepo): Promise<void> {
    await r.delegate('targets', 'A');
    await r.delegate('A', 'A1');
    await r.delegate('A', 'A2');
    await r.delegate('targets', 'B');
  }

  it('searches in pre-order depth-first order, in the order delegations are listed', async () => {
    const env = await refreshed(tree);
    const u = env.updater();
    await u.refresh();
    expect(await u.getTargetInfo('missing.txt')).toBeUndefined();
    expect(env.server.metadataRequests.filter((f) => /^\d+\.(A|A1|A2|B)\.json$/.test(f))).toEqual(['1.A.json', '1.A1.json', '1.A2.json', '1.B.json']);
  });

  it('returns the target of the first role in that order (A2 before B)', async () => {
    const env = await refreshed(async (r) => {
      await tree(r);
      r.addTarget('f.txt', utf8('from A2'), 'A2');
      r.addTarget('f.txt', utf8('from B!!'), 'B');
    });
    const u = env.updater();
    await u.refresh();
    const info = await u.getTargetInfo('f.txt');
    expect(info?.hashes.sha256).toBe(sha256hex('from A2'));
    expect(env.server.metadataRequests).not.toContain('1.B.json');
  });

  it('stops the search at a terminating delegation that matched', async () => {
    const env = await refreshed(async (r) => {
      await r.delegate('targets', 'T', { paths: ['*.txt'], terminating: true });
      await r.delegate('targets', 'B');
      r.addTarget('f.txt', utf8('in B'), 'B');
    });
    const u = env.updater();
    await u.refresh();
    expect(await u.getTargetInfo('f.txt')).toBeUndefined();
    expect(env.server.metadataRequests).toContain('1.T.json');
    expect(env.server.metadataRequests).not.toContain('1.B.json');
  });

  it('still searches the children of a terminating role', async () => {
    const env = await refreshed(async (r) => {
      await r.delegate('targets', 'T', { terminating: true });
      await r.delegate('T', 'T1');
      r.addTarget('f.txt', utf8('in T1'), 'T1');
    });
    const u = env.updater();
    await u.refresh();
    expect((await u.getTargetInfo('f.txt'))?.length).toBe(5);
  });

  it('visits each role once in a delegation cycle', async () => {
    const env = await refreshed(async (r) => {
      await r.delegate('targets', 'A');
      await r.delegate('A', 'B');
      await r.delegate('B', 'A');
      await r.delegate('B', 'C');
      r.addTarget('f.txt', utf8('in C'), 'C');
    });
    const u = env.updater();
    await u.refresh();
    expect((await u.getTargetInfo('f.txt'))?.length).toBe(4);
    expect(await u.getTargetInfo('missing')).toBeUndefined();
    const fetched = env.server.metadataRequests.filter((f) => /^\d+\.[ABC]\.json$/.test(f));
    expect(fetched).toEqual(['1.A.json', '1.B.json', '1.C.json']);
  });

  it('visits at most maxDelegations roles', async () => {
    const chain = async (r: TestRepo): Promise<void> => {
      await r.delegate('targets', 'd1');
      for (let i = 2; i <= 5; i++) await r.delegate(`d${i - 1}`, `d${i}`);
      r.addTarget('deep.txt', utf8('deep'), 'd5');
    };
    const env = await refreshed(chain);
    // targets + d1..d5 = 6 roles to reach the target.
    const limited = env.updater({ maxDelegations: 4 });
    await limited.refresh();
    expect(await limited.getTargetInfo('deep.txt')).toBeUndefined();
    expect(env.server.metadataRequests).not.toContain('1.d5.json');
    const enough = env.updater({ maxDelegations: 6 });
    await enough.refresh();
    expect((await enough.getTargetInfo('deep.txt'))?.length).toBe(4);
  });

  it('matches paths with "*" that never crosses "/"', async () => {
    const env = await refreshed(async (r) => {
      await r.delegate('targets', 'D', { paths: ['dir/*'] });
      r.addTarget('dir/a.txt', utf8('a'), 'D');
      r.addTarget('dir/sub/b.txt', utf8('b'), 'D'); // listed, but D is not trusted for it
    });
    const u = env.updater();
    await u.refresh();
    expect(await u.getTargetInfo('dir/a.txt')).toMatchObject({ path: 'dir/a.txt', length: 1, hashes: { sha256: sha256(utf8('a')) } });
    env.server.resetRequests();
    const fresh = env.updater();
    await fresh.refresh();
    expect(await fresh.getTargetInfo('dir/sub/b.txt')).toBeUndefined();
    expect(env.server.metadataRequests).not.toContain('1.D.json');
  });

  it('follows path_hash_prefixes', async () => {
    const p1 = 'one.txt';
    const p2 = 'two.txt';
    const h1 = sha256hex(p1).slice(0, 2);
    const h2 = sha256hex(p2).slice(0, 2);
    expect(h1).not.toBe(h2);
    const env = await refreshed(async (r) => {
      await r.delegate('targets', 'H1', { pathHashPrefixes: [h1] });
      await r.delegate('targets', 'H2', { pathHashPrefixes: [h2] });
      r.addTarget(p1, utf8('1'), 'H1');
      r.addTarget(p2, utf8('wrong bin'), 'H1'); // listed first, but H1 is not trusted for p2
      r.addTarget(p2, utf8('2'), 'H2');
    });
    const u = env.updater();
    await u.refresh();
    expect((await u.getTargetInfo(p2))?.hashes.sha256).toBe(sha256hex('2'));
    expect(env.server.metadataRequests).not.toContain('1.H1.json');
    expect((await u.getTargetInfo(p1))?.hashes.sha256).toBe(sha256hex('1'));
  });

  it('finds targets in succinct hash bins, fetching only the right bin', async () => {
    const paths = ['a.txt', 'b/c.txt', 'd.bin', 'e'];
    // TAP 15 with bit_length 4: the bin is the first hex digit of sha256(path).
    const bins = paths.map((p) => `bin-${sha256hex(p)[0]}`);
    const env = await refreshed(async (r) => {
      await r.delegateSuccinct('targets', 4, 'bin');
      paths.forEach((p, i) => r.addTarget(p, utf8(`content ${i}`), bins[i]!));
    });
    const u = env.updater();
    await u.refresh();
    for (const [i, p] of paths.entries()) {
      expect((await u.getTargetInfo(p))?.hashes.sha256).toBe(sha256hex(`content ${i}`));
    }
    const binRequests = env.server.metadataRequests.filter((f) => f.includes('bin-'));
    expect(binRequests).toEqual([...new Set(bins)].map((b) => `1.${b}.json`));
  });

  it('rejects a delegated role signed by a key its delegator does not trust', async () => {
    const env = await refreshed(async (r) => {
      await r.delegate('targets', 'A');
      r.addTarget('f.txt', utf8('f'), 'A');
    });
    env.repo.touch('A');
    await env.repo.publish({ signWith: { A: await env.repo.newSigners(1) } });
    const u = env.updater();
    await u.refresh();
    await expect(u.getTargetInfo('f.txt')).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('checks a delegated role against snapshot: hash, version, expiry', async () => {
    const build = async (r: TestRepo): Promise<void> => {
      await r.delegate('targets', 'A');
      r.addTarget('f.txt', utf8('f'), 'A');
    };
    {
      const env = await refreshed(build);
      const bytes = env.repo.bytesOf('A');
      env.server.override('/metadata/1.A.json', { body: flipByte(bytes, bytes.length - 5) });
      const u = env.updater();
      await u.refresh();
      await expect(u.getTargetInfo('f.txt')).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    }
    {
      const env = await refreshed(build);
      await env.repo.publish({ snapshotMeta: (m) => void (m.get('A.json')!.version = 2) });
      await env.repo.writeMetadata('2.A.json', env.repo.bytesOf('A', 1));
      const u = env.updater();
      await u.refresh();
      await expect(u.getTargetInfo('f.txt')).rejects.toBeInstanceOf(BadVersionError);
    }
    {
      const env = await refreshed(build);
      env.repo.expire('A');
      await env.repo.publish();
      const u = env.updater();
      await u.refresh();
      await expect(u.getTargetInfo('f.txt')).rejects.toBeInstanceOf(ExpiredMetadataError);
    }
  });
});

function sha256hex(s: string): string {
  return createHash('sha256').update(s).digest('hex');
}
