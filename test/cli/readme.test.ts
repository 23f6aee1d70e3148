import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, cliPath, ensureBuilt, repoRoot, startServer, tempDir } from '../helpers/client.js';

// The README's examples are part of the product: these tests run them as written, with only the
// server address (and, for the library example, where 'tufkit' resolves from) substituted.

const run = promisify(execFile);
const README_URL = 'http://127.0.0.1:8080';

function codeBlock(readme: string, heading: string, lang: string): string {
  const section = readme.slice(readme.indexOf(heading));
  const m = new RegExp('```' + lang + '\\n([\\s\\S]*?)```').exec(section);
  if (!m) throw new Error(`README has no ${lang} block after "${heading}"`);
  return m[1]!;
}

describe('README examples', () => {
  let work: string;
  let url: string;
  let readme: string;

  beforeAll(async () => {
    ensureBuilt();
    readme = await readFile(path.join(repoRoot, 'README.md'), 'utf8');
    work = await tempDir('tufkit-readme-');
    await mkdir(path.join(work, 'public'));
    // The server serves what the CLI example publishes: it reads files at request time.
    url = (await startServer(path.join(work, 'public'))).url;
  });
  afterAll(cleanup);

  it('the CLI example creates, signs and publishes a repository, and the client downloads the target', async () => {
    const script = codeBlock(readme, '## CLI', 'sh').replaceAll(README_URL, url);
    const prelude = `set -euo pipefail\ntufkit() { "${process.execPath}" "${cliPath}" "$@"; }\n`;
    await run('bash', ['-c', prelude + script], { cwd: work, timeout: 60_000 });
    const downloads = await readdir(path.join(work, 'downloads'));
    expect(downloads).toHaveLength(1);
    expect(await readFile(path.join(work, 'downloads', downloads[0]!), 'utf8')).toBe('hello\n');
  }, 90_000);

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
