import { execFile } from 'node:child_process';
import { copyFile, mkdir, readdir, readFile, readlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, cliPath, ensureBuilt, repoRoot, startServer, tempDir } from '../helpers/client.js';

// examples/self-updater: the whole loop of an application updating itself, against a repository
// made with the tufkit CLI and served on 127.0.0.1: upgrades, attacks refused, a rollback.

const run = promisify(execFile);
const EXAMPLE = path.join(repoRoot, 'examples/self-updater/self-updater.mjs');

function appSource(version: string, startsOk = true): string {
  return [
    `const version = '${version}';`,
    `if (process.argv.includes('--self-test')) process.exit(${startsOk ? 0 : 1});`,
    'console.log(`app ${version}`);',
    '',
  ].join('\n');
}

describe('examples/self-updater', () => {
  let work: string;
  let url: string;
  const repo = (): string => path.join(work, 'repo');
  const install = (): string => path.join(work, 'install');

  async function tufkit(...args: string[]): Promise<void> {
    await run(process.execPath, [cliPath, ...args], { cwd: work, timeout: 30_000 });
  }

  /** Adds release `version` (for `platform`), signs and publishes the repository. */
  async function release(version: string, opts: { startsOk?: boolean; platform?: string } = {}): Promise<void> {
    const file = path.join(work, 'src', version, 'app.mjs');
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, appSource(version, opts.startsOk));
    const custom = JSON.stringify({ version, platform: opts.platform ?? process.platform });
    await tufkit('targets', 'add', repo(), file, '--path', `app/${version}/app.mjs`, '--custom', custom);
    await publish();
  }

  async function publish(): Promise<void> {
    await tufkit('sign', repo(), 'targets', '--key', 'targets.pem');
    await tufkit('snapshot', repo(), '--key', 'online.pem');
    await tufkit('timestamp', repo(), '--key', 'online.pem');
    await tufkit('publish', repo(), '--out', 'public');
  }

  /** Runs the self-updater; its exit code and stderr. */
  async function update(range = '*'): Promise<{ code: number; stderr: string }> {
    const args = [EXAMPLE, '--install', install(), '--metadata-url', `${url}/metadata`, '--targets-url', `${url}/targets`, '--range', range];
    try {
      const { stderr } = await run(process.execPath, args, { timeout: 60_000 });
      return { code: 0, stderr };
    } catch (e) {
      const err = e as { code: number; stderr: string };
      return { code: err.code, stderr: err.stderr };
    }
  }

  /** What the installed program prints, and where its links point. */
  async function installed(): Promise<{ runs: string; current: string; previous: string | undefined }> {
    const { stdout } = await run(process.execPath, [path.join(install(), 'current', 'app.mjs')]);
    const previous = await readlink(path.join(install(), 'previous')).catch(() => undefined);
    return { runs: stdout.trim(), current: await readlink(path.join(install(), 'current')), previous };
  }

  beforeAll(async () => {
    ensureBuilt();
    work = await tempDir('tufkit-self-updater-');
    await mkdir(path.join(work, 'public'));
    url = (await startServer(path.join(work, 'public'))).url;
    await tufkit('key', 'generate', '--type', 'ed25519', '--out', 'root.pem');
    await tufkit('key', 'generate', '--type', 'ed25519', '--out', 'targets.pem');
    await tufkit('key', 'generate', '--type', 'ecdsa', '--out', 'online.pem');
    await tufkit('repo', 'init', repo(), '--root-key', 'root.pem', '--targets-key', 'targets.pem', '--snapshot-key', 'online.pem', '--timestamp-key', 'online.pem');
    await tufkit('sign', repo(), 'root', '--key', 'root.pem');
    await release('1.0.0');
    await mkdir(path.join(install(), 'tuf'), { recursive: true });
    await copyFile(path.join(work, 'public/metadata/1.root.json'), path.join(install(), 'tuf/root.json'));
  }, 120_000);
  afterAll(cleanup);

  it('installs, then upgrades within its range and for its platform only, keeping the previous release', async () => {
    expect((await update()).code).toBe(0);
    expect(await installed()).toEqual({ runs: 'app 1.0.0', current: 'releases/1.0.0', previous: undefined });
    await release('1.1.0');
    await release('2.0.0');
    await release('1.5.0', { platform: 'plan9' });
    const r = await update('^1');
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/downloading app\/1\.1\.0\/app\.mjs: 100%/);
    expect(await installed()).toEqual({ runs: 'app 1.1.0', current: 'releases/1.1.0', previous: 'releases/1.0.0' });
    expect((await update('^1')).stderr).toMatch(/up to date \(1\.1\.0/);
  }, 120_000);

  it('refuses a tampered release and a rolled-back timestamp, and keeps running the current release', async () => {
    const oldTimestamp = await readFile(path.join(work, 'public/metadata/timestamp.json'));
    await release('1.2.0');
    const dir = path.join(work, 'public/targets/app/1.2.0');
    const [served] = await readdir(dir);
    const genuine = await readFile(path.join(dir, served!));
    const evil = Buffer.from(genuine.toString('utf8').replace("process.exit(0)", "process.exit(7)"));
    expect(evil.length).toBe(genuine.length);
    await writeFile(path.join(dir, served!), evil);
    const tampered = await update('^1');
    expect(tampered.code).toBe(1);
    expect(tampered.stderr).toMatch(/LengthOrHashMismatchError: target "app\/1\.2\.0\/app\.mjs"/);
    expect(await installed()).toMatchObject({ runs: 'app 1.1.0', current: 'releases/1.1.0' });

    await writeFile(path.join(dir, served!), genuine);
    const newTimestamp = await readFile(path.join(work, 'public/metadata/timestamp.json'));
    await writeFile(path.join(work, 'public/metadata/timestamp.json'), oldTimestamp);
    const rolledBack = await update('^1');
    expect(rolledBack.code).toBe(1);
    expect(rolledBack.stderr).toMatch(/BadVersionError: role "timestamp"/);
    expect(await installed()).toMatchObject({ runs: 'app 1.1.0', current: 'releases/1.1.0' });

    await writeFile(path.join(work, 'public/metadata/timestamp.json'), newTimestamp);
    expect((await update('^1')).code).toBe(0);
    expect(await installed()).toEqual({ runs: 'app 1.2.0', current: 'releases/1.2.0', previous: 'releases/1.1.0' });
  }, 120_000);

  it('rolls back to the previous release when the new one does not start, and does not retry it', async () => {
    await release('1.3.0', { startsOk: false });
    const r = await update('^1');
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(/release 1\.3\.0 does not start: rolled back to 1\.2\.0/);
    expect(await installed()).toMatchObject({ runs: 'app 1.2.0', current: 'releases/1.2.0' });
    const again = await update('^1');
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/release 1\.3\.0 did not start before/);
    expect((await installed()).runs).toBe('app 1.2.0');
  }, 120_000);
});
