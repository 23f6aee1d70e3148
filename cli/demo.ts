import { createServer, type Server } from 'node:http';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { Command } from 'commander';
import { InMemorySigner, type Signer } from '../src/crypto/signer.js';
import { Updater } from '../src/client/updater.js';
import { TufError } from '../src/errors.js';
import {
  Key,
  Metadata,
  MetaFile,
  Root,
  Snapshot,
  TargetFile,
  Targets,
  Timestamp,
  TOP_LEVEL_ROLES,
  type AnySigned,
} from '../src/models/index.js';
import { action } from './run.js';

// `tufkit demo`: a small signed repository built with the library, served on 127.0.0.1, a client
// that updates from it, then attacks replayed against that client, each refused with its error.

const DAY = 86400_000;
const TARGET = 'hello/tufkit.txt';
const CONTENT = Buffer.from('Hello from a TUF repository, verified by tufkit.\n');

interface Repo {
  dir: string;
  signers: Record<(typeof TOP_LEVEL_ROLES)[number], Signer>;
  root: Metadata<Root>;
  targets: Metadata<Targets>;
  snapshot: Metadata<Snapshot>;
  timestamp: Metadata<Timestamp>;
}

async function put(dir: string, rel: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(join(dir, rel)), { recursive: true });
  await writeFile(join(dir, rel), bytes);
}

function metaFileOf(md: Metadata<AnySigned>): MetaFile {
  const bytes = md.toBytes();
  return new MetaFile(md.signed.version, bytes.length, TargetFile.fromData('', bytes).hashes);
}

/** Signs snapshot (over the current targets) and timestamp (over that snapshot) and publishes all three. */
async function publish(repo: Repo): Promise<void> {
  await repo.targets.sign(repo.signers.targets, false);
  repo.snapshot.signed.meta.set('targets.json', metaFileOf(repo.targets));
  await repo.snapshot.sign(repo.signers.snapshot, false);
  repo.timestamp.signed.snapshotMeta = metaFileOf(repo.snapshot);
  await repo.timestamp.sign(repo.signers.timestamp, false);
  await put(repo.dir, `metadata/${repo.targets.signed.version}.targets.json`, repo.targets.toBytes());
  await put(repo.dir, `metadata/${repo.snapshot.signed.version}.snapshot.json`, repo.snapshot.toBytes());
  await put(repo.dir, 'metadata/timestamp.json', repo.timestamp.toBytes());
}

async function createRepository(dir: string): Promise<Repo> {
  const signers = {
    root: InMemorySigner.generate('ed25519'),
    timestamp: InMemorySigner.generate('ed25519'),
    snapshot: InMemorySigner.generate('ecdsa'),
    targets: InMemorySigner.generate('ed25519'),
  };
  const expires = new Date(Date.now() + 30 * DAY);
  const root = new Metadata(new Root({ expires, consistentSnapshot: true }));
  for (const role of TOP_LEVEL_ROLES) root.signed.addKey(Key.fromPublicJSON(signers[role].publicKey), role);
  await root.sign(signers.root);
  await put(dir, 'metadata/1.root.json', root.toBytes());

  const info = TargetFile.fromData(TARGET, CONTENT, ['sha256', 'sha512']);
  const targets = new Metadata(new Targets({ expires, targets: new Map([[TARGET, info]]) }));
  await put(dir, `targets/hello/${info.hashes.sha256}.tufkit.txt`, CONTENT);
  const repo: Repo = {
    dir,
    signers,
    root,
    targets,
    snapshot: new Metadata(new Snapshot({ expires })),
    timestamp: new Metadata(new Timestamp({ expires: new Date(Date.now() + DAY) })),
  };
  await publish(repo);
  return repo;
}

/** Serves `dir`; `overrides` replaces a path's bytes (what a compromised mirror would do). */
function serve(dir: string, overrides: Map<string, Uint8Array>): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const override = overrides.get(path);
    const body = override ? Promise.resolve(override) : readFile(join(dir, path));
    body.then(
      (bytes) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes),
      () => res.writeHead(404).end(),
    );
  });
  return new Promise((resolve) =>
    server.listen(0, '127.0.0.1', () => {
      const addr = server.address();
      resolve({ server, url: `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}` });
    }),
  );
}

async function newClient(work: string, name: string, repo: Repo, url: string): Promise<Updater> {
  const metadataDir = join(work, name, 'metadata');
  await mkdir(metadataDir, { recursive: true });
  await writeFile(join(metadataDir, 'root.json'), await readFile(join(repo.dir, 'metadata/1.root.json')));
  return new Updater({
    metadataDir,
    metadataBaseUrl: `${url}/metadata`,
    targetDir: join(work, name, 'downloads'),
    targetBaseUrl: `${url}/targets`,
    config: { retries: 0, requestTimeoutMs: 5000 },
  });
}

async function update(client: Updater): Promise<string> {
  await client.refresh();
  const info = await client.getTargetInfo(TARGET);
  if (!info) throw new Error(`${TARGET} not found`);
  return client.downloadTarget(info);
}

export async function runDemo(log: (line: string) => void = (l) => process.stdout.write(`${l}\n`)): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'tufkit-demo-'));
  const overrides = new Map<string, Uint8Array>();
  const repo = await createRepository(join(work, 'repository'));
  const { server, url } = await serve(repo.dir, overrides);
  let failures = 0;
  try {
    log(`repository: ${repo.dir} (root, timestamp, snapshot, targets; consistent snapshots), served at ${url}`);
    const client = await newClient(work, 'client', repo, url);
    const path = await update(client);
    const trusted = client.trustedMetadata!;
    log(`client refreshed: root v${trusted.root.signed.version}, timestamp v${trusted.timestamp!.signed.version}, snapshot v${trusted.snapshot!.signed.version}, targets v${trusted.targets!.signed.version}`);
    log(`downloaded and verified ${TARGET} (${CONTENT.length} bytes, sha256 + sha512) -> ${path}`);

    // A new release, so that the client holds newer metadata than what attackers replay.
    const oldTimestamp = await readFile(join(repo.dir, 'metadata/timestamp.json'));
    const oldTargets = await readFile(join(repo.dir, 'metadata/1.targets.json'));
    repo.targets.signed.version++;
    repo.snapshot.signed.version++;
    repo.timestamp.signed.version++;
    await publish(repo);
    await update(client);
    log(`new release published and fetched: timestamp v${repo.timestamp.signed.version}, targets v${repo.targets.signed.version}`);
    log('attacks:');

    const attack = async (name: string, expected: string, setup: () => Promise<void> | void, clientName?: string): Promise<void> => {
      overrides.clear();
      await setup();
      const victim = clientName ? await newClient(work, clientName, repo, url) : client;
      try {
        await update(victim);
        failures++;
        log(`  FAIL ${name}: the client accepted it`);
      } catch (e) {
        const ok = e instanceof TufError && e.name === expected;
        if (!ok) failures++;
        log(`  ${ok ? 'refused' : 'FAIL'} ${name}: ${e instanceof Error ? `${e.name}: ${e.message}` : String(e)}`);
      }
    };

    await attack('rollback (an older, validly signed timestamp is served)', 'BadVersionError', () => {
      overrides.set('/metadata/timestamp.json', oldTimestamp);
    });
    await attack('indefinite freeze (a validly signed timestamp that has expired)', 'ExpiredMetadataError', async () => {
      const stale = Metadata.fromBytes(repo.timestamp.toBytes(), 'timestamp');
      stale.signed.version += 1;
      stale.signed.expires = new Date(Date.now() - DAY);
      await stale.sign(repo.signers.timestamp, false);
      overrides.set('/metadata/timestamp.json', stale.toBytes());
    });
    await attack('tampered target (the mirror serves other bytes)', 'LengthOrHashMismatchError', () => {
      const info = repo.targets.signed.targets.get(TARGET)!;
      const evil = Buffer.from(CONTENT);
      evil[0] ^= 0x20;
      overrides.set(`/targets/hello/${info.hashes.sha256}.tufkit.txt`, evil);
    }, 'fresh-client-1');
    await attack('mix-and-match (old targets metadata served under the new version)', 'LengthOrHashMismatchError', () => {
      overrides.set(`/metadata/${repo.targets.signed.version}.targets.json`, oldTargets);
    }, 'fresh-client-2');
    await attack('arbitrary software (metadata signed by a key root does not trust)', 'UnsignedMetadataError', async () => {
      const evil = Metadata.fromBytes(repo.timestamp.toBytes(), 'timestamp');
      evil.signed.version += 1;
      await evil.sign(InMemorySigner.generate('ed25519'), false);
      overrides.set('/metadata/timestamp.json', evil.toBytes());
    });
    log(failures === 0 ? 'every attack was refused' : `${failures} attack(s) NOT refused`);
  } finally {
    server.close();
    await rm(work, { recursive: true, force: true });
  }
  return failures;
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('build a signed demo repository, serve it on 127.0.0.1, update from it, and replay attacks')
    .action(
      action(async () => {
        if ((await runDemo()) > 0) process.exitCode = 1;
      }),
    );
}
