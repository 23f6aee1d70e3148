import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Signer } from '../../src/crypto/signer.js';
import { Key } from '../../src/models/key.js';
import { Repository } from '../../src/repository/repository.js';
import { KEY_ALIASES } from '../helpers/key-aliases.js';
import { ensureBuilt, keyOf, newSigner, removeTemps, tempDir, tufkit } from './helpers.js';

// The repository tools count a threshold as the client does: one key under two keyids is one key.

const ROOT = newSigner();
const ONLINE = newSigner();

beforeAll(() => ensureBuilt());
afterAll(removeTemps);

const keyFor = (s: Signer): Key => Key.fromPublicJSON(s.publicKey);

/** A repository whose targets role has keys `a` and `b` with threshold 2, targets signed by both. */
async function repoWithTargetsKeys(a: Signer, b: Signer): Promise<{ repo: Repository; dir: string }> {
  const dir = path.join(await tempDir(), 'repo');
  const repo = await Repository.init(dir, {
    roles: {
      root: { keys: [keyOf(ROOT)] },
      targets: { keys: [keyFor(a), keyFor(b)], threshold: 2 },
      snapshot: { keys: [keyOf(ONLINE)] },
      timestamp: { keys: [keyOf(ONLINE)] },
    },
  });
  await repo.sign('targets', a);
  await repo.sign('targets', b);
  return { repo, dir };
}

interface StatusJSON {
  roles: { name: string; signatures: { valid: string[]; missing: string[]; threshold: number; verified: boolean } }[];
  problems: { role: string; message: string }[];
}

async function cliTargetsStatus(dir: string): Promise<StatusJSON['roles'][number]['signatures']> {
  const r = await tufkit(['status', dir, '--json']);
  expect(r.stderr).toBe('');
  const status = JSON.parse(r.stdout) as StatusJSON;
  return status.roles.find((x) => x.name === 'targets')!.signatures;
}

describe('one key under two keyids counts once (repository status)', () => {
  it.each(KEY_ALIASES.map((a) => [a.name, a] as const))('the %s signs targets once, not twice', async (_name, a) => {
    const key = a.make();
    const alias = a.alias(key);
    expect(alias.keyid).not.toBe(key.keyid);
    const { repo, dir } = await repoWithTargetsKeys(key, alias);

    const status = await repo.signatureStatus('targets');
    expect(status.valid).toEqual([key.keyid]);
    expect(status.missing).toEqual([alias.keyid]);
    expect(status.verified).toBe(false);
    expect(status.complete).toBe(false);

    const cli = await cliTargetsStatus(dir);
    expect(cli.valid).toEqual([key.keyid]);
    expect(cli.verified).toBe(false);
    const full = await repo.status();
    expect(full.problems.some((p) => p.role === 'targets' && /1 of 2 needed signature/.test(p.message))).toBe(true);
  });

  it.each(KEY_ALIASES.map((a) => [a.name, a] as const))('two distinct keys still reach 2 (%s)', async (_name, a) => {
    const [k1, k2] = [a.make(), a.make()];
    const { repo, dir } = await repoWithTargetsKeys(k1, k2);
    const status = await repo.signatureStatus('targets');
    expect(status.valid).toEqual([k1.keyid, k2.keyid]);
    expect(status.verified).toBe(true);
    expect((await cliTargetsStatus(dir)).verified).toBe(true);
  });
});
