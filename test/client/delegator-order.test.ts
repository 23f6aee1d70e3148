import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DirLock } from '../../src/client/lock.js';
import { Metadata, UnsignedMetadataError, type Updater } from '../../src/index.js';
import { cleanup, errorOf, setup, type Env } from '../helpers/client.js';
import { utf8, type TestRepo } from '../helpers/repo.js';

// A role delegated by several roles is trusted through each of them only if it meets that
// delegator's keys and threshold (spec 5.6.3), whatever was looked up before: in one Updater and
// across runs sharing a metadata dir. Roles A (for a/*) and B (for b/*) both delegate X; X lists
// a/f and b/evil.

afterEach(() => {
  vi.restoreAllMocks();
  return cleanup();
});

interface Shape {
  /** B's delegation of X: its own key (threshold 1, the default), or X's key and a key of its own with threshold 2. */
  viaB?: 'other-key' | 'threshold-2' | 'same-key';
}

/** targets -> A (a/*), B (b/*); A -> X (a/*, X's key); B -> X (b/*, see Shape); X is signed by X's key only. */
async function twoDelegators({ viaB = 'other-key' }: Shape = {}): Promise<Env> {
  return setup({
    build: async (r: TestRepo) => {
      await r.delegate('targets', 'A', { paths: ['a/*'] });
      await r.delegate('targets', 'B', { paths: ['b/*'] });
      await r.delegate('A', 'X', { paths: ['a/*'] });
      const [xKey] = r.signersOf('X');
      const signers = viaB === 'same-key' ? [xKey!] : viaB === 'threshold-2' ? [xKey!, ...(await r.newSigners(1))] : await r.newSigners(1);
      await r.delegate('B', 'X', { paths: ['b/*'], signers, threshold: viaB === 'threshold-2' ? 2 : 1 });
      r.addTarget('a/f', utf8('from A'), 'X');
      r.addTarget('b/evil', utf8('not signed by B'), 'X');
      await r.publish();
    },
  });
}

/** Asserts that looking up b/evil fails: X through B is not signed by B's keys. */
async function expectRefusedThroughB(u: Updater): Promise<void> {
  const e = await errorOf(() => u.getTargetInfo('b/evil'));
  expect(e).toBeInstanceOf(UnsignedMetadataError);
  const message = (e as Error).message;
  expect(message).toContain('role "X"');
  expect(message).toMatch(/X\.json/);
  expect(message).toContain('delegated by "B"');
}

describe('a role reached through another delegator than the one it was verified against', () => {
  it('is verified against that delegator: b/evil is refused after a/f loaded X through A (one Updater)', async () => {
    const env = await twoDelegators();
    const u = env.updater();
    expect((await u.getTargetInfo('a/f'))?.length).toBe(6);
    env.server.resetRequests();
    await expectRefusedThroughB(u);
    // X is not fetched again: the bytes verified through A are checked against B's keys.
    expect(env.server.metadataRequests).toEqual([env.repo.metadataFile('B')]);
    await expectRefusedThroughB(u);
    // What A's path trusts is undisturbed.
    expect((await u.getTargetInfo('a/f'))?.length).toBe(6);
  });

  it('is refused the same way in the other order, and a failure through B does not spoil A (one Updater)', async () => {
    const env = await twoDelegators();
    const u = env.updater();
    await expectRefusedThroughB(u);
    expect((await u.getTargetInfo('a/f'))?.length).toBe(6);
    await expectRefusedThroughB(u);
  });

  it("must meet that delegator's threshold, even when one of its keys signed it", async () => {
    const env = await twoDelegators({ viaB: 'threshold-2' });
    const u = env.updater();
    expect(await u.getTargetInfo('a/f')).toBeDefined();
    await expectRefusedThroughB(u);
  });

  it('is refused across runs: a new Updater whose cache holds X.json verified through A', async () => {
    const env = await twoDelegators();
    expect(await env.updater().getTargetInfo('a/f')).toBeDefined();
    expect(existsSync(path.join(env.metadataDir, '%58.json'))).toBe(true); // role X's cached file (upper-case letters are escaped: safe-names.ts)
    await expectRefusedThroughB(env.updater());
    const second = env.updater();
    expect(await second.getTargetInfo('a/f')).toBeDefined();
    await expectRefusedThroughB(second);
    // The refusal removed nothing that A's path trusts: offline, X.json still verifies through A.
    expect(await env.updater({ offline: true }).getTargetInfo('a/f')).toBeDefined();
  });

  it('is refused across runs in the other order: first process through B, second through A then B', async () => {
    const env = await twoDelegators();
    await expectRefusedThroughB(env.updater());
    const second = env.updater();
    expect(await second.getTargetInfo('a/f')).toBeDefined();
    await expectRefusedThroughB(second);
  });

  it('is trusted through B when B authorises its key, without fetching it again', async () => {
    const env = await twoDelegators({ viaB: 'same-key' });
    const u = env.updater();
    expect(await u.getTargetInfo('a/f')).toBeDefined();
    env.server.resetRequests();
    expect((await u.getTargetInfo('b/evil'))?.length).toBe(15);
    expect(env.server.metadataRequests).toEqual([env.repo.metadataFile('B')]);
  });

  it('paths come from the delegator that reached it: X lists c/h, which neither A nor B trusts it for', async () => {
    const env = await twoDelegators({ viaB: 'same-key' });
    env.repo.addTarget('c/h', utf8('outside both delegations'), 'X');
    await env.repo.delegate('targets', 'C', { paths: ['c/*'] });
    await env.repo.publish();
    const u = env.updater();
    expect(await u.getTargetInfo('a/f')).toBeDefined();
    expect(await u.getTargetInfo('b/evil')).toBeDefined();
    expect(await u.getTargetInfo('c/h')).toBeUndefined();
  });
});

describe('the fast path for roles reached through the delegator they were verified against', () => {
  it('answers with no request, no lock and no signature check, through A and (once verified) through B', async () => {
    const env = await twoDelegators({ viaB: 'same-key' });
    const u = env.updater({ lockTimeoutMs: 200 });
    expect(await u.getTargetInfo('a/f')).toBeDefined();
    expect(await u.getTargetInfo('b/evil')).toBeDefined();
    env.server.resetRequests();
    const verify = vi.spyOn(Metadata.prototype, 'verifyDelegate');
    // Another holder of the lock would make any locked call fail after lockTimeoutMs.
    const lock = await DirLock.acquire(env.metadataDir, 1000);
    try {
      for (let i = 0; i < 2; i++) {
        expect(await u.getTargetInfo('a/f')).toBeDefined();
        expect(await u.getTargetInfo('b/evil')).toBeDefined();
        expect(await u.getTargetInfo('b/missing')).toBeUndefined();
      }
    } finally {
      await lock.release();
    }
    expect(env.server.paths).toEqual([]);
    expect(verify).not.toHaveBeenCalled();
  });

  it('does not answer through B from X verified through A only: that lookup checks X against B once', async () => {
    const env = await twoDelegators({ viaB: 'same-key' });
    const u = env.updater();
    expect(await u.getTargetInfo('a/f')).toBeDefined();
    const verify = vi.spyOn(Metadata.prototype, 'verifyDelegate');
    expect(await u.getTargetInfo('b/evil')).toBeDefined();
    // B is loaded (verified by targets' keys), then X is checked against B's keys.
    expect(verify.mock.calls.map((c) => c[0])).toEqual(['B', 'X']);
    expect(await u.getTargetInfo('b/evil')).toBeDefined();
    expect(verify).toHaveBeenCalledTimes(2);
  });
});
