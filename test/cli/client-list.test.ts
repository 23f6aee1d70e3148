import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ensureBuilt, runCli, setup, type Env } from '../helpers/client.js';
import { flipByte, sha256, utf8 } from '../helpers/repo.js';

// `tufkit client list`: the trusted targets through delegations, as Updater.listTargets finds them.

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

async function served(): Promise<Env> {
  const env = await setup({
    build: async (r) => {
      const tf = r.addTarget('app/1.0.0/app.tgz', utf8('one'));
      tf.unrecognized.custom = { version: '1.0.0' };
      await r.delegate('targets', 'nightly', { paths: ['nightly/*'] });
      r.addTarget('nightly/app.tgz', utf8('nightly'), 'nightly');
      r.addTarget('app/2.0.0/app.tgz', utf8('not trusted for it'), 'nightly');
    },
  });
  await env.repo.publish();
  return env;
}

function listArgs(env: Env, ...rest: string[]): string[] {
  return ['client', '--metadata-dir', env.metadataDir, '--metadata-url', env.server.metadataUrl, 'list', ...rest];
}

describe('tufkit client list', () => {
  it('prints every trusted target with its length, role and custom metadata', async () => {
    const env = await served();
    const r = await runCli(listArgs(env));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual(['app/1.0.0/app.tgz\t3\ttargets\t{"version":"1.0.0"}', 'nightly/app.tgz\t7\tnightly']);
    expect(r.stderr).toMatch(/2 trusted targets/);
  });

  it('filters by --prefix and --pattern and prints JSON lines with --json', async () => {
    const env = await served();
    const r = await runCli(listArgs(env, '--prefix', 'app/', '--json'));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').map((l) => JSON.parse(l) as unknown)).toEqual([
      { path: 'app/1.0.0/app.tgz', length: 3, hashes: { sha256: sha256(utf8('one')) }, custom: { version: '1.0.0' }, role: 'targets' },
    ]);
    const p = await runCli(listArgs(env, '--pattern', '*/app.tgz'));
    expect(p.code, p.stderr).toBe(0);
    expect(p.stdout).toBe('nightly/app.tgz\t7\tnightly\n');
  });

  it('exits 1 naming the role when a delegated role was tampered with', async () => {
    const env = await served();
    const bytes = env.repo.bytesOf('nightly');
    env.server.override(`/metadata/${env.repo.metadataFile('nightly')}`, { body: flipByte(bytes, bytes.length - 5) });
    const r = await runCli(listArgs(env));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/LengthOrHashMismatchError: role "nightly"/);
  });
});
