import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, downloadArgs, ensureBuilt, refreshArgs, runCli, setup, tempDir, type Env } from '../helpers/client.js';
import { sha256, utf8, type TestRepo } from '../helpers/repo.js';

// The tuf-conformance client protocol: `tufkit client --metadata-dir D init ROOT`, `refresh`,
// `download`, exit code 0 on success and 1 on any failure.

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

const A = utf8('target a\n');
const B = utf8('target b\n');

async function cliEnv(build?: (r: TestRepo) => Promise<void> | void): Promise<Env> {
  const env = await setup({
    build: async (r) => {
      r.addTarget('a.txt', A);
      r.addTarget('dir/b.txt', B);
      r.addTarget('c.txt', utf8('target c\n'));
      await build?.(r);
      await r.publish();
    },
  });
  return env;
}

async function jsonNames(dir: string): Promise<string[]> {
  return (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
}

async function targetFiles(env: Env): Promise<Buffer[]> {
  const names = (await readdir(env.targetDir)).filter((n) => !n.startsWith('.'));
  return Promise.all(names.sort().map((n) => readFile(path.join(env.targetDir, n))));
}

describe('tufkit client (conformance protocol)', () => {
  it('init stores the trusted root and makes no request', async () => {
    const env = await cliEnv();
    const dir = path.join(await tempDir(), 'fresh-metadata');
    const rootFile = path.join(env.clientDir, 'initial_root.json');
    await writeFile(rootFile, env.repo.rootBytes(1));
    const r = await runCli(['client', '--metadata-dir', dir, 'init', rootFile]);
    expect(r.code, r.stderr).toBe(0);
    expect(await readFile(path.join(dir, 'root.json'))).toEqual(Buffer.from(env.repo.rootBytes(1)));
    expect(await jsonNames(dir)).toEqual(['root.json']);
    expect(env.server.requests).toEqual([]);
  });

  it('init exits 1 for a file that is not a root', async () => {
    const bad = path.join(await tempDir(), 'not-root.json');
    await writeFile(bad, '{"hello": "world"}');
    const r = await runCli(['client', '--metadata-dir', path.join(await tempDir(), 'm'), 'init', bad]);
    expect(r.code).toBe(1);
    expect(r.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refresh exits 0 and stores the top-level metadata under non-versioned names', async () => {
    const env = await cliEnv();
    const r = await runCli(refreshArgs(env));
    expect(r.code, r.stderr).toBe(0);
    expect(await jsonNames(env.metadataDir)).toEqual(['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    expect(await readFile(path.join(env.metadataDir, 'timestamp.json'))).toEqual(Buffer.from(env.repo.bytesOf('timestamp')));
  });

  it('refresh accepts its options in another order', async () => {
    const env = await cliEnv();
    const r = await runCli(['client', '--metadata-url', env.server.metadataUrl, '--metadata-dir', env.metadataDir, 'refresh']);
    expect(r.code, r.stderr).toBe(0);
  });

  it('refresh exits 1 with a one-line error naming the role when the repository is bad', async () => {
    const env = await cliEnv((r) => r.expire('timestamp'));
    const r = await runCli(refreshArgs(env));
    expect(r.code).toBe(1);
    const errorLines = r.stderr.split('\n').filter((l) => /Error/.test(l));
    expect(errorLines).toHaveLength(1);
    expect(errorLines[0]).toMatch(/ExpiredMetadataError/);
    expect(errorLines[0]).toMatch(/timestamp/);
  });

  it('refresh exits 1 when the repository cannot be reached', async () => {
    const env = await cliEnv();
    const r = await runCli(['client', '--metadata-dir', env.metadataDir, '--metadata-url', 'http://127.0.0.1:9/metadata', 'refresh']);
    expect(r.code).toBe(1);
  });

  it('download stores the verified target; a second run makes no target request', async () => {
    const env = await cliEnv();
    const first = await runCli(downloadArgs(env, ['dir/b.txt']));
    expect(first.code, first.stderr).toBe(0);
    expect(await targetFiles(env)).toEqual([Buffer.from(B)]);
    expect(env.server.targetRequests).toHaveLength(1);
    env.server.resetRequests();
    const second = await runCli(downloadArgs(env, ['dir/b.txt']));
    expect(second.code, second.stderr).toBe(0);
    expect(env.server.targetRequests).toEqual([]);
    expect(await targetFiles(env)).toEqual([Buffer.from(B)]);
  });

  it('download of a target that changed replaces the file under the same name', async () => {
    const env = await cliEnv();
    expect((await runCli(downloadArgs(env, ['a.txt']))).code).toBe(0);
    const before = (await readdir(env.targetDir)).filter((n) => !n.startsWith('.'));
    env.repo.addTarget('a.txt', utf8('target a, version 2\n'));
    await env.repo.publish();
    const r = await runCli(downloadArgs(env, ['a.txt']));
    expect(r.code, r.stderr).toBe(0);
    expect((await readdir(env.targetDir)).filter((n) => !n.startsWith('.'))).toEqual(before);
    expect(await targetFiles(env)).toEqual([Buffer.from('target a, version 2\n')]);
  });

  it('download exits 1 for a tampered target and leaves no file for it', async () => {
    const env = await cliEnv();
    const info = env.repo.targetsRole('targets').signed.targets.get('a.txt')!;
    env.server.override(`/targets/${env.repo.targetFile(info)}`, { body: utf8('target A\n') });
    const r = await runCli(downloadArgs(env, ['a.txt']));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/LengthOrHashMismatchError/);
    expect(await targetFiles(env)).toEqual([]);
  });

  it('download with several --target-name stops at the first failure', async () => {
    const env = await cliEnv();
    const r = await runCli(downloadArgs(env, ['a.txt', 'missing.txt', 'dir/b.txt']));
    expect(r.code).toBe(1);
    expect(await targetFiles(env)).toEqual([Buffer.from(A)]);
    // Consistent snapshot (the test repository's default): the file named by the sha256 of its bytes.
    expect(env.server.targetRequests).toEqual([`${sha256(A)}.a.txt`]);

    const env2 = await cliEnv();
    const info = env2.repo.targetsRole('targets').signed.targets.get('a.txt')!;
    env2.server.override(`/targets/${env2.repo.targetFile(info)}`, { body: utf8('target A\n') });
    const r2 = await runCli(downloadArgs(env2, ['dir/b.txt', 'a.txt', 'c.txt']));
    expect(r2.code).toBe(1);
    expect(await targetFiles(env2)).toEqual([Buffer.from(B)]);
    expect(env2.server.targetRequests).toHaveLength(2);
  });

  it('download of every name in order exits 0', async () => {
    const env = await cliEnv();
    const r = await runCli(downloadArgs(env, ['a.txt', 'dir/b.txt']));
    expect(r.code, r.stderr).toBe(0);
    expect(await targetFiles(env)).toHaveLength(2);
  });
});
