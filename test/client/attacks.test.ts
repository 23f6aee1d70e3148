import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  BadVersionError,
  DownloadHTTPError,
  DownloadLengthMismatchError,
  ExpiredMetadataError,
  Key,
  LengthOrHashMismatchError,
  MetadataFormatError,
  SlowRetrievalError,
  UnsignedMetadataError,
  type Fetcher,
} from '../../src/index.js';
import { cleanup, listTree, readJSONVersion, setup, startServer, tempDir, type Env } from '../helpers/client.js';
import { keyOf, sha256, tamperSigned, utf8, type TestRepo } from '../helpers/repo.js';

// Spec 1.5.2: each attack the framework protects against, played against the client.

afterEach(cleanup);

const APP = utf8('app version 1\n');

async function release(opts: Parameters<typeof setup>[0] = {}, build?: (r: TestRepo) => Promise<void> | void): Promise<Env> {
  const env = await setup({
    ...opts,
    build: async (r) => {
      r.addTarget('app.tgz', APP);
      await build?.(r);
      await r.publish();
    },
  });
  await env.updater().refresh();
  env.server.resetRequests();
  return env;
}

describe('attacks of spec 1.5.2', () => {
  it('arbitrary installation: targets metadata signed by the attacker is refused, nothing is installed', async () => {
    const env = await release({ snapshotHashes: false });
    const attacker = await env.repo.newSigners(1);
    env.repo.addTarget('app.tgz', utf8('malware'));
    await env.repo.publish({ signWith: { targets: attacker } });
    const u = env.updater();
    await expect(u.refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('arbitrary installation: a target replaced on the server is refused', async () => {
    const env = await release();
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('app.tgz'))!;
    await env.repo.writeTarget(env.repo.targetFile(info), utf8('malware!!!!!!'));
    await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('rollback: an older, once valid, timestamp and snapshot are refused', async () => {
    const env = await release();
    env.repo.addTarget('app.tgz', utf8('app version 2\n'));
    await env.repo.publish();
    await env.updater().refresh();
    // The attacker replays release 2 (timestamp v2 and its snapshot) after the client saw release 3.
    await env.repo.writeMetadata('timestamp.json', env.repo.bytesOf('timestamp', 2));
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(3);
  });

  it('rollback: a snapshot going back on a targets version is refused', async () => {
    const env = await release();
    env.repo.touch('targets');
    await env.repo.publish();
    await env.updater().refresh();
    await env.repo.publish({ snapshotMeta: (m) => void (m.get('targets.json')!.version = 2) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
  });

  it('fast-forward: after the repository rotates the compromised timestamp key, the client recovers', async () => {
    const env = await release();
    const { repo } = env;
    repo.timestamp.signed.version = 1_000_000;
    await repo.publish();
    await env.updater().refresh();
    await repo.rotateRoot(async () => {
      const [n] = await repo.newSigners(1);
      repo.setKeys('timestamp', [...repo.signersOf('timestamp'), n!]);
    });
    repo.timestamp.signed.version = 3;
    await repo.publish();
    await env.updater().refresh();
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(4);
  });

  it('indefinite freeze: the same timestamp served past its expiry is refused', async () => {
    const env = await release({}, (r) => void (r.timestamp.signed.expires = new Date(Date.now() + 7 * 86400_000)));
    // Nothing new is published; the client runs again ten days later.
    const later = new Date(Date.now() + 10 * 86400_000);
    await expect(env.updater({ referenceTime: later }).refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
  });

  it('indefinite freeze: a frozen snapshot under a fresh timestamp is refused', async () => {
    const env = await release();
    env.repo.expire('snapshot');
    await env.repo.publish();
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
  });

  it('endless data: timestamp.json never ends; the client stops at timestampMaxLength', async () => {
    const env = await release();
    env.server.override('/metadata/timestamp.json', { endless: true });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(DownloadLengthMismatchError);
    const sent = env.server.requests.find((r) => r.logical === '/metadata/timestamp.json')!.bytesSent;
    expect(sent).toBeLessThan(16 * 1024 * 1024);
  });

  it('endless data: a custom fetcher that ignores maxLength cannot lift the cap', async () => {
    const env = await release();
    env.server.override('/metadata/timestamp.json', { endless: true });
    const greedy: Fetcher = {
      async *fetch(url: string) {
        const res = await fetch(url);
        if (!res.ok || !res.body) throw new DownloadHTTPError(`${url}: HTTP ${res.status}`, res.status, url);
        for await (const chunk of res.body) yield chunk;
      },
    };
    await expect(env.updater({}, { fetcher: greedy }).refresh()).rejects.toBeInstanceOf(DownloadLengthMismatchError);
    const sent = env.server.requests.find((r) => r.logical === '/metadata/timestamp.json')!.bytesSent;
    expect(sent).toBeLessThan(16 * 1024 * 1024);

    const u = env.updater({}, { fetcher: greedy });
    env.server.clearOverrides();
    await u.refresh();
    const info = (await u.getTargetInfo('app.tgz'))!;
    env.server.override(`/targets/${env.repo.targetFile(info)}`, { endless: true });
    await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(DownloadLengthMismatchError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('endless data: N.root.json never ends; the client stops at rootMaxLength', async () => {
    const env = await release();
    env.server.override('/metadata/2.root.json', { endless: true });
    await expect(env.updater({ rootMaxLength: 100_000 }).refresh()).rejects.toBeInstanceOf(DownloadLengthMismatchError);
  });

  it('endless data: a snapshot with no length in timestamp is capped by snapshotMaxLength', async () => {
    const env = await release({ timestampHashes: false });
    await env.repo.publish();
    env.server.override(`/metadata/${env.repo.metadataFile('snapshot')}`, { endless: true });
    await expect(env.updater({ snapshotMaxLength: 100_000 }).refresh()).rejects.toBeInstanceOf(DownloadLengthMismatchError);
  });

  it('extraneous dependencies: a delegated role cannot add a target outside its paths', async () => {
    const env = await release({}, async (r) => {
      await r.delegate('targets', 'plugins', { paths: ['plugins/*'] });
      r.addTarget('plugins/ok.tgz', utf8('ok'), 'plugins');
      r.addTarget('libevil.so', utf8('evil'), 'plugins'); // not in its delegated paths
    });
    await env.repo.writeTarget('libevil.so', utf8('evil'));
    const u = env.updater();
    await u.refresh();
    expect(await u.getTargetInfo('plugins/ok.tgz')).toMatchObject({ path: 'plugins/ok.tgz', length: 2, hashes: { sha256: sha256(utf8('ok')) } });
    expect(await u.getTargetInfo('libevil.so')).toBeUndefined();
  });

  it('mix-and-match: targets metadata from another release is refused', async () => {
    const env = await release();
    env.repo.addTarget('app.tgz', utf8('app version 2\n'));
    await env.repo.publish();
    // The mirror serves the old targets (v2) where the current snapshot names v3.
    env.server.override(`/metadata/${env.repo.metadataFile('targets')}`, { body: env.repo.bytesOf('targets', 2) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(LengthOrHashMismatchError);
  });

  it('mix-and-match: without hashes in snapshot, the version inside the file still decides', async () => {
    const env = await release({ snapshotHashes: false });
    env.repo.addTarget('app.tgz', utf8('app version 2\n'));
    await env.repo.publish();
    env.server.override(`/metadata/${env.repo.metadataFile('targets')}`, { body: env.repo.bytesOf('targets', 2) });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(BadVersionError);
  });

  it('malicious mirror: a failed refresh from a bad mirror leaves the cache able to update from a good one', async () => {
    const env = await release();
    env.repo.addTarget('app.tgz', utf8('app version 2\n'));
    await env.repo.publish();
    // The bad mirror serves garbage for everything.
    const badDir = await tempDir('tufkit-badmirror-');
    const bad = await startServer(badDir);
    for (const f of ['2.root.json', 'timestamp.json']) bad.override(`/metadata/${f}`, { body: utf8('{"signed": {}, "signatures": []}') });
    const u = env.updater({}, { metadataBaseUrl: bad.metadataUrl });
    await expect(u.refresh()).rejects.toBeInstanceOf(MetadataFormatError);
    const good = env.updater();
    await good.refresh();
    expect((await good.getTargetInfo('app.tgz'))?.length).toBe(14);
  });

  it('slow retrieval: a server trickling timestamp.json is cut off with SlowRetrievalError', async () => {
    const env = await release();
    env.server.override('/metadata/timestamp.json', { endless: true, trickle: { bytes: 1, intervalMs: 50 } });
    const start = Date.now();
    await expect(env.updater({ idleTimeoutMs: 300, minBytesPerSecond: 1000 }).refresh()).rejects.toBeInstanceOf(SlowRetrievalError);
    expect(Date.now() - start).toBeLessThan(5000);
  });

  it('slow retrieval: a server that never answers is cut off with SlowRetrievalError', async () => {
    const env = await release();
    env.server.override('/metadata/timestamp.json', { delayMs: 3000 });
    await expect(env.updater({ requestTimeoutMs: 300 }).refresh()).rejects.toBeInstanceOf(SlowRetrievalError);
  });

  it('key compromise below threshold: one of two targets keys cannot sign targets', async () => {
    const env = await release({ onlineKeys: 2, onlineThreshold: 2 });
    env.repo.addTarget('app.tgz', utf8('malware'));
    await env.repo.publish({ signWith: { targets: env.repo.signersOf('targets').slice(0, 1) } });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('key compromise below threshold: one of three root keys cannot rotate root', async () => {
    const env = await release({ rootKeys: 3, rootThreshold: 2 });
    const [stolen] = env.repo.signersOf('root');
    await env.repo.rotateRoot(async () => {
      const attacker = await env.repo.newSigners(1);
      env.repo.setKeys('root', attacker, 1);
    }, { signWith: (_old, next) => [stolen!, ...next] });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'root.json'))).toBe(1);
  });

  it('key compromise below threshold: one key listed under two keyids counts once', async () => {
    const env = await release();
    const { repo } = env;
    const [k] = repo.signersOf('timestamp');
    // The same public key again, under another keyid (an extra field changes the keyid).
    const alias = Key.fromPublicJSON({ ...keyOf(k!).toJSON(), 'x-alias': true });
    expect(alias.keyid).not.toBe(k!.keyid);
    await repo.rotateRoot((r) => {
      r.keys.set(alias.keyid, alias);
      r.getRole('timestamp').keyids.push(alias.keyid);
      r.getRole('timestamp').threshold = 2;
    });
    await repo.publish({
      tamper: {
        timestamp: (b) => {
          const obj = JSON.parse(Buffer.from(b).toString()) as { signatures: { keyid: string; sig: string }[] };
          obj.signatures.push({ keyid: alias.keyid, sig: obj.signatures[0]!.sig });
          return utf8(JSON.stringify(obj));
        },
      },
    });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });

  it('key compromise below threshold: a signature listed twice for one keyid is refused', async () => {
    const env = await release({ onlineKeys: 2, onlineThreshold: 2 });
    const [stolen] = env.repo.signersOf('timestamp');
    await env.repo.publish({
      signWith: { timestamp: [stolen!] },
      tamper: {
        timestamp: (b) => {
          const obj = JSON.parse(Buffer.from(b).toString()) as { signatures: unknown[] };
          obj.signatures.push(obj.signatures[0]);
          return utf8(JSON.stringify(obj));
        },
      },
    });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(MetadataFormatError);
    expect(await readJSONVersion(path.join(env.metadataDir, 'timestamp.json'))).toBe(2);
  });

  it('wrong software installation: another trusted file served under the requested name is refused', async () => {
    const otherBytes = utf8('lib version 1\n'); // as long as app.tgz: only the hash tells them apart
    const env = await release({}, (r) => void r.addTarget('lib.tgz', otherBytes));
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('app.tgz'))!;
    expect((await u.getTargetInfo('lib.tgz'))!.length).toBe(info.length);
    env.server.override(`/targets/${env.repo.targetFile(info)}`, { body: otherBytes });
    await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('wrong software installation: metadata changed after signing is refused', async () => {
    const env = await release({ snapshotHashes: false });
    env.repo.touch('targets');
    await env.repo.publish({
      tamper: {
        targets: (b) =>
          tamperSigned(b, (s) => {
            (s.targets as Record<string, { hashes: Record<string, string> }>)['app.tgz']!.hashes.sha256 = 'cd'.repeat(32);
          }),
      },
    });
    await expect(env.updater().refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
  });
});
