import { mkdir, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { DownloadLengthMismatchError, LengthOrHashMismatchError, type TargetFile, type Updater } from '../../src/index.js';
import { cleanup, listTree, setup, type Env } from '../helpers/client.js';
import { sha256, utf8, type TestRepo } from '../helpers/repo.js';

// Spec 5.7: fetching a target: length cap, every hash, HASH.name, cache reuse, nothing unverified on disk.

afterEach(cleanup);

const DATA = utf8('the real target file\n');

async function withTarget(opts: Parameters<typeof setup>[0] = {}, build?: (r: TestRepo) => void): Promise<Env> {
  return setup({
    ...opts,
    build: async (r) => {
      r.addTarget('dir/app.txt', DATA);
      build?.(r);
      await r.publish();
    },
  });
}

describe('target download (spec 5.7)', () => {
  it('downloads a target, verified, into targetDir and returns its path', async () => {
    const env = await withTarget();
    const u = env.updater();
    await u.refresh();
    const info = await u.getTargetInfo('dir/app.txt');
    expect(info).toMatchObject({ path: 'dir/app.txt', length: DATA.length, hashes: { sha256: sha256(DATA) } });
    const file = await u.downloadTarget(info!);
    expect(path.relative(env.targetDir, file).startsWith('..')).toBe(false);
    expect(await readFile(file)).toEqual(Buffer.from(DATA));
  });

  it('fetches HASH.name with consistent snapshots, name without them, and name when prefixTargetsWithHash is false', async () => {
    const sha = sha256(DATA);
    for (const [consistent, prefix, expected] of [
      [true, true, `dir/${sha}.app.txt`],
      [false, true, 'dir/app.txt'],
      [true, false, 'dir/app.txt'],
    ] as const) {
      const env = await withTarget({ consistentSnapshot: consistent });
      if (!prefix) await env.repo.writeTarget('dir/app.txt', DATA);
      const u = env.updater({ prefixTargetsWithHash: prefix });
      await u.refresh();
      await u.downloadTarget((await u.getTargetInfo('dir/app.txt'))!);
      expect(env.server.targetRequests).toEqual([expected]);
    }
  });

  it('rejects a tampered target (same length, other bytes) and leaves nothing in targetDir', async () => {
    const env = await withTarget();
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('dir/app.txt'))!;
    const evil = Uint8Array.from(DATA);
    evil[0] = evil[0]! ^ 0x20;
    env.server.override(`/targets/${env.repo.targetFile(info)}`, { body: evil });
    await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('rejects a target shorter than its length and leaves nothing in targetDir', async () => {
    const env = await withTarget();
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('dir/app.txt'))!;
    env.server.override(`/targets/${env.repo.targetFile(info)}`, { body: DATA.subarray(0, DATA.length - 1) });
    await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('stops reading at the length from metadata (DownloadLengthMismatchError) and leaves nothing in targetDir', async () => {
    const env = await withTarget();
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('dir/app.txt'))!;
    env.server.override(`/targets/${env.repo.targetFile(info)}`, { endless: true });
    await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(DownloadLengthMismatchError);
    const sent = env.server.requests.find((r) => r.logical.startsWith('/targets/'))!.bytesSent;
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    expect(await listTree(env.targetDir)).toEqual([]);
  });

  it('checks every listed hash, not only the first (canonical JSON lists sha256 before sha512)', async () => {
    for (const wrong of ['sha256', 'sha512']) {
      const env = await withTarget({}, (r) => {
        const tf = r.addTarget('multi.txt', DATA, 'targets', ['sha256', 'sha512']);
        tf.hashes[wrong] = wrong === 'sha256' ? 'ab'.repeat(32) : 'ab'.repeat(64);
      });
      const u = env.updater();
      await u.refresh();
      const info = (await u.getTargetInfo('multi.txt'))!;
      expect(Object.keys(info.hashes).sort()).toEqual(['sha256', 'sha512']);
      await expect(u.downloadTarget(info), `wrong ${wrong}`).rejects.toBeInstanceOf(LengthOrHashMismatchError);
      expect(env.server.targetRequests, `wrong ${wrong}`).toHaveLength(1);
      expect(await listTree(env.targetDir)).toEqual([]);
    }
  });

  it('reuses a cached target whose hashes match, and not one that changed on disk', async () => {
    const env = await withTarget();
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('dir/app.txt'))!;
    expect(await u.findCachedTarget(info)).toBeUndefined();
    const file = await u.downloadTarget(info);
    env.server.resetRequests();
    expect(await u.findCachedTarget(info)).toBe(file);
    const other = path.join(env.clientDir, 'elsewhere.txt');
    await writeFile(other, DATA);
    expect(await u.findCachedTarget(info, other)).toBe(other);
    expect(env.server.requests).toEqual([]);
    const changed = Uint8Array.from(DATA);
    changed[3] = changed[3]! ^ 1;
    await writeFile(file, changed);
    expect(await u.findCachedTarget(info)).toBeUndefined();
  });

  it('downloads to an explicit filePath and from an explicit targetBaseUrl', async () => {
    const env = await withTarget();
    const u = env.updater({}, { targetBaseUrl: 'http://127.0.0.1:9/nothing-here' });
    await u.refresh();
    const info = (await u.getTargetInfo('dir/app.txt'))!;
    const out = path.join(env.clientDir, 'out.bin');
    expect(await u.downloadTarget(info, out, env.server.targetsUrl)).toBe(out);
    expect(await readFile(out)).toEqual(Buffer.from(DATA));
  });
});

describe('temp files of downloads that died', () => {
  /** A refreshed updater, the target to download, and where (its folder made). */
  async function beforeDownload(): Promise<{ env: Env; u: Updater; info: TargetFile; target: string }> {
    const env = await withTarget();
    const u = env.updater();
    await u.refresh();
    const info = (await u.getTargetInfo('dir/app.txt'))!;
    await mkdir(env.targetDir, { recursive: true });
    return { env, u, info, target: path.join(env.targetDir, 'downloaded-app.txt') };
  }

  it("removes a day-old temp file of the same target, keeps recent ones and other targets' ones", async () => {
    const { env, u, info, target } = await beforeDownload();
    const abandoned = path.join(env.targetDir, '.tufkit-tmp-downloaded-app.txt-0123456789ab');
    const recent = path.join(env.targetDir, '.tufkit-tmp-downloaded-app.txt-ba9876543210');
    const otherTarget = path.join(env.targetDir, '.tufkit-tmp-downloaded-app.txt.sig-0123456789ab');
    const notOurs = path.join(env.targetDir, '.tufkit-tmp-downloaded-app.txt-notahexname');
    for (const f of [abandoned, recent, otherTarget, notOurs]) await writeFile(f, 'half a download');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const f of [abandoned, otherTarget, notOurs]) await utimes(f, twoDaysAgo, twoDaysAgo);

    expect(await readFile(await u.downloadTarget(info, target))).toEqual(Buffer.from(DATA));
    expect((await readdir(env.targetDir)).sort()).toEqual(
      ['.tufkit-tmp-downloaded-app.txt-ba9876543210', '.tufkit-tmp-downloaded-app.txt-notahexname', '.tufkit-tmp-downloaded-app.txt.sig-0123456789ab', 'downloaded-app.txt'].sort(),
    );
  });
  it("removes a day-old partial download of the same target (a failed resumable one), keeps recent ones and other targets' ones", async () => {
    const { env, u, info, target } = await beforeDownload();
    const abandoned = ['.tufkit-partial-downloaded-app.txt-0123456789abcdef', '.tufkit-partial-downloaded-app.txt-fedcba9876543210'];
    const recent = '.tufkit-partial-downloaded-app.txt-1111111111111111';
    const otherTarget = '.tufkit-partial-downloaded-app.txt.sig-0123456789abcdef';
    for (const f of [...abandoned, recent, otherTarget]) await writeFile(path.join(env.targetDir, f), 'half a download');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    for (const f of [...abandoned, otherTarget]) await utimes(path.join(env.targetDir, f), twoDaysAgo, twoDaysAgo);

    expect(await readFile(await u.downloadTarget(info, target))).toEqual(Buffer.from(DATA));
    expect((await readdir(env.targetDir)).sort()).toEqual([recent, otherTarget, 'downloaded-app.txt'].sort());
  });
});
