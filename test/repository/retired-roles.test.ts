import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BadVersionError } from '../../src/errors.js';
import { Metadata } from '../../src/models/metadata.js';
import type { Snapshot } from '../../src/models/snapshot.js';
import { Repository } from '../../src/repository/repository.js';
import {
  type ClientUnderTest,
  ensureBuilt,
  newSigner,
  ok,
  removeTemps,
  serveToClients,
  tempDir,
  TestServer,
  writeKeyFiles,
} from './helpers.js';

// Spec 5.5.5: every targets role a client's trusted snapshot lists must stay listed in the next
// one. A removed delegation's role therefore stays in snapshot.json at its last version (its file
// is gone, so without length or hashes); clients that saw it before follow the release, and the
// removed role's targets are gone for them. Through the CLI, served over HTTP on 127.0.0.1.

let work: string;
let server: TestServer;
let clients: ClientUnderTest[];
const names = ['R', 'T', 'S', 'D'] as const;
const signers = Object.fromEntries(names.map((n) => [n, newSigner()])) as Record<(typeof names)[number], ReturnType<typeof newSigner>>;

const run = (...args: string[]): Promise<string> => ok(args, { cwd: work });

async function release(...roles: string[]): Promise<void> {
  for (const r of roles) await run('sign', 'repo', r, '--key', r === 'targets' ? 'keys/T.pem' : 'keys/D.pem');
  await run('snapshot', 'repo', '--key', 'keys/S.pem');
  await run('timestamp', 'repo', '--key', 'keys/S.pem');
  await run('publish', 'repo', '--out', 'pub');
}

async function snapshotMeta(): Promise<Record<string, { version: number; length?: number; hashes?: unknown }>> {
  const md = Metadata.fromBytes(await readFile(path.join(work, 'repo/metadata/snapshot.json')), 'snapshot') as Metadata<Snapshot>;
  return Object.fromEntries([...md.signed.meta].map(([file, m]) => [file, { version: m.version, length: m.length, hashes: m.hashes }]));
}

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir();
  await writeKeyFiles(work, Object.fromEntries(names.map((n) => [n, signers[n]])));
  await writeFile(path.join(work, 'a.txt'), 'top-level target\n');
  await writeFile(path.join(work, 'team.txt'), 'team target, version 1\n');
  await run('repo', 'init', 'repo', '--root-key', 'keys/R.pub', '--targets-key', 'keys/T.pub', '--snapshot-key', 'keys/S.pub', '--timestamp-key', 'keys/S.pub');
  await run('sign', 'repo', 'root', '--key', 'keys/R.pem');
  await run('targets', 'add', 'repo', 'a.txt', '--path', 'a.txt');
  await run('delegate', 'add', 'repo', '--from', 'targets', '--to', 'team', '--key', 'keys/D.pub', '--paths', 'team/*');
  await run('targets', 'add', 'repo', 'team.txt', '--path', 'team/x.txt', '--role', 'team');
  // A second edit of team in a new version: the version it retires at is above 1.
  await release('targets', 'team');
  await run('targets', 'add', 'repo', 'a.txt', '--path', 'team/y.txt', '--role', 'team');
  await release('team');
  ({ server, clients } = await serveToClients(path.join(work, 'pub')));
  for (const c of clients) {
    await c.refresh();
    expect(await c.download('team/x.txt')).toEqual(Buffer.from('team target, version 1\n'));
  }
}, 60_000);

afterAll(async () => {
  await server?.close();
  await removeTemps();
});

describe('removed delegations stay listed in snapshot', { timeout: 30_000 }, () => {
  it('clients that trusted the removed role follow the release, and its targets are gone', async () => {
    expect((await snapshotMeta())['team.json']?.version).toBe(2);
    await run('delegate', 'remove', 'repo', '--from', 'targets', '--to', 'team');
    await release('targets');
    // Without the retired entry tufkit's client refuses this snapshot with BadVersionError ("team.json
    // was listed before and is missing now"), and so does tuf-js: every such client is stuck for good.
    for (const c of clients) {
      await c.refresh();
      await expect(c.download('team/x.txt'), c.name).rejects.toThrow(/no target team\/x\.txt/);
      expect(await c.download('a.txt'), c.name).toEqual(Buffer.from('top-level target\n'));
    }
    // Listed at its last version, without length or hashes: there is no file to describe.
    expect((await snapshotMeta())['team.json']).toEqual({ version: 2, length: undefined, hashes: undefined });
    const status = JSON.parse(await run('status', 'repo', '--json')) as { ready: boolean };
    expect(status.ready).toBe(true);
  });

  it('a role delegated again under the removed name starts above its last version', async () => {
    await writeFile(path.join(work, 'team2.txt'), 'team target, second life\n');
    await run('delegate', 'add', 'repo', '--from', 'targets', '--to', 'team', '--key', 'keys/D.pub', '--paths', 'team/*');
    await run('targets', 'add', 'repo', 'team2.txt', '--path', 'team/x.txt', '--role', 'team');
    await release('targets', 'team');
    const meta = (await snapshotMeta())['team.json']!;
    expect(meta.version).toBe(3);
    expect(meta.length).toBe((await readFile(path.join(work, 'repo/metadata/team.json'))).length);
    for (const c of clients) {
      await c.refresh();
      expect(await c.download('team/x.txt'), c.name).toEqual(Buffer.from('team target, second life\n'));
    }
  });

  it('publish refuses a snapshot that drops a removed role', async () => {
    await run('delegate', 'remove', 'repo', '--from', 'targets', '--to', 'team');
    await release('targets');
    const repo = await Repository.open(path.join(work, 'repo'));
    expect((await snapshotMeta())['team.json']).toEqual({ version: 3, length: undefined, hashes: undefined });
    // A new snapshot made without the retired entry (as tufkit did before), signed and timestamped.
    await repo.updateSnapshot();
    const file = path.join(work, 'repo/metadata/snapshot.json');
    const md = Metadata.fromBytes(await readFile(file), 'snapshot') as Metadata<Snapshot>;
    md.signed.meta.delete('team.json');
    md.signatures.clear();
    await writeFile(file, md.toBytes());
    await repo.sign('snapshot', signers.S);
    await repo.updateTimestamp(signers.S);
    const refused = repo.publish(path.join(work, 'pub'));
    await expect(refused).rejects.toThrow(BadVersionError);
    await expect(refused).rejects.toThrow(/snapshot version \d+ does not list team\.json, the removed role/);
    // tufkit snapshot lists it again.
    await repo.updateSnapshot(signers.S);
    await repo.updateTimestamp(signers.S);
    await repo.publish(path.join(work, 'pub'));
    for (const c of clients) await c.refresh();
  });
});
