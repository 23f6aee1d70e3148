import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cleanup, ensureBuilt, refreshArgs, runCli, setup, type Env } from '../helpers/client.js';
import { tamperSigned } from '../helpers/repo.js';

// `tufkit client status`: what the metadata dir trusts, from the cache alone, with an exit code for monitoring.

afterEach(cleanup);
beforeAll(ensureBuilt, 120_000);

async function refreshed(timestampExpires?: Date): Promise<Env> {
  const env = await setup({
    build: async (r) => {
      if (timestampExpires) r.timestamp.signed.expires = timestampExpires;
      await r.publish();
    },
  });
  const r = await runCli(refreshArgs(env));
  expect(r.code, r.stderr).toBe(0);
  return env;
}

function statusArgs(env: Env, ...rest: string[]): string[] {
  return ['client', '--metadata-dir', env.metadataDir, 'status', ...rest];
}

describe('tufkit client status', () => {
  it('prints the trusted versions and exits 0 while fresh; --json gives the same as one object', async () => {
    const env = await refreshed();
    const r = await runCli(statusArgs(env));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^last refresh: \d{4}-\d\d-\d\dT.*Z \(\d+ s ago\)$/m);
    expect(r.stdout).toContain(`timestamp: v${env.repo.timestamp.signed.version}, expires ${env.repo.timestamp.signed.expires.toISOString()}`);
    expect(r.stdout).toMatch(/^state: ok$/m);
    const j = await runCli(statusArgs(env, '--json'));
    expect(j.code, j.stderr).toBe(0);
    const st = JSON.parse(j.stdout) as { roles: Record<string, { version: number }>; expired: boolean; stale: boolean };
    expect(st.roles.snapshot!.version).toBe(env.repo.snapshot.signed.version);
    expect(st).toMatchObject({ expired: false, stale: false });
    expect(env.server.requests.filter((q) => q.logical.includes('timestamp'))).toHaveLength(1);
  });

  it('exits 2 when stale (--max-staleness) or expired', async () => {
    // One cache whose timestamp expires a few seconds from now, one that stays fresh: the staleness
    // checks never race the expiry, however slow the machine.
    const expiresAt = Math.ceil(Date.now() / 1000) * 1000 + 6000;
    const expiring = await refreshed(new Date(expiresAt));
    const env = await refreshed();
    await new Promise((r) => setTimeout(r, 1100));
    const stale = await runCli(statusArgs(env, '--max-staleness', '1'));
    expect(stale.code, stale.stderr).toBe(2);
    expect(stale.stdout).toMatch(/^state: stale$/m);
    expect((await runCli(statusArgs(env, '--max-staleness', '3600'))).code).toBe(0);
    await new Promise((r) => setTimeout(r, Math.max(0, expiresAt - Date.now() + 200)));
    const expired = await runCli(statusArgs(expiring));
    expect(expired.code, expired.stderr).toBe(2);
    expect(expired.stdout).toMatch(/^state: expired$/m);
    expect(expired.stdout).toMatch(/^earliest expiry: timestamp at /m);
  }, 30_000);

  it('exits 1 naming the role when the cache does not verify', async () => {
    const env = await refreshed();
    const file = path.join(env.metadataDir, 'snapshot.json');
    await writeFile(file, tamperSigned(await readFile(file), (s) => void (s.version = 42)));
    const r = await runCli(statusArgs(env));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/snapshot/);
  });
});
