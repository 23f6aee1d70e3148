import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DownloadCancelledError,
  DownloadError,
  HttpFetcher,
  LengthOrHashMismatchError,
  UsageError,
  type Fetcher,
  type TargetFile,
  type Updater,
} from '../../src/index.js';
import { cleanup, errorOf, jsonFiles, listTree, setup, type Env } from '../helpers/client.js';
import { flipByte, sha256 } from '../helpers/repo.js';

// Downloads as applications need them: progress, cancellation, resume, in-memory bytes, batches.

afterEach(cleanup);

const BIG = randomBytes(300_000);
const SMALL = Array.from({ length: 6 }, (_, i) => randomBytes(20_000 + i));

async function served(): Promise<{ env: Env; u: Updater; big: TargetFile; small: TargetFile[] }> {
  const env = await setup({
    build: async (r) => {
      r.addTarget('app/big.bin', BIG);
      SMALL.forEach((d, i) => r.addTarget(`app/small-${i}.bin`, d));
      await r.publish();
    },
  });
  const u = env.updater();
  await u.refresh();
  const big = (await u.getTargetInfo('app/big.bin'))!;
  const small = await Promise.all(SMALL.map(async (_, i) => (await u.getTargetInfo(`app/small-${i}.bin`))!));
  env.server.resetRequests();
  return { env, u, big, small };
}

function url(env: Env, info: TargetFile): string {
  return `/targets/${env.repo.targetFile(info)}`;
}

describe('progress and cancellation', () => {
  it('reports bytes so far and the total, ending at the listed length', async () => {
    const { u, big } = await served();
    const seen: [number, number][] = [];
    const file = await u.downloadTarget(big, undefined, undefined, { onProgress: (r, t) => seen.push([r, t]) });
    expect(sha256(await readFile(file))).toBe(sha256(BIG));
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.every(([, t]) => t === BIG.length)).toBe(true);
    expect(seen.every(([r], i) => i === 0 || r > seen[i - 1]![0])).toBe(true);
    expect(seen.at(-1)).toEqual([BIG.length, BIG.length]);
  });

  it('stops at an abort, removes its temp file and changes no trusted metadata', async () => {
    const { env, u, big } = await served();
    env.server.override(url(env, big), { trickle: { bytes: 16_384, intervalMs: 20 } });
    const before = await jsonFiles(env.metadataDir);
    for (const resume of [false, true]) {
      const controller = new AbortController();
      const download = u.downloadTarget(big, undefined, undefined, { resume, signal: controller.signal, onProgress: () => controller.abort() });
      await expect(download).rejects.toBeInstanceOf(DownloadCancelledError);
      expect(await listTree(env.targetDir)).toEqual([]);
    }
    const aborted = AbortSignal.abort();
    await expect(u.fetchTargetBytes(big, { signal: aborted })).rejects.toBeInstanceOf(DownloadCancelledError);
    expect(await jsonFiles(env.metadataDir)).toEqual(before);
    expect(env.server.requests.every((r) => r.bytesSent < BIG.length)).toBe(true);
  });
});

describe('verified bytes in memory', () => {
  it('returns the bytes of a small target, and refuses tampered ones or a target above maxLength', async () => {
    const { env, u, small } = await served();
    expect(Buffer.from(await u.fetchTargetBytes(small[0]!))).toEqual(SMALL[0]);
    env.server.override(url(env, small[1]!), { body: flipByte(SMALL[1]!, 100) });
    await expect(u.fetchTargetBytes(small[1]!)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    await expect(u.fetchTargetBytes(small[2]!, { maxLength: 1000 })).rejects.toBeInstanceOf(UsageError);
    expect(await listTree(env.targetDir)).toEqual([]);
  });
});

describe('verified bytes as a stream', () => {
  it('streams a target whole; tampered bytes fail the stream before its last chunk is delivered', async () => {
    const { env, u, big } = await served();
    const whole: Uint8Array[] = [];
    for await (const chunk of u.streamTarget(big)) whole.push(chunk);
    expect(Buffer.concat(whole).equals(BIG)).toBe(true);

    env.server.override(url(env, big), { body: flipByte(BIG, BIG.length - 10) });
    const seen: Uint8Array[] = [];
    const e = await errorOf(async () => {
      for await (const chunk of u.streamTarget(big)) seen.push(chunk);
    });
    expect(e).toBeInstanceOf(LengthOrHashMismatchError);
    expect((e as Error).message).toContain('target "app/big.bin"');
    // Everything but the held-back last chunk arrived, and it equals the served prefix.
    const delivered = Buffer.concat(seen);
    expect(delivered.length).toBeLessThan(BIG.length);
    expect(delivered.equals(Buffer.from(flipByte(BIG, BIG.length - 10)).subarray(0, delivered.length))).toBe(true);
    expect(await listTree(env.targetDir)).toEqual([]);
  });
});

describe('resumed downloads', () => {
  const CUT = 100_000;

  async function interrupted(): Promise<Awaited<ReturnType<typeof served>> & { partial: string }> {
    const s = await served();
    s.env.server.override(url(s.env, s.big), { cutAfter: CUT, times: 1 });
    await expect(s.u.downloadTarget(s.big, undefined, undefined, { resume: true })).rejects.toBeInstanceOf(DownloadError);
    const files = await listTree(s.env.targetDir);
    expect(files).toHaveLength(1);
    expect(files[0]).toMatch(/^\.tufkit-partial-/);
    const partial = path.join(s.env.targetDir, files[0]!);
    expect((await readFile(partial)).length).toBe(CUT);
    s.env.server.resetRequests();
    return { ...s, partial };
  }

  it('continues an interrupted download with a range request and verifies the whole file', async () => {
    const { env, u, big } = await interrupted();
    env.server.acceptRanges = true;
    const seen: number[] = [];
    const file = await u.downloadTarget(big, undefined, undefined, { resume: true, onProgress: (r) => seen.push(r) });
    expect(env.server.requests.map((r) => [r.range, r.status, r.bytesSent])).toEqual([[`bytes=${CUT}-`, 206, BIG.length - CUT]]);
    expect(seen[0]).toBeGreaterThan(CUT);
    expect(sha256(await readFile(file))).toBe(sha256(BIG));
    expect(await listTree(env.targetDir)).toEqual([path.basename(file)]);
  });

  it('takes the whole file when the server ignores the range', async () => {
    const { env, u, big } = await interrupted();
    const file = await u.downloadTarget(big, undefined, undefined, { resume: true });
    expect(env.server.requests.map((r) => [r.range, r.status, r.bytesSent])).toEqual([[`bytes=${CUT}-`, 200, BIG.length]]);
    expect(sha256(await readFile(file))).toBe(sha256(BIG));
  });

  it('starts over once when the continued file does not verify (tampered partial bytes)', async () => {
    const { env, u, big, partial } = await interrupted();
    env.server.acceptRanges = true;
    await writeFile(partial, flipByte(await readFile(partial), 10));
    const file = await u.downloadTarget(big, undefined, undefined, { resume: true });
    expect(env.server.requests.map((r) => [r.range, r.status])).toEqual([
      [`bytes=${CUT}-`, 206],
      [undefined, 200],
    ]);
    expect(sha256(await readFile(file))).toBe(sha256(BIG));
  });

  it('fails, keeping nothing, when the server sends tampered bytes for the range and for the whole file', async () => {
    const { env, u, big } = await interrupted();
    env.server.acceptRanges = true;
    env.server.override(url(env, big), { body: flipByte(BIG, BIG.length - 1) });
    await expect(u.downloadTarget(big, undefined, undefined, { resume: true })).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    expect(env.server.requests).toHaveLength(2);
    expect(await listTree(env.targetDir)).toEqual([]);
  });
});

describe('several targets', () => {
  /** A fetcher that counts the bodies streaming at once. */
  function countingFetcher(): { fetcher: Fetcher; max: () => number } {
    const inner = new HttpFetcher({ retries: 0 });
    let open = 0;
    let max = 0;
    return {
      max: () => max,
      fetcher: {
        async *fetch(u, maxLength, options) {
          open++;
          max = Math.max(max, open);
          try {
            yield* inner.fetch(u, maxLength, options);
          } finally {
            open--;
          }
        },
      },
    };
  }

  it('downloads at most `concurrency` at a time, each verified, paths in order', async () => {
    const { env, small } = await served();
    env.server.delayAllMs = 50;
    const counting = countingFetcher();
    const u = env.updater({}, { fetcher: counting.fetcher });
    const progress = new Set<string>();
    const files = await u.downloadTargets(small, { concurrency: 2, onProgress: (info) => progress.add(info.path) });
    expect(counting.max()).toBe(2);
    expect(progress.size).toBe(small.length);
    for (const [i, f] of files.entries()) expect(sha256(await readFile(f))).toBe(sha256(SMALL[i]!));
  });

  it('fails with the first failure and leaves no unverified file', async () => {
    const { env, u, small } = await served();
    env.server.override(url(env, small[1]!), { body: flipByte(SMALL[1]!, 5) });
    await expect(u.downloadTargets(small, { concurrency: 3 })).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    for (const name of await listTree(env.targetDir)) {
      const i = SMALL.findIndex((_, j) => name === path.basename(`small-${j}.bin`) || name.endsWith(`small-${j}.bin`));
      expect(i, name).toBeGreaterThanOrEqual(0);
      expect(sha256(await readFile(path.join(env.targetDir, name)))).toBe(sha256(SMALL[i]!));
    }
    await expect(u.downloadTargets(small, { concurrency: 0 })).rejects.toBeInstanceOf(UsageError);
  });
});

describe('resumed downloads, edge', () => {
  it('starts over when the partial file is already as long as the target (a crash before the rename)', async () => {
    const { env, u, small } = await served();
    env.server.acceptRanges = true;
    env.server.override(url(env, small[0]!), { cutAfter: 1000, times: 1 });
    await expect(u.downloadTarget(small[0]!, undefined, undefined, { resume: true })).rejects.toBeInstanceOf(DownloadError);
    const [partial] = await listTree(env.targetDir);
    await writeFile(path.join(env.targetDir, partial!), SMALL[0]!);
    env.server.resetRequests();
    const file = await u.downloadTarget(small[0]!, undefined, undefined, { resume: true });
    expect(env.server.requests.map((r) => r.range)).toEqual([undefined]);
    expect(sha256(await readFile(file))).toBe(sha256(SMALL[0]!));
  });
});
