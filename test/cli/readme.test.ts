import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ensureBuilt, repoRoot, startServer, tempDir } from '../helpers/client.js';

// The README's examples are part of the product: these tests run them as written, with only the
// server address (and, for the library example, where 'tufkit' resolves from) substituted. The
// CLI example runs in a stand-in for a fresh clone after the README's set-up command.

const run = promisify(execFile);
const README_URL = 'http://127.0.0.1:8080';

function codeBlock(readme: string, heading: string, lang: string): string {
  const section = readme.slice(readme.indexOf(heading));
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  if (!m) throw new Error(`README has no ${lang} block after "${heading}"`);
  return m[1]!;
}

/**
 * A clone after `npm ci`, as npx sees it: the package.json, the built dist/ and node_modules
 * (symlinked from this checkout, so the commands run the code under test).
 */
async function cloneAfterNpmCi(dir: string): Promise<void> {
  for (const name of ['package.json', 'dist', 'node_modules']) await symlink(path.join(repoRoot, name), path.join(dir, name));
}

describe('README examples', () => {
  let clone: string;
  let work: string;
  let url: string;
  let readme: string;

  beforeAll(async () => {
    ensureBuilt();
    readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    clone = await tempDir('tufkit-readme-');
    await cloneAfterNpmCi(clone);
    work = path.join(clone, 'example'); // where the CLI example says to work
    await mkdir(path.join(work, 'public'), { recursive: true });
    // The server serves what the CLI example publishes: it reads files at request time.
    url = (await startServer(path.join(work, 'public'))).url;
  });
  afterAll(cleanup);

  it('the CLI example runs as written (npx tufkit) in a clone: it creates, signs and publishes a repository, and the client downloads the target', async () => {
    const script = codeBlock(readme, '## CLI', 'sh').replaceAll(README_URL, url);
    // No shell function or alias: `tufkit` must resolve the way the README tells a user. npm
    // gets its own cache (npx links the clone's package there) and stays off the network; its
    // `prepare` rebuild on that first link is skipped (dist/ is built, as npm ci left it).
    const home = await tempDir('tufkit-readme-home-');
    const env = {
      ...process.env,
      HOME: home,
      npm_config_cache: path.join(home, 'npm-cache'),
      npm_config_update_notifier: 'false',
      npm_config_offline: 'true',
      npm_config_ignore_scripts: 'true',
    };
    await run('bash', ['-c', `set -euo pipefail\n${script}`], { cwd: clone, env, timeout: 280_000 }).catch((e: Error & { stderr?: string }) => {
      throw new Error(`${e.message}\nstderr:\n${e.stderr}`);
    });
    const downloads = await readdir(path.join(work, 'downloads'));
    expect(downloads).toHaveLength(1);
    expect(await readFile(path.join(work, 'downloads', downloads[0]!), 'utf8')).toBe('hello\n');
  }, 300_000);

  it('the library example refreshes and downloads the verified target from that repository', async () => {
    const index = pathToFileURL(path.join(repoRoot, 'dist/src/index.js')).href;
    const example = codeBlock(readme, '## Library', 'js').replaceAll(README_URL, url).replace(`from 'tufkit'`, `from '${index}'`);
    const dir = path.join(work, 'library');
    await mkdir(path.join(dir, 'tuf-metadata'), { recursive: true });
    await copyFile(path.join(work, 'public/metadata/1.root.json'), path.join(dir, 'tuf-metadata/root.json'));
    await writeFile(path.join(dir, 'example.mjs'), example);
    const { stdout } = await run(process.execPath, ['example.mjs'], { cwd: dir, timeout: 30_000 });
    expect(stdout).toMatch(/^verified greetings\/hello\.txt \(6 bytes\) at /);
  }, 60_000);
});
