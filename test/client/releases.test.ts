import { afterEach, describe, expect, it } from 'vitest';
import { AmbiguousReleaseError, UsageError } from '../../src/index.js';
import { cleanup, errorOf, setup, type Env } from '../helpers/client.js';
import { utf8, type TestRepo } from '../helpers/repo.js';

// Updater.findNewestRelease: semver ordering, ranges and prereleases over the trusted targets.

afterEach(cleanup);

async function served(build: (r: TestRepo) => Promise<void>): Promise<Env> {
  const env = await setup({ build });
  await env.repo.publish();
  return env;
}

function release(r: TestRepo, path: string, custom?: Record<string, unknown>, role = 'targets'): void {
  const tf = r.addTarget(path, utf8(path), role);
  if (custom) tf.unrecognized.custom = custom;
}

async function apps(r: TestRepo): Promise<void> {
  release(r, 'app/a', { version: '1.0.0', platform: 'linux' });
  release(r, 'app/b', { version: '1.4.0', platform: 'linux' });
  release(r, 'app/c', { version: '1.10.0-rc.1', platform: 'linux' });
  release(r, 'app/d', { version: 'v2.0.0', platform: 'linux' });
  release(r, 'app/e', { version: '2.1.0-beta.1', platform: 'linux' });
  release(r, 'app/f', { version: '1.9.0', platform: 'darwin' });
  release(r, 'app/notes.txt');
  release(r, 'app/g', { version: '1.2', platform: 'linux' });
  // A role trusted only for other/ lists a higher release under app/: no lookup finds it there.
  await r.delegate('targets', 'other', { paths: ['other/*'] });
  release(r, 'app/z', { version: '9.9.9', platform: 'linux' }, 'other');
  await r.delegate('targets', 'more', { paths: ['app/*'] });
  release(r, 'app/h', { version: '1.5.0', platform: 'linux' }, 'more');
}

describe('findNewestRelease', () => {
  it('picks the highest version in a range, prereleases only when asked, custom fields matched', async () => {
    const env = await served(apps);
    const u = env.updater();
    const linux = { prefix: 'app/', custom: { platform: 'linux' } };
    const v1 = await u.findNewestRelease({ ...linux, range: '^1.0.0' });
    expect(v1.newest?.version).toBe('1.5.0');
    expect(v1.newest?.target).toMatchObject({ path: 'app/h', role: 'more' });
    expect((await u.findNewestRelease({ ...linux, range: '^1.0.0', includePrerelease: true })).newest?.version).toBe('1.10.0-rc.1');
    const any = await u.findNewestRelease(linux);
    expect(any.newest).toMatchObject({ version: '2.0.0', target: { path: 'app/d' } });
    expect((await u.findNewestRelease({ ...linux, includePrerelease: true })).newest?.target.path).toBe('app/e');
    expect((await u.findNewestRelease({ prefix: 'app/', custom: { platform: 'darwin' } })).newest?.target.path).toBe('app/f');
    expect((await u.findNewestRelease({ ...linux, range: '>=3' })).newest).toBeUndefined();
  });

  it('reports targets whose version is missing or not semver instead of guessing', async () => {
    const env = await served(apps);
    const choice = await env.updater().findNewestRelease({ prefix: 'app/' });
    expect(choice.unparsable.map((u) => [u.target.path, u.reason])).toEqual([
      ['app/g', '"1.2" is not a semver version'],
      ['app/notes.txt', 'no custom.version'],
    ]);
    expect(choice.versions).toBe(7);
  });

  it('reads the version from the path with a pattern, ordered by semver, not as text', async () => {
    const env = await served(async (r) => {
      for (const v of ['1.2.3', '1.10.0', '1.9.9']) release(r, `dl/tool-${v}.tgz`);
      release(r, 'dl/tool-latest.tgz');
    });
    const choice = await env.updater().findNewestRelease({ prefix: 'dl/', versionPattern: /^dl\/tool-(?<version>.+)\.tgz$/ });
    expect(choice.newest?.target.path).toBe('dl/tool-1.10.0.tgz');
    expect(choice.unparsable.map((u) => u.target.path)).toEqual(['dl/tool-latest.tgz']);
  });

  it('refuses to choose between targets carrying the same newest version', async () => {
    const env = await served(async (r) => {
      release(r, 'dl/tool-1.0.0.tgz');
      release(r, 'dl/tool-2.0.0+linux.tgz');
      release(r, 'dl/tool-v2.0.0.tgz');
    });
    const e = await errorOf(() => env.updater().findNewestRelease({ versionPattern: /tool-(.+)\.tgz$/ }));
    expect(e).toBeInstanceOf(AmbiguousReleaseError);
    expect((e as AmbiguousReleaseError).paths).toEqual(['dl/tool-2.0.0+linux.tgz', 'dl/tool-v2.0.0.tgz']);
    // Below the tie, there is nothing to decide.
    expect((await env.updater().findNewestRelease({ versionPattern: /tool-(.+)\.tgz$/, range: '<2' })).newest?.version).toBe('1.0.0');
  });

  it('rejects a range that is not semver', async () => {
    const env = await served(apps);
    await expect(env.updater().findNewestRelease({ range: 'newest please' })).rejects.toBeInstanceOf(UsageError);
  });
});
