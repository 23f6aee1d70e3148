import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadVersionError,
  EqualVersionError,
  ExpiredMetadataError,
  LengthOrHashMismatchError,
  UnsignedMetadataError,
} from '../../src/index.js';
import { cleanup, errorOf, readJSONVersion, setup, type Env } from '../helpers/client.js';
import { flipByte } from '../helpers/repo.js';

// Spec 5.4 (timestamp) and 5.5 (snapshot).

afterEach(cleanup);

/** A client that trusts the repository's current release (timestamp v2, snapshot v2). */
async function refreshed(opts: Parameters<typeof setup>[0] = {}): Promise<Env> {
  const env = await setup(opts);
  await env.repo.publish();
  await env.updater().refresh();
  env.server.resetRequests();
  return env;
}

const cached = (env: Env, role: string): Promise<Buffer> => readFile(path.join(env.metadataDir, `${role}.json`));

describe('timestamp (spec 5.4)', () => {
  it('rejects a timestamp signed below its threshold (5.4.2)', async () => {
    const env = await refreshed({ onlineKeys: 2, onlineThreshold: 2 });
    const before = await cached(env, 'timestamp');
    await env.repo.publish({ signWith: { timestamp: env.repo.signersOf('timestamp').slice(0, 1) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
    expect(await cached(env, 'timestamp')).toEqual(before);
  });

  it('rejects a timestamp signed by a key root does not give the timestamp role (5.4.2)', async () => {
    const env = await refreshed();
    await env.repo.publish({ signWith: { timestamp: await env.repo.newSigners(1) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('rejects a timestamp older than the trusted one with BadVersionError (5.4.3.1)', async () => {
    const env = await refreshed();
    // Timestamp v3 names the same snapshot (v2) as v2 did: only the timestamp version tells v2 is old.
    env.repo.timestamp.signed.version++;
    await env.repo.publish({ bump: false });
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(3);
    await env.repo.writeMetadata('timestamp.json', env.repo.bytesOf('timestamp', 2));
    const err = await errorOf(() => env.updater().refresh());
    expect(err).toBeInstanceOf(BadVersionError);
    expect(err).not.toBeInstanceOf(EqualVersionError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(3);
  });

  it('keeps the trusted timestamp, without error, when the new one has the same version (5.4.3.1)', async () => {
    const env = await refreshed();
    const before = await cached(env, 'timestamp');
    // Same version 2, different content (a later expiry), correctly signed.
    env.repo.timestamp.signed.expires = new Date(env.repo.timestamp.signed.expires.getTime() + 86400_000);
    await env.repo.publish({ bump: false });
    await env.updater().refresh();
    expect(await cached(env, 'timestamp')).toEqual(before);
  });

  it('rejects a timestamp naming an older snapshot version than the trusted timestamp did (5.4.3.2)', async () => {
    const env = await refreshed();
    await env.repo.publish({ timestampMeta: (m) => void (m.version = 1) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(2);
  });

  it('rejects an expired timestamp and does not persist it (5.4.4)', async () => {
    const env = await refreshed();
    env.repo.expire('timestamp');
    await env.repo.publish();
    const err = await errorOf(() => env.updater().refresh());
    expect(err).toBeInstanceOf(ExpiredMetadataError);
    expect((err as Error).message).toMatch(/timestamp/); // names the role
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(2);
    expect(env.server.metadataRequests.some((f) => f.includes('snapshot'))).toBe(false);
  });

  it('uses one reference time, taken at the start, for the whole refresh (5.1)', async () => {
    const env = await refreshed();
    // A timestamp that expires while the refresh is still fetching snapshot: still valid for this refresh.
    const expires = new Date(Math.ceil((Date.now() + 1500) / 1000) * 1000);
    env.repo.timestamp.signed.expires = expires;
    await env.repo.publish();
    env.server.override(`/metadata/${env.repo.metadataFile('snapshot')}`, { delayMs: expires.getTime() - Date.now() + 300 });
    const u = env.updater();
    await u.refresh();
    expect(Date.now()).toBeGreaterThan(expires.getTime());
    expect(await readJSONVersion(path.join(env.metadataDir, 'snapshot.json'))).toBe(3);
  });

  it('persists the new timestamp (5.4.5)', async () => {
    const env = await refreshed();
    await env.repo.publish();
    await env.updater().refresh();
    expect(await cached(env, 'timestamp')).toEqual(Buffer.from(env.repo.bytesOf('timestamp', 3)));
  });
});

describe('snapshot (spec 5.5)', () => {
  it('rejects snapshot bytes whose hash differs from the one in timestamp (5.5.2)', async () => {
    const env = await refreshed();
    await env.repo.publish();
    const bytes = env.repo.bytesOf('snapshot');
    env.server.override(`/metadata/${env.repo.metadataFile('snapshot')}`, { body: flipByte(bytes, bytes.length - 5) });
    const err = await errorOf(() => env.updater().refresh());
    expect(err).toBeInstanceOf(LengthOrHashMismatchError);
    expect((err as Error).message).toMatch(/snapshot/);
    expect(await readJSONVersion(path.join(env.metadataDir, 'snapshot.json'))).toBe(2);
  });

  it('rejects a snapshot whose length differs from the one in timestamp, even with the right hash (5.5.2)', async () => {
    const env = await refreshed();
    await env.repo.publish({ timestampMeta: (m) => void (m.length = m.length! + 1) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(LengthOrHashMismatchError);
  });

  it('rejects a snapshot whose sha256 differs from a wrong hash listed in timestamp (5.5.2)', async () => {
    const env = await refreshed();
    await env.repo.publish({ timestampMeta: (m) => void (m.hashes = { sha256: 'ab'.repeat(32) }) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(LengthOrHashMismatchError);
  });

  it('rejects a snapshot not signed by the snapshot keys (5.5.3)', async () => {
    const env = await refreshed();
    await env.repo.publish({ signWith: { snapshot: await env.repo.newSigners(1) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('rejects a snapshot signed below its threshold (5.5.3)', async () => {
    const env = await refreshed({ onlineKeys: 2, onlineThreshold: 2 });
    await env.repo.publish({ signWith: { snapshot: env.repo.signersOf('snapshot').slice(1) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('rejects a snapshot whose version is not the one timestamp names (5.5.4)', async () => {
    const env = await refreshed();
    // Timestamp v3 names snapshot v4 and lists the hash of the served file, which is snapshot v3.
    await env.repo.publish({ timestampMeta: (m) => void (m.version = 4) });
    await env.repo.writeMetadata('4.snapshot.json', env.repo.bytesOf('snapshot', 3));
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
  });

  it('rejects a snapshot that drops a role the trusted snapshot listed (5.5.5)', async () => {
    const env = await refreshed({ build: async (r) => void (await r.delegate('targets', 'role1')) });
    await env.repo.publish({ snapshotMeta: (m) => void m.delete('role1.json') });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'snapshot.json'))).toBe(2);
  });

  it('rejects a snapshot listing an older version of a targets role than the trusted snapshot (5.5.5)', async () => {
    const env = await refreshed({ build: async (r) => void (await r.delegate('targets', 'role1')) });
    env.repo.touch('role1');
    await env.repo.publish();
    await env.updater().refresh();
    expect(env.repo.snapshot.signed.meta.get('role1.json')!.version).toBe(2);
    await env.repo.publish({ snapshotMeta: (m) => void (m.get('role1.json')!.version = 1) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
  });

  it('rejects an expired snapshot and does not persist it (5.5.6)', async () => {
    const env = await refreshed();
    env.repo.expire('snapshot');
    await env.repo.publish();
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'snapshot.json'))).toBe(2);
  });

  it('persists the new snapshot (5.5.7)', async () => {
    const env = await refreshed();
    await env.repo.publish();
    await env.updater().refresh();
    expect(await cached(env, 'snapshot')).toEqual(Buffer.from(env.repo.bytesOf('snapshot', 3)));
  });
});
