import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { expect } from 'vitest';
import { Updater as TufJsUpdater } from 'tuf-js';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { Key } from '../../src/models/key.js';
import { Updater } from '../../src/index.js';
import { publicKeyFileText } from '../../src/repository/key-files.js';
import type { Repository } from '../../src/repository/repository.js';
import { cliPath } from '../helpers/client.js';

export { ensureBuilt } from '../helpers/client.js';
import { TestServer } from '../helpers/server.js';
export { TestServer };

const temps: string[] = [];

export async function tempDir(prefix = 'tufkit-repo-'): Promise<string> {
  const d = await mkdtemp(path.join(os.tmpdir(), prefix));
  temps.push(d);
  return d;
}

export async function removeTemps(): Promise<void> {
  await Promise.all(temps.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export function keyOf(s: InMemorySigner): Key {
  return Key.fromPublicJSON(s.publicKey);
}

/** Writes WORK/keys/NAME.pem (private) and WORK/keys/NAME.pub (public) for every signer. */
export async function writeKeyFiles(work: string, signers: Record<string, InMemorySigner>): Promise<void> {
  await mkdir(path.join(work, 'keys'), { recursive: true });
  for (const [n, s] of Object.entries(signers)) {
    await writeFile(path.join(work, 'keys', `${n}.pem`), s.toPem());
    await writeFile(path.join(work, 'keys', `${n}.pub`), publicKeyFileText(keyOf(s)));
  }
}

export function newSigner(type: 'ed25519' | 'ecdsa' = 'ed25519'): InMemorySigner {
  return InMemorySigner.generate(type);
}

/**
 * A digest of everything under `dir`: every folder and file (name, mode, contents), so a command
 * that left anything behind, even an empty folder or a temp file, changes it.
 */
export async function treeHash(dir: string): Promise<string> {
  const h = createHash('sha256');
  const visit = async (d: string, rel: string): Promise<void> => {
    const entries = (await readdir(d, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
    for (const e of entries) {
      const p = path.join(d, e.name);
      const r = `${rel}/${e.name}`;
      if (e.isDirectory()) {
        h.update(`D ${r}\n`);
        await visit(p, r);
      } else {
        h.update(`F ${r} ${createHash('sha256').update(await readFile(p)).digest('hex')}\n`);
      }
    }
  };
  await visit(dir, '');
  return h.digest('hex');
}

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `tufkit ARGS` (the built CLI) in `cwd`, with extra environment variables. */
export function tufkit(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: opts.cwd,
      env: { ...process.env, ...opts.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Like tufkit(), but the command must succeed. */
export async function ok(args: string[], opts: { cwd?: string; env?: Record<string, string> } = {}): Promise<string> {
  const r = await tufkit(args, opts);
  if (r.code !== 0) throw new Error(`tufkit ${args.join(' ')} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
}

/** A client that trusts `rootBytes` and fetches from `server`: tuf-js or tufkit's own Updater. */
export interface ClientUnderTest {
  name: string;
  metadataDir: string;
  refresh(): Promise<void>;
  /** Downloads target `targetPath`; returns the bytes written. */
  download(targetPath: string): Promise<Buffer>;
}

async function clientDirs(rootBytes: Uint8Array): Promise<{ metadataDir: string; targetDir: string }> {
  const base = await tempDir('tufkit-repo-client-');
  const metadataDir = path.join(base, 'metadata');
  const targetDir = path.join(base, 'targets');
  const { mkdir, writeFile } = await import('node:fs/promises');
  await mkdir(metadataDir);
  await mkdir(targetDir);
  await writeFile(path.join(metadataDir, 'root.json'), rootBytes);
  return { metadataDir, targetDir };
}

export async function tufJsClient(rootBytes: Uint8Array, metadataUrl: string, targetsUrl: string): Promise<ClientUnderTest> {
  const dirs = await clientDirs(rootBytes);
  // A tuf-js Updater refreshes once; a later refresh is a new Updater over the same metadata dir.
  const make = (): TufJsUpdater => new TufJsUpdater({ ...dirs, metadataBaseUrl: metadataUrl, targetBaseUrl: targetsUrl, config: { fetchRetries: 0 } });
  let u = make();
  return {
    name: 'tuf-js',
    metadataDir: dirs.metadataDir,
    async refresh() {
      u = make();
      await u.refresh();
    },
    async download(targetPath) {
      const info = await u.getTargetInfo(targetPath);
      if (!info) throw new Error(`tuf-js: no target ${targetPath}`);
      return readFile(await u.downloadTarget(info, path.join(dirs.targetDir, createHash('sha256').update(targetPath).digest('hex'))));
    },
  };
}

export async function tufkitClient(rootBytes: Uint8Array, metadataUrl: string, targetsUrl: string): Promise<ClientUnderTest> {
  const dirs = await clientDirs(rootBytes);
  const u = new Updater({ ...dirs, metadataBaseUrl: metadataUrl, targetBaseUrl: targetsUrl, config: { retries: 0 } });
  return {
    name: 'tufkit',
    metadataDir: dirs.metadataDir,
    refresh: async () => {
      await u.refresh();
    },
    async download(targetPath) {
      const info = await u.getTargetInfo(targetPath);
      if (!info) throw new Error(`tufkit: no target ${targetPath}`);
      return readFile(await u.downloadTarget(info));
    },
  };
}

/** Runs `tufkit args` in `work` and checks it is refused with exit 1, one `tufkit: ` line matching `message`, nothing on stdout, and `work` unchanged. */
export async function expectRefusedInOneLine(work: string, args: string[], message: RegExp, env?: Record<string, string>): Promise<void> {
  const before = await treeHash(work);
  const r = await tufkit(args, { cwd: work, env });
  expect(r.code, r.stderr).toBe(1);
  const lines = r.stderr.trimEnd().split('\n');
  expect(lines, r.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^tufkit: /);
  expect(lines[0]).toMatch(message);
  expect(r.stdout).toBe('');
  expect(await treeHash(work)).toBe(before);
}

/** Writes `files` (path -> content) under `base`/files and adds them as targets of `repo`; the roles that list them. */
export async function addFileTargets(repo: Repository, base: string, files: Record<string, string>): Promise<string[]> {
  const inputs = await Promise.all(
    Object.entries(files).map(async ([p, content]) => {
      const file = path.join(base, 'files', p);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
      return { file, path: p };
    }),
  );
  return [...new Set((await repo.addTargets(inputs)).map((a) => a.role))];
}

/** Serves the published folder `out` on 127.0.0.1, with a tufkit and a tuf-js client trusting its root v1. */
export async function serveToClients(out: string): Promise<{ server: TestServer; root1: Uint8Array; clients: ClientUnderTest[] }> {
  const server = await TestServer.start(out);
  const root1 = await readFile(path.join(out, 'metadata/1.root.json'));
  const clients = [await tufkitClient(root1, server.metadataUrl, server.targetsUrl), await tufJsClient(root1, server.metadataUrl, server.targetsUrl)];
  return { server, root1, clients };
}
