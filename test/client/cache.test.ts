import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { BadVersionError, ClockRollbackError, ExpiredMetadataError, LengthOrHashMismatchError } from '../../src/index.js';
import {
  cleanup,
  ensureBuilt,
  jsonFiles,
  readJSONVersion,
  refreshArgs,
  runCli,
  setup,
  verifyMetadataDir,
  type Env,
} from '../helpers/client.js';
import { utf8, type TestRepo } from '../helpers/repo.js';

// Offline verification from the cache, the clock-rollback guard, and several processes sharing
// one metadata dir.

afterEach(async () => {
  vi.useRealTimers();
  await cleanup();
});

const DAY = 86400_000;

async function withDelegatedTarget(): Promise<Env> {
  return setup({
    build: async (r: TestRepo) => {
      await r.delegate('targets', 'role1', { paths: ['r/*'] });
      r.addTarget('r/x.txt', utf8('delegated target'), 'role1');
      await r.publish();
    },
  });
}

function publishedRoots(repo: TestRepo): Uint8Array[] {
  return Array.from({ length: repo.latestRootVersion }, (_, i) => repo.rootBytes(i + 1));
}

describe('a snapshot larger than snapshotMaxLength', () => {
  it('is capped by the length timestamp gives, so its cached copy is used online and offline instead of fetched again', async () => {
    const env = await withDelegatedTarget();
    const small = { snapshotMaxLength: 64 };
    await env.updater(small).refresh();
    env.server.resetRequests();
    await env.updater(small).refresh();
    expect(env.server.paths.filter((p) => p.includes('snapshot'))).toEqual([]);
    await env.updater({ ...small, offline: true }).refresh();
    expect(env.server.paths.filter((p) => p.includes('snapshot'))).toEqual([]);
  });

  it('keeps its rollback checks when a new, smaller snapshot drops a role it listed (5.5.5)', async () => {
    const env = await withDelegatedTarget();
    const small = { snapshotMaxLength: 64 };
    await env.updater(small).refresh();
    await env.repo.publish({ snapshotMeta: (m) => void m.delete('role1.json') });
    await expect(env.updater(small).refresh()).rejects.toBeInstanceOf(BadVersionError);
  });
});

describe('offline verification', () => {
  it('verifies and looks targets up from the cache alone at a reference time, with no request', async () => {
    const env = await withDelegatedTarget();
    const online = env.updater();
    await online.refresh();
    const info = (await online.getTargetInfo('r/x.txt'))!;
    const file = await online.downloadTarget(info);
    env.server.resetRequests();

    const offline = env.updater({ offline: true, referenceTime: new Date(Date.now() + DAY) });
    await offline.refresh();
    const again = await offline.getTargetInfo('r/x.txt');
    expect(again?.hashes).toEqual(info.hashes);
    expect(await offline.findCachedTarget(again!)).toBe(file);
    expect(env.server.requests).toEqual([]);
  });

  it('still checks expiry against the reference time', async () => {
    const env = await withDelegatedTarget();
    await env.updater().refresh();
    env.server.resetRequests();
    const late = new Date(env.repo.expires.getTime() + DAY);
    await expect(env.updater({ offline: true, referenceTime: late }).refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
    expect(env.server.requests).toEqual([]);
  });

  it('still verifies the cached files: a changed cached targets.json is an error, not a silent pass', async () => {
    const env = await withDelegatedTarget();
    await env.updater().refresh();
    const file = path.join(env.metadataDir, 'targets.json');
    const bytes = await readFile(file);
    bytes[bytes.length - 3] ^= 0x01; // same length, other bytes
    await writeFile(file, bytes);
    env.server.resetRequests();
    await expect(env.updater({ offline: true, referenceTime: new Date() }).refresh()).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(env.server.requests).toEqual([]);
  });
});

describe('clock rollback', () => {
  it('refuses to run with a clock set back before a time metadata was trusted', async () => {
    const env = await setup();
    await env.updater().refresh();
    const files = [...(await jsonFiles(env.metadataDir)).keys()];
    expect(files).toEqual(['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']); // the time record is no *.json
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date(Date.now() - 2 * DAY));
    env.server.resetRequests();
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(ClockRollbackError);
    expect(env.server.requests).toEqual([]);
    vi.useRealTimers();
    await env.updater().refresh();
  });
});

describe('several processes sharing one metadata dir', () => {
  beforeAll(ensureBuilt, 120_000);

  it('four concurrent CLI refreshes all succeed and leave valid trusted metadata', async () => {
    const env = await withDelegatedTarget();
    const { repo } = env;
    await env.updater().refresh();
    // A new release with root rotations, so every process has plenty to write.
    await repo.rotateRoot(() => repo.replaceKeys('root'));
    await repo.rotateRoot();
    repo.addTarget('new.txt', utf8('new'));
    await repo.publish();
    env.server.delayAllMs = 20;
    const results = await Promise.all(Array.from({ length: 4 }, () => runCli(refreshArgs(env))));
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    expect(await verifyMetadataDir(env.metadataDir, publishedRoots(repo))).toEqual(['root', 'snapshot', 'targets', 'timestamp']);
    expect(await readJSONVersion(path.join(env.metadataDir, 'root.json'))).toBe(3);
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(repo.timestamp.signed.version);
  });

  it('a refresh holds the metadata dir lock: a second one, in-process or in another process, waits for it', async () => {
    const env = await setup();
    env.server.delayAllMs = 20;
    await Promise.all([env.updater().refresh(), env.updater().refresh()]);
    const inProcess = env.server.metadataRequests;
    // The second refresh starts (2.root.json) only after the first fetched targets.
    expect(inProcess.lastIndexOf('2.root.json'), inProcess.join(' ')).toBeGreaterThan(inProcess.indexOf('1.targets.json'));

    const env2 = await setup();
    env2.server.delayAllMs = 40;
    const results = await Promise.all([runCli(refreshArgs(env2)), runCli(refreshArgs(env2))]);
    for (const r of results) expect(r.code, r.stderr).toBe(0);
    const crossProcess = env2.server.metadataRequests;
    expect(crossProcess.lastIndexOf('2.root.json'), crossProcess.join(' ')).toBeGreaterThan(crossProcess.indexOf('1.targets.json'));
  });

  it('two in-process updaters refreshing at once both succeed', async () => {
    const env = await withDelegatedTarget();
    env.server.delayAllMs = 10;
    await Promise.all([env.updater().refresh(), env.updater().refresh()]);
    await verifyMetadataDir(env.metadataDir, publishedRoots(env.repo));
  });
});
