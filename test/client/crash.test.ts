import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { watch } from 'node:fs';
import { cp, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Updater } from '../../src/index.js';
import { cleanup, cliPath, downloadArgs, ensureBuilt, fastConfig, setup, startServer, tempDir, verifyMetadataDir } from '../helpers/client.js';
import { sha256, utf8, type TestRepo } from '../helpers/repo.js';

// A refresh killed (SIGKILL) at random moments must always leave the metadata dir holding valid
// trusted metadata, from which a new refresh succeeds.

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

const KILLS = 15;

/** A small seeded PRNG (mulberry32), so a failing kill point can be replayed. */
function prng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = seed;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function run(args: string[]): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: 'ignore' });
    child.on('error', reject);
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
}

describe('crash safety', () => {
  it(`leaves valid trusted metadata after ${KILLS} SIGKILLs at random points of a refresh and download`, async () => {
    const data = utf8('a target deep in the delegation tree\n'.repeat(200));
    const env = await setup({
      build: async (r: TestRepo) => {
        await r.delegate('targets', 'a', { paths: ['deep/*'] });
        await r.delegate('a', 'b', { paths: ['deep/*'] });
        r.addTarget('deep/file.txt', utf8('old'), 'b');
        await r.publish();
      },
    });
    const { repo } = env;
    const u = env.updater();
    await u.getTargetInfo('deep/file.txt'); // caches every role at its first version

    // The next release: three new roots, new versions of every role and a new target.
    for (let i = 0; i < 3; i++) await repo.rotateRoot(() => repo.replaceKeys('root'));
    repo.addTarget('deep/file.txt', data, 'b');
    repo.touch('a');
    // Many targets make targets.json large (hundreds of KB): a write that is not atomic would be
    // caught half done by some kill.
    for (let i = 0; i < 1000; i++) repo.addTarget(`top/${i}.txt`, utf8(`top ${i}`));
    await repo.publish();
    const chain = Array.from({ length: repo.latestRootVersion }, (_, i) => repo.rootBytes(i + 1));

    const template = await tempDir('tufkit-crash-template-');
    await cp(env.metadataDir, template, { recursive: true });
    const args = downloadArgs(env, ['deep/file.txt']);

    // Kills are placed by events, not by clock, so that they land inside the run however slow
    // process start-up is: half after the k-th request reaches the server (0-30 ms later), half
    // right after the n-th file system event in the metadata dir (in the middle of writes).
    const fullDir = await tempDir('tufkit-crash-full-');
    await cp(template, fullDir, { recursive: true, force: true });
    let fsEvents = 0;
    const fullWatcher = watch(fullDir, () => void fsEvents++);
    env.server.resetRequests();
    const full = await run(['client', '--metadata-dir', fullDir, ...args.slice(3)]);
    fullWatcher.close();
    expect(full.code).toBe(0);
    const requestCount = env.server.requests.length;
    expect(requestCount).toBeGreaterThan(8);
    expect(fsEvents).toBeGreaterThan(8);
    const random = prng(0x7f4a7c15);
    type Kill = { on: 'request' | 'fs-event'; n: number; delayMs: number };
    const kills: Kill[] = Array.from({ length: KILLS }, (_, i) =>
      i % 2 === 0
        ? { on: 'request', n: 1 + Math.floor(random() * requestCount), delayMs: Math.floor(random() * 30) }
        : { on: 'fs-event', n: 1 + Math.floor(random() * fsEvents), delayMs: Math.floor(random() * 2) },
    );
    const outcomes: string[] = [];

    // One kill: a fresh copy of the cache and its own server, the child killed at its event, then the checks.
    const killOnce = async ({ on, n, delayMs }: Kill): Promise<void> => {
      const what = `kill ${delayMs} ms after ${on} ${n}`;
      const dir = await tempDir('tufkit-crash-');
      const metadataDir = path.join(dir, 'metadata');
      const targetDir = path.join(dir, 'targets');
      await cp(template, metadataDir, { recursive: true });
      const server = await startServer(repo.dir);
      server.delayAllMs = 5;
      const child = spawn(process.execPath, [cliPath, 'client', '--metadata-dir', metadataDir, '--metadata-url', server.metadataUrl,
        '--target-name', 'deep/file.txt', '--target-base-url', server.targetsUrl, '--target-dir', targetDir, 'download'], { stdio: 'ignore' });
      const kill = (): void => void setTimeout(() => child.kill('SIGKILL'), delayMs);
      let seen = 0;
      const watcher = watch(metadataDir, () => {
        if (on === 'fs-event' && ++seen === n) kill();
      });
      server.onRequest = () => {
        if (on === 'request' && server.requests.length === n) kill();
      };
      const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
      watcher.close();
      outcomes.push(`${what}: ${signal ?? code}`);

      // Whatever the moment, the dir holds only verifiable trusted metadata...
      await expect(verifyMetadataDir(metadataDir, chain), what).resolves.toContain('root');
      // ...the target dir holds no unverified target...
      for (const name of await readdir(targetDir).catch(() => [] as string[])) {
        if (name.startsWith('.')) continue; // a temp file of the killed writer
        expect(sha256(await readFile(path.join(targetDir, name))), `${what}: ${name}`).toBe(sha256(data));
      }
      // ...and a new run succeeds from it.
      const again = new Updater({ metadataDir, metadataBaseUrl: server.metadataUrl, targetDir, targetBaseUrl: server.targetsUrl, config: fastConfig });
      const info = await again.getTargetInfo('deep/file.txt');
      expect(info?.hashes.sha256, what).toBe(sha256(data));
      const file = (await again.findCachedTarget(info!)) ?? (await again.downloadTarget(info!));
      expect(sha256(await readFile(file))).toBe(sha256(data));
      await expect(verifyMetadataDir(metadataDir, chain)).resolves.toEqual(['a', 'b', 'root', 'snapshot', 'targets', 'timestamp']);
    };
    // Three children at a time, each with its own server and folders.
    for (let i = 0; i < KILLS; i += 3) await Promise.all(kills.slice(i, i + 3).map(killOnce));
    // At least some kills must have landed mid-run for the test to mean anything.
    expect(outcomes.filter((o) => o.endsWith('SIGKILL')).length, outcomes.join('\n')).toBeGreaterThanOrEqual(KILLS - 2);
  }, 60_000);
});
