import { afterEach, describe, expect, it } from 'vitest';
import { DirLock } from '../../src/client/lock.js';
import { cleanup, setup } from '../helpers/client.js';
import { sha256, utf8 } from '../helpers/repo.js';

// getTargetInfo answers from roles this refresh already verified without I/O, lock or a second
// verification, and still loads (and verifies) the roles it has not reached yet.

afterEach(cleanup);

describe('lookups in already verified roles', () => {
  it('are answered without a request, and without waiting for the metadata dir lock', async () => {
    const env = await setup({
      build: async (r) => {
        r.addTarget('a.txt', utf8('a'));
        await r.publish();
      },
    });
    const u = env.updater({ lockTimeoutMs: 200 });
    expect(await u.getTargetInfo('a.txt')).toMatchObject({ path: 'a.txt', length: 1, hashes: { sha256: sha256(utf8('a')) } });
    env.server.resetRequests();
    // Another holder of the lock would make any locked call fail after lockTimeoutMs.
    const lock = await DirLock.acquire(env.metadataDir, 1000);
    try {
      for (let i = 0; i < 3; i++) expect((await u.getTargetInfo('a.txt'))?.length).toBe(1);
      expect(await u.getTargetInfo('missing.txt')).toBeUndefined();
    } finally {
      await lock.release();
    }
    expect(env.server.paths).toEqual([]);
  });

  it('load a delegated role the search reaches for the first time, then answer from it', async () => {
    const env = await setup({
      build: async (r) => {
        await r.delegate('targets', 'role1', { paths: ['r/*'] });
        r.addTarget('r/x.txt', utf8('x'), 'role1');
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    env.server.resetRequests();
    expect(await u.getTargetInfo('r/x.txt')).toMatchObject({ path: 'r/x.txt', length: 1, hashes: { sha256: sha256(utf8('x')) } });
    expect(env.server.metadataRequests).toEqual([env.repo.metadataFile('role1')]);
    env.server.resetRequests();
    expect(await u.getTargetInfo('r/x.txt')).toMatchObject({ path: 'r/x.txt', length: 1, hashes: { sha256: sha256(utf8('x')) } });
    expect(env.server.paths).toEqual([]);
  });

  it('wait for an earlier call still queued, so a lookup after refresh() sees the new release', async () => {
    const env = await setup({
      build: async (r) => {
        r.addTarget('a.txt', utf8('a'));
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    env.repo.addTarget('b.txt', utf8('b'));
    await env.repo.publish();
    const refreshing = u.refresh();
    expect(await u.getTargetInfo('b.txt')).toMatchObject({ path: 'b.txt', length: 1, hashes: { sha256: sha256(utf8('b')) } });
    await refreshing;
  });
});
