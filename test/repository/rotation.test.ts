import { existsSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UnsignedMetadataError } from '../../src/errors.js';
import { Metadata } from '../../src/models/metadata.js';
import { Repository } from '../../src/repository/repository.js';
import {
  type ClientUnderTest,
  ensureBuilt,
  keyOf,
  newSigner,
  ok,
  removeTemps,
  serveToClients,
  tempDir,
  TestServer,
  tufkit,
  writeKeyFiles,
} from './helpers.js';

// Root key rotation and threshold change through the CLI, followed by clients that trusted the
// first root (tuf-js and tufkit's Updater); then a rotation signed only by the new keys, which
// publish refuses and which clients refuse when it is served anyway.

let work: string;
let server: TestServer;
let clients: ClientUnderTest[];
const names = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'T', 'S', 'TS'] as const;
const signers = Object.fromEntries(names.map((n) => [n, newSigner(n === 'C' ? 'ecdsa' : 'ed25519')])) as Record<(typeof names)[number], ReturnType<typeof newSigner>>;

const run = (args: string[]): Promise<string> => ok(args, { cwd: work });
const repoDir = (): string => path.join(work, 'repo');
const pub = (): string => path.join(work, 'pub');

async function trustedRootVersion(c: ClientUnderTest): Promise<number> {
  return Metadata.fromBytes(await readFile(path.join(c.metadataDir, 'root.json')), 'root').signed.version;
}

interface RootStatus {
  version: number;
  signatures: { valid: string[]; threshold: number; complete: boolean; previous?: { version: number; valid: string[]; missing: string[]; threshold: number } };
}

async function rootStatus(): Promise<RootStatus> {
  const r = await tufkit(['status', 'repo', '--json'], { cwd: work });
  const st = JSON.parse(r.stdout) as { ready: boolean; roles: (RootStatus & { name: string })[] };
  expect(r.code, r.stderr).toBe(st.ready ? 0 : 1); // status exits 1 until the repository is ready to publish
  return st.roles.find((r) => r.name === 'root')!;
}

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir();
  await writeKeyFiles(work, Object.fromEntries(names.map((n) => [n, signers[n]])));
  await writeFile(path.join(work, 'a.txt'), 'first target\n');
  // Root version 1 (A and B, 2 of 2) is set up with the library; the rotation goes through the CLI.
  const repo = await Repository.init(repoDir(), {
    roles: {
      root: { keys: [keyOf(signers.A), keyOf(signers.B)], threshold: 2 },
      targets: { keys: [keyOf(signers.T)] },
      snapshot: { keys: [keyOf(signers.S)] },
      timestamp: { keys: [keyOf(signers.TS)] },
    },
  });
  await repo.sign('root', signers.A);
  await repo.sign('root', signers.B);
  await repo.addTargets([{ file: path.join(work, 'a.txt'), path: 'a.txt' }]);
  await repo.sign('targets', signers.T);
  await repo.updateSnapshot(signers.S);
  await repo.updateTimestamp(signers.TS);
  await repo.publish(pub());
  ({ server, clients } = await serveToClients(pub()));
  for (const c of clients) {
    await c.refresh();
    expect(await c.download('a.txt')).toEqual(Buffer.from('first target\n'));
  }
}, 30_000);

afterAll(async () => {
  await server?.close();
  await removeTemps();
});

describe('root rotation through the CLI', { timeout: 20_000 }, () => {
  it('rotates root keys: version 2 needs a threshold of the old keys AND of the new ones', async () => {
    await run(['root', 'add-key', 'repo', '--key', 'keys/C.pub', 'keys/D.pub']);
    await run(['root', 'remove-key', 'repo', '--key', 'keys/A.pub']); // same round: still version 2
    let s = await rootStatus();
    expect(s.version).toBe(2);
    expect(s.signatures.valid).toEqual([]);
    expect(s.signatures.previous).toMatchObject({ version: 1, threshold: 2, valid: [] });

    // A is only in version 1, C only in version 2, B in both.
    await run(['sign', 'repo', 'root', '--key', 'keys/C.pem']);
    await run(['sign', 'repo', 'root', '--key', 'keys/A.pem']);
    s = await rootStatus();
    expect(s.signatures.valid).toEqual([signers.C.keyid]);
    expect(s.signatures.previous!.valid).toEqual([signers.A.keyid]);
    expect(s.signatures.complete).toBe(false);
    const notReady = await tufkit(['status', 'repo'], { cwd: work });
    expect(notReady.code).toBe(1);
    const table = notReady.stdout;
    expect(table).toMatch(/^root +2 .* 1\/2 \+ v1 keys 1\/2 /m);
    expect(table).toContain(`root keys of version 1 (still to sign: ${signers.B.keyid.slice(0, 12)}…)`);
    const refused = await tufkit(['publish', 'repo', '--out', 'pub'], { cwd: work });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/^tufkit: UnsignedMetadataError: cannot publish: role "root" version 2/);

    await run(['sign', 'repo', 'root', '--key', 'keys/B.pem']);
    s = await rootStatus();
    expect(s.signatures.complete).toBe(true);
    await run(['publish', 'repo', '--out', 'pub']);
  });

  it('changes the root threshold in version 3, signed under version 2 rules', async () => {
    await run(['root', 'threshold', 'repo', '3']);
    for (const k of ['B', 'C', 'D']) await run(['sign', 'repo', 'root', '--key', `keys/${k}.pem`]);
    const s = await rootStatus();
    expect(s).toMatchObject({ version: 3, signatures: { threshold: 3, complete: true, previous: { version: 2, threshold: 2 } } });
    await run(['publish', 'repo', '--out', 'pub']);
  });

  it('clients that trusted version 1 walk to version 3 and keep downloading', async () => {
    for (const c of clients) {
      await c.refresh();
      expect(await trustedRootVersion(c), c.name).toBe(3);
      expect(await c.download('a.txt'), c.name).toEqual(Buffer.from('first target\n'));
    }
  });

  it('a release round bumps each edited role once; clients follow it', async () => {
    await writeFile(path.join(work, 'b.txt'), 'second target\n');
    await run(['targets', 'add', 'repo', 'b.txt']);
    await run(['targets', 'add', 'repo', 'b.txt', '--custom', '{"n":2}']);
    const targets = Metadata.fromBytes(await readFile(path.join(repoDir(), 'metadata/targets.json')), 'targets');
    expect(targets.signed.version).toBe(2);
    await run(['sign', 'repo', 'targets', '--key', 'keys/T.pem']);
    await run(['snapshot', 'repo', '--key', 'keys/S.pem']);
    await run(['timestamp', 'repo', '--key', 'keys/TS.pem']);
    await run(['publish', 'repo', '--out', 'pub']);
    for (const c of clients) {
      await c.refresh();
      expect(await c.download('b.txt'), c.name).toEqual(Buffer.from('second target\n'));
    }
  });

  it('a rotation signed only by the new keys is refused by publish, and by clients when served anyway', async () => {
    await run(['root', 'add-key', 'repo', '--key', 'keys/E.pub', 'keys/F.pub', 'keys/G.pub']);
    await run(['root', 'remove-key', 'repo', '--key', 'keys/B.pub', 'keys/C.pub', 'keys/D.pub', '--threshold', '2']);
    await run(['sign', 'repo', 'root', '--key', 'keys/E.pem']);
    await run(['sign', 'repo', 'root', '--key', 'keys/F.pem']);
    const s = await rootStatus();
    expect(s.version).toBe(4);
    expect(s.signatures.valid).toHaveLength(2);
    expect(s.signatures.previous).toMatchObject({ version: 3, valid: [] });
    expect(s.signatures.complete).toBe(false);

    const repo = await Repository.open(repoDir());
    await expect(repo.publish(pub())).rejects.toBeInstanceOf(UnsignedMetadataError);

    // Served anyway (a compromised or careless publisher): clients keep root version 3.
    await writeFile(path.join(pub(), 'metadata/4.root.json'), await readFile(path.join(repoDir(), 'metadata/root.json')));
    const [ours, tufjs] = clients as [ClientUnderTest, ClientUnderTest];
    await expect(ours.refresh()).rejects.toBeInstanceOf(UnsignedMetadataError);
    const e = await tufjs.refresh().then(() => undefined, (err: unknown) => err);
    expect((e as Error).constructor.name).toBe('UnsignedMetadataError'); // tuf-js's own class
    expect(String(e)).toMatch(/root was signed by 0\/3 keys/);
    for (const c of clients) expect(await trustedRootVersion(c), c.name).toBe(3);
  });
});

describe('delegated keys through the CLI', { timeout: 20_000 }, () => {
  it('adds and removes a delegated role\'s keys in one new version of its delegator, then removes the delegation', async () => {
    const targetsVersion = async (): Promise<number> => Metadata.fromBytes(await readFile(path.join(repoDir(), 'metadata/targets.json')), 'targets').signed.version;
    const v = await targetsVersion();
    await run(['delegate', 'repo', '--from', 'targets', '--to', 'dev', '--key', 'keys/E.pub', '--threshold', '1', '--paths', 'dev/*']);
    expect(await targetsVersion()).toBe(v + 1);
    const added = JSON.parse(await run(['delegate', 'add-key', 'repo', '--to', 'dev', '--key', 'keys/F.pub', '--threshold', '2', '--json'])) as { keyids: string[]; threshold: number };
    expect(added).toMatchObject({ keyids: [signers.E.keyid, signers.F.keyid], threshold: 2 });
    await run(['delegate', 'remove-key', 'repo', '--to', 'dev', '--keyid', signers.E.keyid, '--threshold', '1']);
    expect(await targetsVersion()).toBe(v + 1); // one round, one version
    const t = Metadata.fromBytes(await readFile(path.join(repoDir(), 'metadata/targets.json')), 'targets').signed;
    expect(t.delegations!.roles!.get('dev')!.keyids).toEqual([signers.F.keyid]);
    expect([...t.delegations!.keys.keys()]).toEqual([signers.F.keyid]);
    const removed = JSON.parse(await run(['delegate', 'remove', 'repo', '--from', 'targets', '--to', 'dev', '--json'])) as { removed: string[] };
    expect(removed.removed).toEqual(['dev']);
    expect(existsSync(path.join(repoDir(), 'metadata/dev.json'))).toBe(false);
  });
});
