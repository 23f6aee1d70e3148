import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ensureBuilt, repoRoot, setup, tempDir } from '../helpers/client.js';
import { utf8 } from '../helpers/repo.js';

// "tufkit/client" is the package entry for an application that only updates: a fresh process
// importing it loads a bundle of the client (a few files instead of some forty modules) without
// repository tooling, signers or (for metadata of spec version 1.x.y) semver, and what it exports
// is exactly what "tufkit" exports under the same names (the two bundles share their chunks).

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

const run = promisify(execFile);

/** Runs an ES module as if it were a file of this package (so 'tufkit' resolves to it). */
async function runModule(code: string, env: Record<string, string> = {}): Promise<string> {
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', code], { cwd: repoRoot, env: { ...process.env, ...env }, timeout: 30_000 });
  return stdout;
}

// Records every module URL the process resolves (the hooks run in their own thread, hence the file).
const HOOKS = `import { appendFileSync } from 'node:fs';
export async function resolve(specifier, context, next) {
  const resolved = await next(specifier, context);
  appendFileSync(process.env.TUFKIT_TEST_LOADED, resolved.url + '\\n');
  return resolved;
}`;

describe('the tufkit/client entry point', () => {
  it('refreshes, looks up and downloads without loading the repository tooling, signers or semver', async () => {
    const env = await setup({
      build: async (r) => {
        r.addTarget('dir/app.txt', utf8('the target\n'));
        await r.publish();
      },
    });
    const loadedFile = path.join(await tempDir('tufkit-entry-'), 'loaded.txt');
    const options = { metadataDir: env.metadataDir, metadataBaseUrl: env.server.metadataUrl, targetDir: env.targetDir, targetBaseUrl: env.server.targetsUrl };
    const out = await runModule(
      `import { createRequire, register } from 'node:module';
      register('data:text/javascript,' + encodeURIComponent(${JSON.stringify(HOOKS)}));
      const { Updater } = await import('tufkit/client');
      const u = new Updater(${JSON.stringify(options)});
      await u.refresh();
      const info = await u.getTargetInfo('dir/app.txt');
      const file = await u.downloadTarget(info);
      const cjs = Object.keys(createRequire(import.meta.url).cache);
      console.log(JSON.stringify({ file, cjs }));`,
      { TUFKIT_TEST_LOADED: loadedFile },
    );
    const { file, cjs } = JSON.parse(out) as { file: string; cjs: string[] };
    expect(await readFile(file, 'utf8')).toBe('the target\n');
    const loaded = (await readFile(loadedFile, 'utf8')).trim().split('\n');
    // The entry is the bundle (dist/bundle, one file per entry plus shared chunks), nothing of dist/src.
    const ours = loaded.filter((u) => u.includes('/dist/'));
    expect(ours.some((u) => u.endsWith('/dist/bundle/client-entry.js'))).toBe(true);
    expect(ours.filter((u) => !u.includes('/dist/bundle/') || u.endsWith('/dist/bundle/index.js'))).toEqual([]);
    const code = await Promise.all([...new Set(ours)].map((u) => readFile(new URL(u), 'utf8')));
    // What it loaded holds the updater (so an absence below means something), and no repository tooling or signer.
    expect(code.some((c) => /\bUpdater = class\b/.test(c))).toBe(true);
    expect(code.filter((c) => /\b(Repository|InMemorySigner|ExternalSigner) = class\b/.test(c))).toEqual([]);
    expect(await readFile(path.join(repoRoot, 'dist', 'bundle', 'index.js'), 'utf8')).toMatch(/\bRepository = class\b/);
    expect(cjs.some((f) => f.includes(`${path.sep}undici${path.sep}`))).toBe(true);
    expect(cjs.filter((f) => f.includes(`${path.sep}semver${path.sep}`))).toEqual([]);
  }, 60_000);

  it('exports the same values as tufkit under the same names', async () => {
    const out = await runModule(
      `const client = await import('tufkit/client');
      const all = await import('tufkit');
      const differ = Object.keys(client).filter((k) => client[k] !== all[k]);
      console.log(JSON.stringify({ names: Object.keys(client), differ, onlyInAll: Object.keys(all).filter((k) => !(k in client)) }));`,
    );
    const { names, differ, onlyInAll } = JSON.parse(out) as { names: string[]; differ: string[]; onlyInAll: string[] };
    expect(differ).toEqual([]);
    expect(names).toEqual(expect.arrayContaining(['Updater', 'TufError', 'DownloadError', 'Metadata', 'TargetFile', 'HttpFetcher', 'verifySignature']));
    expect(onlyInAll).toEqual(expect.arrayContaining(['Repository', 'InMemorySigner']));
  }, 60_000);

  it('keeps every class name, so an error is named as its class (err.name, and the CLI line)', async () => {
    const out = await runModule(
      `const all = await import('tufkit');
      const classes = Object.entries(all).filter(([k, v]) => typeof v === 'function' && /^[A-Z]/.test(k));
      const errors = classes.filter(([, v]) => v.prototype instanceof Error).map(([k, v]) => [k, new v('x').name]);
      console.log(JSON.stringify({ count: classes.length, renamed: classes.filter(([k, v]) => v.name !== k).map(([k, v]) => k + ' -> ' + v.name), errors }));`,
    );
    const { count, renamed, errors } = JSON.parse(out) as { count: number; renamed: string[]; errors: [string, string][] };
    expect(count).toBeGreaterThan(20);
    expect(renamed).toEqual([]);
    expect(errors.length).toBeGreaterThan(10);
    for (const [name, instanceName] of errors) expect(instanceName, name).toBe(name);
  }, 60_000);
});
