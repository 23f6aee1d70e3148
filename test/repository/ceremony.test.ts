import { createHash, randomBytes } from 'node:crypto';
import { cp, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '../../src/models/metadata.js';
import { SuccinctRoles } from '../../src/models/role.js';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { publicKeyFileText } from '../../src/repository/key-files.js';
import { ensureBuilt, keyOf, newSigner, ok, removeTemps, tempDir, TestServer, tufJsClient, tufkit, tufkitClient, type ClientUnderTest } from './helpers.js';

// The end-to-end signing ceremony, entirely through the CLI: 2-of-3 root and targets keys
// held in separate folders (one encrypted), signing in turn (one holder on a copy of the folder,
// as on another machine), a delegation with its own key, 1,024 succinct hash bins, online
// snapshot and timestamp keys, publish; then tuf-js and tufkit's own Updater refresh over HTTP
// and download targets verified byte for byte. (Later release rounds: rotation.test.ts.)

let work: string;
let repo: string;
let pub: string;
let server: TestServer;
const PASS = { ROOT2_PASSPHRASE: 'correct horse battery staple' };
const files: Record<string, Buffer> = {
  'app/readme.txt': Buffer.from('tufkit ceremony\n'),
  'releases/tool-1.0.bin': randomBytes(1 << 20),
  'releases/tool-1.0.sig': randomBytes(300),
};

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir();
  repo = path.join(work, 'repo');
  pub = path.join(work, 'pub');
  // Every key holder has a folder of their own; nobody ever sees another's private key. Three
  // keys come from `tufkit key generate` (one encrypted); the rest are made in-process (faster).
  const gen = async (holder: string, type: string, env?: Record<string, string>): Promise<void> => {
    await mkdir(path.join(work, holder), { recursive: true });
    const args = ['key', 'generate', '--type', type, '--out', `${holder}/key.pem`];
    if (env) args.push('--passphrase-env', 'ROOT2_PASSPHRASE');
    await ok(args, { cwd: work, env });
  };
  const genInProcess = async (holder: string, type: 'ed25519' | 'ecdsa'): Promise<void> => {
    const s = newSigner(type);
    await mkdir(path.join(work, holder), { recursive: true });
    await writeFile(path.join(work, holder, 'key.pem'), s.toPem());
    await writeFile(path.join(work, holder, 'key.pem.pub'), publicKeyFileText(keyOf(s)));
  };
  await Promise.all([gen('root2', 'ecdsa', PASS), gen('targets2', 'ecdsa'), gen('bins', 'ed25519')]);
  for (const h of ['root1', 'root3', 'targets1', 'targets3', 'online/snapshot', 'online/timestamp']) await genInProcess(h, 'ed25519');
  await genInProcess('releases', 'ecdsa');
  await mkdir(path.join(work, 'dist/releases'), { recursive: true });
  await mkdir(path.join(work, 'dist/app'), { recursive: true });
  for (const [p, data] of Object.entries(files)) await writeFile(path.join(work, 'dist', p), data);
}, 30_000);

afterAll(async () => {
  await server?.close();
  await removeTemps();
});

const run = (args: string[], env?: Record<string, string>): Promise<string> => ok(args, { cwd: work, env });

async function statusJSON(): Promise<{ ready: boolean; roles: { name: string; version: number; signatures: { valid: string[]; missing: string[]; complete: boolean } }[] }> {
  const r = await tufkit(['status', 'repo', '--json'], { cwd: work });
  const status = JSON.parse(r.stdout) as Awaited<ReturnType<typeof statusJSON>>;
  expect(r.code, r.stderr).toBe(status.ready ? 0 : 1); // status exits 1 until the repository is ready to publish
  return status;
}

describe('signing ceremony through the CLI', { timeout: 20_000 }, () => {
  it('creates, signs in turn, delegates to 1,024 bins and publishes', async () => {
    await run([
      'repo', 'init', 'repo',
      '--root-key', 'root1/key.pem.pub', 'root2/key.pem.pub', 'root3/key.pem.pub', '--root-threshold', '2',
      '--targets-key', 'targets1/key.pem.pub', 'targets2/key.pem.pub', 'targets3/key.pem.pub', '--targets-threshold', '2',
      '--snapshot-key', 'online/snapshot/key.pem.pub', '--timestamp-key', 'online/timestamp/key.pem.pub',
    ]);

    // Root holder 1 signs; the status names who still has to.
    const rootBefore = canonicalBytes((JSON.parse(await readFile(path.join(repo, 'metadata/root.json'), 'utf8')) as { signed: unknown }).signed);
    await run(['sign', 'repo', 'root', '--key', 'root1/key.pem']);
    const st = await statusJSON();
    const rootStatus = st.roles.find((r) => r.name === 'root')!;
    expect(rootStatus.signatures.valid).toHaveLength(1);
    expect(rootStatus.signatures.missing).toHaveLength(2);
    expect(st.ready).toBe(false);
    const notReady = await tufkit(['status', 'repo'], { cwd: work });
    expect(notReady.code).toBe(1);
    const table = notReady.stdout;
    expect(table).toMatch(/root\s+1\s+.*1\/2/);

    // Root holder 2 signs on "another machine": a copy of the folder travels there and back.
    const machine2 = path.join(work, 'machine2');
    await cp(repo, path.join(machine2, 'repo'), { recursive: true });
    await ok(['sign', 'repo', 'root', '--key', path.join(work, 'root2/key.pem'), '--passphrase-env', 'ROOT2_PASSPHRASE'], { cwd: machine2, env: PASS });
    await rm(repo, { recursive: true });
    await cp(path.join(machine2, 'repo'), repo, { recursive: true });
    const root = Metadata.fromBytes(await readFile(path.join(repo, 'metadata/root.json')), 'root');
    expect(root.signatures.size).toBe(2);
    expect(Buffer.from(root.signedBytes())).toEqual(Buffer.from(rootBefore)); // signing never changes `signed`

    // A delegation with its own key, which delegates in turn to 1,024 hash bins.
    await run(['delegate', 'repo', '--from', 'targets', '--to', 'releases', '--key', 'releases/key.pem.pub', '--threshold', '1', '--paths', 'releases/*']);
    await run(['delegate', 'repo', '--from', 'releases', '--to', 'bins', '--key', 'bins/key.pem.pub', '--threshold', '1', '--bins', '1024']);
    const binFiles = (await readdir(path.join(repo, 'metadata'))).filter((f) => /^bins-[0-9a-f]{3}\.json$/.test(f));
    expect(binFiles).toHaveLength(1024);

    await run(['targets', 'add', 'repo', 'dist/app/readme.txt', '--path', 'app/readme.txt', '--custom', '{"channel":"stable"}']);
    const added = JSON.parse(await run(['targets', 'add', 'repo', 'dist/releases', '--path', 'releases', '--role', 'releases', '--json'])) as { path: string; role: string }[];
    const succinct = new SuccinctRoles([], 1, 10, 'bins');
    for (const a of added) expect(a.role).toBe(succinct.getRoleForTarget(a.path));

    // Targets holders 1 and 3 sign; the others sign their roles; the online keys finish.
    await run(['sign', 'repo', 'targets', '--key', 'targets1/key.pem']);
    await run(['sign', 'repo', 'targets', '--key', 'targets3/key.pem']);
    await run(['sign', 'repo', 'releases', '--key', 'releases/key.pem']);
    const signedBins = JSON.parse(await run(['sign', 'repo', 'bins-*', '--key', 'bins/key.pem', '--json'])) as unknown[];
    expect(signedBins).toHaveLength(1024);
    await run(['snapshot', 'repo', '--key', 'online/snapshot/key.pem']);
    await run(['timestamp', 'repo', '--key', 'online/timestamp/key.pem']);
    // publish checks every threshold, expiry and snapshot/timestamp entry before writing.
    await run(['publish', 'repo', '--out', 'pub']);
    const meta = await readdir(path.join(pub, 'metadata'));
    expect(meta).toEqual(expect.arrayContaining(['1.root.json', 'root.json', 'timestamp.json', '1.snapshot.json', '1.targets.json', '1.releases.json', '1.bins-000.json', '1.bins-3ff.json']));
    // Consistent snapshot: each target published under the sha256 of its own bytes.
    const published = ['releases/tool-1.0.bin', 'releases/tool-1.0.sig'].map((p) => [`${createHash('sha256').update(files[p]!).digest('hex')}.${path.basename(p)}`, files[p]!] as const);
    expect((await readdir(path.join(pub, 'targets/releases'))).sort()).toEqual(published.map(([name]) => name).sort());
    for (const [name, data] of published) expect((await readFile(path.join(pub, 'targets/releases', name))).equals(data), name).toBe(true);
  }, 60_000);

  const clients: [string, (root: Uint8Array, m: string, t: string) => Promise<ClientUnderTest>][] = [
    ['tuf-js', tufJsClient],
    ['tufkit', tufkitClient],
  ];

  it.each(clients)('%s refreshes from the published folder over HTTP and downloads verified targets', async (_name, make) => {
    server ??= await TestServer.start(pub);
    const client = await make(await readFile(path.join(pub, 'metadata/1.root.json')), server.metadataUrl, server.targetsUrl);
    await client.refresh();
    // Byte for byte (Buffer.equals: a deep toEqual over a megabyte takes seconds).
    for (const [p, data] of Object.entries(files)) expect((await client.download(p)).equals(data), p).toBe(true);
  }, 20_000);
});
