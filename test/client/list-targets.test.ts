import { afterEach, describe, expect, it } from 'vitest';
import { LengthOrHashMismatchError, UnsignedMetadataError, type ListedTarget, type TargetQuery, type Updater } from '../../src/index.js';
import { cleanup, setup, type Env } from '../helpers/client.js';
import { flipByte, sha256, utf8, type TestRepo } from '../helpers/repo.js';

// Updater.listTargets: the trusted targets, found through delegations exactly as lookups find them.

afterEach(cleanup);

async function served(build: (r: TestRepo) => Promise<void>): Promise<Env> {
  const env = await setup({ build });
  await env.repo.publish();
  env.server.resetRequests();
  return env;
}

async function list(u: Updater, query?: TargetQuery): Promise<ListedTarget[]> {
  const out: ListedTarget[] = [];
  for await (const t of u.listTargets(query)) out.push(t);
  return out;
}

/** path -> role of a listing. */
function roles(listed: ListedTarget[]): Record<string, string> {
  return Object.fromEntries(listed.map((t) => [t.path, t.role]));
}

describe('listTargets', () => {
  /**
   * targets lists top.txt and app/top.txt; A is trusted for app/*, and lists a path outside it;
   * A delegates A1 for every path, but A1 is only reached for app/* (A's paths); B comes after A for
   * every path; T is terminating for t/*, so nothing after it is searched for t/ paths.
   */
  async function tree(r: TestRepo): Promise<void> {
    r.addTarget('top.txt', utf8('top'));
    const custom = r.addTarget('app/top.txt', utf8('app top'));
    custom.unrecognized.custom = { version: '1.2.3', platform: 'linux' };
    await r.delegate('targets', 'A', { paths: ['app/*'] });
    await r.delegate('A', 'A1', { paths: ['*', 'app/*'] });
    await r.delegate('targets', 'T', { paths: ['t/*'], terminating: true });
    await r.delegate('targets', 'B');
    await r.delegate('targets', 'D', { paths: ['docs/*'] });
    r.addTarget('app/a.txt', utf8('in A'), 'A');
    r.addTarget('app/top.txt', utf8('shadowed by targets'), 'A');
    r.addTarget('outside.txt', utf8('A is not trusted for it'), 'A');
    r.addTarget('app/a1.txt', utf8('in A1'), 'A1');
    r.addTarget('app/a.txt', utf8('shadowed by A'), 'A1');
    r.addTarget('docs/a1.txt', utf8('A1 is reached only for app/*'), 'A1');
    r.addTarget('t/x.txt', utf8('in T'), 'T');
    r.addTarget('t/y.txt', utf8('after a terminating delegation'), 'B');
    r.addTarget('app/a1.txt', utf8('shadowed by A1'), 'B');
    r.addTarget('b.txt', utf8('in B'), 'B');
    r.addTarget('docs/d.txt', utf8('in D'), 'D');
  }

  const expected = {
    'top.txt': 'targets',
    'app/top.txt': 'targets',
    'app/a.txt': 'A',
    'app/a1.txt': 'A1',
    't/x.txt': 'T',
    'b.txt': 'B',
    'docs/d.txt': 'D',
  };

  it('lists each path once, from the role its lookup finds it in, with exactly what getTargetInfo returns', async () => {
    const env = await served(tree);
    const u = env.updater();
    const listed = await list(u);
    expect(roles(listed)).toEqual(expected);
    // Role by role in the search order, each role's paths in the order of its file (canonical JSON sorts them).
    expect(listed.map((t) => t.path)).toEqual(['app/top.txt', 'top.txt', 'app/a.txt', 'app/a1.txt', 't/x.txt', 'b.txt', 'docs/d.txt']);
    for (const t of listed) {
      expect(t.info.path).toBe(t.path);
      expect(t.info.toJSON()).toEqual((await env.updater().getTargetInfo(t.path))!.toJSON());
    }
    const appTop = listed.find((t) => t.path === 'app/top.txt')!;
    expect(appTop.info.custom).toEqual({ version: '1.2.3', platform: 'linux' });
    expect(appTop.info.hashes.sha256).toBe(sha256(utf8('app top')));
  });

  it('filters by prefix and by pattern, and follows no delegation that cannot match', async () => {
    const env = await served(tree);
    expect(roles(await list(env.updater(), { prefix: 'app/' }))).toEqual({ 'app/top.txt': 'targets', 'app/a.txt': 'A', 'app/a1.txt': 'A1' });
    expect(env.server.metadataRequests).not.toContain('1.D.json');
    expect(env.server.metadataRequests).not.toContain('1.T.json');
    // B is delegated "*", which never crosses "/".
    expect(env.server.metadataRequests).not.toContain('1.B.json');
    expect(env.server.metadataRequests).toContain('1.A1.json');
    env.server.resetRequests();
    expect(roles(await list(env.updater(), { pattern: 'docs/*.txt' }))).toEqual({ 'docs/d.txt': 'D' });
    expect(env.server.metadataRequests).not.toContain('1.A.json');
    expect(roles(await list(env.updater(), { prefix: 'app/a', pattern: '*/*1.txt' }))).toEqual({ 'app/a1.txt': 'A1' });
  });

  it('applies the visit limit per path, as lookups do', async () => {
    const env = await served(async (r) => {
      await r.delegate('targets', 'd1');
      for (let i = 2; i <= 5; i++) await r.delegate(`d${i - 1}`, `d${i}`);
      r.addTarget('d3.txt', utf8('d3'), 'd3');
      r.addTarget('deep.txt', utf8('deep'), 'd5');
    });
    expect(roles(await list(env.updater({ maxDelegations: 4 })))).toEqual({ 'd3.txt': 'd3' });
    expect(roles(await list(env.updater({ maxDelegations: 6 })))).toEqual({ 'd3.txt': 'd3', 'deep.txt': 'd5' });
  });

  it('streams succinct hash bins one role at a time', async () => {
    const paths = Array.from({ length: 40 }, (_, i) => `rel/app-${i}.tgz`);
    const env = await served(async (r) => {
      const bins = await r.delegateSuccinct('targets', 4, 'bin');
      for (const p of paths) r.addTarget(p, utf8(p), bins.getRoleForTarget(p));
      // Listed in a bin that is not responsible for it: a lookup never finds it there.
      const wrong = bins.getRoleForTarget('rel/misplaced') === 'bin-0' ? 'bin-1' : 'bin-0';
      r.addTarget('rel/misplaced', utf8('x'), wrong);
    });
    const listed = await list(env.updater(), { prefix: 'rel/' });
    expect(listed.map((t) => t.path).sort()).toEqual([...paths].sort());
    expect(env.server.metadataRequests.filter((f) => /\.bin-/.test(f))).toHaveLength(16);
    env.server.resetRequests();
    const u = env.updater();
    for await (const t of u.listTargets({ prefix: 'rel/' })) {
      expect(paths).toContain(t.path);
      break;
    }
    expect(env.server.metadataRequests.filter((f) => /\.bin-/.test(f)).length).toBeLessThan(16);
  });

  it('fails when a role it walks has been tampered with, rather than listing less', async () => {
    const env = await served(tree);
    const bytes = env.repo.bytesOf('B');
    env.server.override(`/metadata/${env.repo.metadataFile('B')}`, { body: flipByte(bytes, bytes.length - 5) });
    const u = env.updater();
    await expect(list(u)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    // A listing that never reaches B is unaffected.
    expect(roles(await list(env.updater(), { prefix: 'docs/' }))).toEqual({ 'docs/d.txt': 'D' });
  });

  it('fails when a role it walks is not signed by its delegator', async () => {
    const env = await served(tree);
    env.repo.touch('D');
    await env.repo.publish({ signWith: { D: await env.repo.newSigners(1) } });
    await expect(list(env.updater(), { prefix: 'docs/' })).rejects.toBeInstanceOf(UnsignedMetadataError);
  });
});
