import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DownloadHTTPError, StaleMetadataError, UnsignedMetadataError, UsageError } from '../../src/index.js';
import { cleanup, errorOf, setup, type Env } from '../helpers/client.js';
import { tamperSigned, utf8 } from '../helpers/repo.js';

// Updater.status() from the cache alone, and config.maxStalenessMs.

afterEach(cleanup);

const HOUR = 3600_000;

/** A repository whose timestamp expires in an hour (before every other role), refreshed once. */
async function refreshed(): Promise<{ env: Env; before: number; after: number; tsExpires: Date }> {
  const tsExpires = new Date(Math.floor((Date.now() + HOUR) / 1000) * 1000);
  const env = await setup({
    build: async (r) => {
      r.addTarget('a.txt', utf8('a'));
      r.timestamp.signed.expires = new Date(tsExpires);
      await r.publish();
      await r.publish();
    },
  });
  const before = Date.now();
  await env.updater().refresh();
  return { env, before, after: Date.now(), tsExpires };
}

/** Records the last successful refresh as `msAgo` ago (what the metadata dir would hold had it refreshed then). */
async function lastRefreshAgo(env: Env, msAgo: number): Promise<void> {
  await writeFile(path.join(env.metadataDir, '.tufkit-time'), `${new Date(Date.now() - msAgo).toISOString()}\n`);
}

describe('status()', () => {
  it('reports the last refresh, the trusted version of each top-level role and the earliest expiry', async () => {
    const { env, before, after, tsExpires } = await refreshed();
    const st = await env.updater().status();
    expect(st.lastRefresh!.getTime()).toBeGreaterThanOrEqual(before - 1000);
    expect(st.lastRefresh!.getTime()).toBeLessThanOrEqual(after);
    const { repo } = env;
    expect(st.roles).toEqual({
      root: { version: 1, expires: repo.root.signed.expires },
      timestamp: { version: repo.timestamp.signed.version, expires: tsExpires },
      snapshot: { version: repo.snapshot.signed.version, expires: repo.snapshot.signed.expires },
      targets: { version: repo.targetsRole('targets').signed.version, expires: repo.targetsRole('targets').signed.expires },
    });
    expect(repo.timestamp.signed.version).toBe(3);
    expect(st.earliestExpiry).toEqual({ role: 'timestamp', expires: tsExpires });
    expect(st).toMatchObject({ expired: false, stale: false });
    expect(env.server.requests.length).toBeGreaterThan(0);
    env.server.resetRequests();
    await env.updater({ referenceTime: new Date(tsExpires.getTime() + 1000) }).status();
    expect(env.server.requests).toEqual([]);
  });

  it('reports expired metadata instead of failing, and a never-refreshed dir', async () => {
    const { env, tsExpires } = await refreshed();
    const st = await env.updater({ referenceTime: new Date(tsExpires.getTime() + 1000) }).status();
    expect(st).toMatchObject({ expired: true, earliestExpiry: { role: 'timestamp' } });
    const fresh = await setup();
    const never = await fresh.updater().status();
    expect(never.lastRefresh).toBeUndefined();
    expect(never.roles).toMatchObject({ root: { version: 1 }, timestamp: undefined, snapshot: undefined, targets: undefined });
    expect(never.earliestExpiry.role).toBe('root');
  });

  it('does not report a cached file that does not verify', async () => {
    const { env } = await refreshed();
    const file = path.join(env.metadataDir, 'timestamp.json');
    await writeFile(file, tamperSigned(await readFile(file), (s) => void (s.version = 99)));
    await expect(env.updater().status()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });
});

describe('maxStalenessMs', () => {
  it('fails an offline refresh once the last successful refresh is too old, though nothing expired', async () => {
    const { env } = await refreshed();
    const offline = { offline: true, maxStalenessMs: HOUR / 2 };
    await env.updater(offline).refresh();
    await lastRefreshAgo(env, HOUR);
    const e = await errorOf(() => env.updater(offline).refresh());
    expect(e).toBeInstanceOf(StaleMetadataError);
    expect((e as StaleMetadataError).message).toContain('maxStalenessMs');
    // The lookup that would refresh implicitly fails too.
    await expect(env.updater(offline).getTargetInfo('a.txt')).rejects.toBeInstanceOf(StaleMetadataError);
    expect(await env.updater({ maxStalenessMs: HOUR / 2 }).status()).toMatchObject({ stale: true, expired: false });
    // Without the option the same cache is used as before.
    expect((await env.updater({ offline: true }).getTargetInfo('a.txt'))?.length).toBe(1);
    // A successful online refresh makes it fresh again.
    await env.updater({ maxStalenessMs: HOUR / 2 }).refresh();
    await env.updater(offline).refresh();
  });

  it('turns a failed online refresh into StaleMetadataError (the failure as cause) only once stale', async () => {
    const { env } = await refreshed();
    env.server.override('/metadata/timestamp.json', { status: 404 });
    await expect(env.updater({ maxStalenessMs: HOUR / 2 }).refresh()).rejects.toBeInstanceOf(DownloadHTTPError);
    await lastRefreshAgo(env, HOUR);
    const e = await errorOf(() => env.updater({ maxStalenessMs: HOUR / 2 }).refresh());
    expect(e).toBeInstanceOf(StaleMetadataError);
    expect((e as Error).cause).toBeInstanceOf(DownloadHTTPError);
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(DownloadHTTPError);
  });

  it('rejects a negative maxStalenessMs', async () => {
    const { env } = await refreshed();
    expect(() => env.updater({ maxStalenessMs: -1 })).toThrow(UsageError);
  });
});
