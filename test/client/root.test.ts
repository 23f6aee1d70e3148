import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BadVersionError, ExpiredMetadataError, UnsignedMetadataError } from '../../src/index.js';
import { cleanup, errorOf, readJSONVersion, setup } from '../helpers/client.js';
import { PAST } from '../helpers/repo.js';
import { Metadata } from '../../src/models/index.js';

// Spec 5.3: the root rotation chain, and 5.3.11: fast-forward attack recovery.

afterEach(cleanup);

async function trustedRootBytes(metadataDir: string): Promise<Buffer> {
  return readFile(path.join(metadataDir, 'root.json'));
}

describe('root update (spec 5.3)', () => {
  it('walks N+1.root.json until one is missing, each signed by the old and the new keys, and persists the last', async () => {
    const env = await setup();
    const { repo } = env;
    await repo.rotateRoot(() => repo.replaceKeys('root'));
    await repo.rotateRoot(() => repo.replaceKeys('root', 2, 2));
    await repo.rotateRoot();
    await env.updater().refresh();
    expect(await trustedRootBytes(env.metadataDir)).toEqual(Buffer.from(repo.rootBytes(4)));
    expect(env.server.metadataRequests.slice(0, 4)).toEqual(['2.root.json', '3.root.json', '4.root.json', '5.root.json']);
  });

  it('rejects root N+1 without a threshold of the trusted (old) root keys (5.3.4)', async () => {
    const env = await setup({ rootKeys: 3, rootThreshold: 2 });
    const { repo } = env;
    const [a] = repo.signersOf('root');
    // New root: keys {a, n}, threshold 1, signed by a and n: its own threshold is met, the old one (2) is not.
    await repo.rotateRoot(async () => {
      const [n] = await repo.newSigners(1);
      repo.setKeys('root', [a!, n!], 1);
    }, { signWith: (_old, next) => next });
    const err = await errorOf(() => env.updater().refresh());
    expect(err).toBeInstanceOf(UnsignedMetadataError);
    expect(await trustedRootBytes(env.metadataDir)).toEqual(Buffer.from(repo.rootBytes(1)));
  });

  it('rejects root N+1 without a threshold of its own (new) keys (5.3.4)', async () => {
    const env = await setup();
    const { repo } = env;
    const [a] = repo.signersOf('root');
    await repo.rotateRoot(async () => {
      await repo.replaceKeys('root', 2, 2);
    }, { signWith: (_old, next) => [a!, next[0]!] });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
    expect(await trustedRootBytes(env.metadataDir)).toEqual(Buffer.from(repo.rootBytes(1)));
  });

  it('rejects N+1.root.json whose version is not exactly N+1 (5.3.5)', async () => {
    for (const version of [3, 1]) {
      const env = await setup();
      await env.repo.rotateRoot(undefined, { version });
      const err = await errorOf(() => env.updater().refresh());
      expect(err).toBeInstanceOf(BadVersionError);
      expect((err as Error).message).toMatch(/root.*2\.root\.json/); // names the role and the file
      expect(await readJSONVersion(path.join(env.metadataDir, 'root.json'))).toBe(1);
    }
  });

  it('stops after maxRootRotations new roots (5.3.3)', async () => {
    const env = await setup();
    for (let i = 0; i < 4; i++) await env.repo.rotateRoot();
    await env.updater({ maxRootRotations: 2 }).refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'root.json'))).toBe(3);
    expect(env.server.metadataRequests).toContain('3.root.json');
    expect(env.server.metadataRequests).not.toContain('4.root.json');
  });

  it('persists every trusted root as it goes: a bad N+2 leaves N+1 trusted on disk (5.3.8)', async () => {
    const env = await setup();
    const { repo } = env;
    await repo.rotateRoot();
    await repo.rotateRoot(() => repo.replaceKeys('root'), { signWith: (_old, next) => next });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
    expect(await trustedRootBytes(env.metadataDir)).toEqual(Buffer.from(repo.rootBytes(2)));
  });

  it('ignores the expiry of intermediate roots (5.3.6)', async () => {
    const env = await setup();
    const { repo } = env;
    await repo.rotateRoot((r) => void (r.expires = PAST));
    await repo.rotateRoot((r) => void (r.expires = new Date(Date.now() + 86400_000)));
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'root.json'))).toBe(3);
  });

  it('starts from an expired trusted root and updates past it (5.2)', async () => {
    const env = await setup();
    const { repo } = env;
    await repo.rotateRoot();
    // The cached root v1 is an expired one, signed by the same root key.
    const md = Metadata.fromBytes(repo.rootBytes(1), 'root');
    md.signed.expires = PAST;
    for (const s of repo.signersOf('root')) await md.sign(s, false);
    await writeFile(path.join(env.metadataDir, 'root.json'), md.toBytes());
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'root.json'))).toBe(2);
  });

  it('rejects an expired final root (5.3.10) before fetching timestamp', async () => {
    const env = await setup();
    await env.repo.rotateRoot((r) => void (r.expires = PAST));
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
    expect(env.server.metadataRequests).not.toContain('timestamp.json');
  });

  it("uses the final root's consistent_snapshot to name snapshot and targets (5.3.12)", async () => {
    const env = await setup({ consistentSnapshot: false });
    const { repo } = env;
    await repo.rotateRoot((r) => void (r.consistentSnapshot = true));
    await repo.publish();
    await env.updater().refresh();
    expect(env.server.metadataRequests).toEqual(['2.root.json', '3.root.json', 'timestamp.json', '2.snapshot.json', '1.targets.json']);
  });
});

describe('fast-forward attack recovery (spec 5.3.11)', () => {
  it('deletes the cached timestamp when the timestamp keys change, so a lower timestamp version is accepted', async () => {
    const env = await setup();
    const { repo } = env;
    repo.timestamp.signed.version = 999; // the attacker pushed timestamp to v1000
    await repo.publish();
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(1000);
    // The repository recovers: it adds a timestamp key (the old one stays valid) and restarts at v1.
    await repo.rotateRoot(async () => {
      const [n] = await repo.newSigners(1);
      repo.setKeys('timestamp', [...repo.signersOf('timestamp'), n!]);
    });
    repo.timestamp.signed.version = 0;
    await repo.publish();
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(1);
  });

  it('deletes the cached timestamp and snapshot when the snapshot keys change, so a lower snapshot version is accepted', async () => {
    const env = await setup();
    const { repo } = env;
    repo.snapshot.signed.version = 999;
    await repo.publish();
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'snapshot.json'))).toBe(1000);
    await repo.rotateRoot(async () => {
      const [n] = await repo.newSigners(1);
      repo.setKeys('snapshot', [...repo.signersOf('snapshot'), n!]);
    });
    repo.snapshot.signed.version = 0;
    await repo.publish();
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'snapshot.json'))).toBe(1);
  });

  it('keeps rejecting the lower version when no key changed (the deletion is what recovers)', async () => {
    const env = await setup();
    const { repo } = env;
    repo.timestamp.signed.version = 999;
    await repo.publish();
    await env.updater().refresh();
    await repo.rotateRoot(); // a new root, same timestamp and snapshot keys
    repo.timestamp.signed.version = 0;
    await repo.publish();
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(1000);
  });
});
