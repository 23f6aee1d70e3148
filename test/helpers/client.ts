import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Updater } from '../../src/index.js';
import { Metadata, type Root, type Targets } from '../../src/models/index.js';
import { TestRepo, type RepoOptions } from './repo.js';
import { TestServer } from './server.js';
import { VECTORS_DIR } from './vectors.js';

// The client-side harness: temp folders, a served test repository, updaters that trust its
// first root, the CLI as a child process, and checks of what the client left on disk.

export type UpdaterOptions = ConstructorParameters<typeof Updater>[0];
export type UpdaterConfig = NonNullable<UpdaterOptions['config']>;

export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const cliPath = path.join(repoRoot, 'dist/cli/tufkit.js');
export const vectorsDir = VECTORS_DIR;

const cleanups: (() => Promise<void>)[] = [];

/** Removes every temp folder and stops every server created since the last call. */
export async function cleanup(): Promise<void> {
  while (cleanups.length) await cleanups.pop()!();
}

export async function tempDir(prefix = 'tufkit-client-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

export async function startServer(root: string): Promise<TestServer> {
  const server = await TestServer.start(root);
  cleanups.push(() => server.close());
  return server;
}

export interface Env {
  repo: TestRepo;
  server: TestServer;
  /** Holds only `client/` (below) so that anything escaping it shows up here. */
  base: string;
  /** Parent of metadataDir and targetDir. */
  clientDir: string;
  metadataDir: string;
  targetDir: string;
  /** An updater trusting the cache in metadataDir (root v1 at first), with test-friendly timeouts. */
  updater(config?: Partial<UpdaterConfig>, extra?: Partial<UpdaterOptions>): Updater;
}

/** Short timeouts so that attack tests end quickly; no retries so request logs stay exact. */
export const fastConfig: Partial<UpdaterConfig> = { retries: 0, requestTimeoutMs: 3000, idleTimeoutMs: 1000, lockTimeoutMs: 10_000 };

/**
 * A served test repository and a client cache that trusts its root v1. `build` runs on the
 * repository before the client is set up (it must publish what it changes).
 */
export async function setup(opts: RepoOptions & { build?: (repo: TestRepo) => Promise<void> } = {}): Promise<Env> {
  const repoDir = await tempDir('tufkit-repo-');
  const repo = await TestRepo.create(repoDir, opts);
  if (opts.build) await opts.build(repo);
  const server = await startServer(repoDir);
  const base = await tempDir('tufkit-cache-');
  const clientDir = path.join(base, 'client');
  const metadataDir = path.join(clientDir, 'metadata');
  const targetDir = path.join(clientDir, 'targets');
  await mkdir(metadataDir, { recursive: true });
  await mkdir(targetDir, { recursive: true });
  await writeFile(path.join(metadataDir, 'root.json'), repo.rootBytes(1));
  const env: Env = {
    repo,
    server,
    base,
    clientDir,
    metadataDir,
    targetDir,
    updater: (config = {}, extra = {}) =>
      new Updater({
        metadataDir,
        metadataBaseUrl: server.metadataUrl,
        targetDir,
        targetBaseUrl: server.targetsUrl,
        config: { ...fastConfig, ...config },
        ...extra,
      }),
  };
  return env;
}

/** Runs `fn` and returns what it threw (failing the test when it did not throw). */
export async function errorOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail, and it succeeded');
}

// ---- disk ------------------------------------------------------------------------------------

/** Every file and folder under `dir`, relative, sorted ("sub/" for folders). */
export async function listTree(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (rel: string): Promise<void> => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        out.push(`${p}/`);
        await walk(p);
      } else out.push(p);
    }
  };
  await walk('');
  return out.sort();
}

/** The *.json files of a metadata dir, by name. */
export async function jsonFiles(metadataDir: string): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const name of (await readdir(metadataDir)).sort()) {
    if (name.endsWith('.json')) out.set(name, await readFile(path.join(metadataDir, name)));
  }
  return out;
}

export async function readJSONVersion(file: string): Promise<number> {
  const j = JSON.parse(await readFile(file, 'utf8')) as { signed: { version: number } };
  return j.signed.version;
}

/**
 * Checks that a metadata dir holds only trusted metadata: root.json is a root that chains from
 * `trustedRoot` (each version signed by its predecessor's and its own threshold), and every other
 * *.json is signed by the keys that the trusted metadata gives its role. Returns the roles found.
 */
export async function verifyMetadataDir(metadataDir: string, chain: Uint8Array[]): Promise<string[]> {
  const files = await jsonFiles(metadataDir);
  const rootBytes = files.get('root.json');
  if (!rootBytes) throw new Error('metadata dir has no root.json');
  const root = Metadata.fromBytes(rootBytes, 'root');
  // root.json must be byte for byte one of the published roots, and that root must chain.
  const v = root.signed.version;
  if (!chain[v - 1] || Buffer.compare(Buffer.from(chain[v - 1]!), Buffer.from(rootBytes)) !== 0) {
    throw new Error(`root.json (version ${v}) is not the published root ${v}`);
  }
  let trusted = Metadata.fromBytes(chain[0]!, 'root');
  trusted.verifyDelegate('root', trusted);
  for (let i = 2; i <= v; i++) {
    const next = Metadata.fromBytes(chain[i - 1]!, 'root');
    trusted.verifyDelegate('root', next);
    next.verifyDelegate('root', next);
    trusted = next;
  }
  const roles: string[] = ['root'];
  const targetsMds = new Map<string, Metadata<Targets>>();
  for (const [name, bytes] of files) {
    if (name === 'root.json') continue;
    const role = decodeURIComponent(name.slice(0, -'.json'.length));
    if (role === 'timestamp' || role === 'snapshot') {
      root.verifyDelegate(role, Metadata.fromBytes(bytes, role));
    } else if (role === 'targets') {
      const md = Metadata.fromBytes(bytes, 'targets');
      root.verifyDelegate('targets', md);
      targetsMds.set('targets', md);
    } else {
      targetsMds.set(role, Metadata.fromBytes(bytes, 'targets', role));
    }
    roles.push(role);
  }
  // Delegated roles: signed by some trusted delegator that delegates them.
  for (const [name, md] of targetsMds) {
    if (name === 'targets') continue;
    const delegators = [...targetsMds.entries()].filter(([, d]) => d.signed.delegations?.getRole(name));
    if (!delegators.some(([, d]) => d.verificationResult(name, md).verified)) {
      throw new Error(`${name}.json is not signed by any trusted delegator`);
    }
  }
  return roles.sort();
}

export function rootOf(bytes: Uint8Array): Metadata<Root> {
  return Metadata.fromBytes(bytes, 'root');
}

// ---- the CLI ---------------------------------------------------------------------------------

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

let built = false;

/**
 * Builds dist/ when a source file is newer than the compiled CLI (npm test builds first anyway).
 * Test files run in parallel workers: a lock folder keeps two builds from writing dist/ at once.
 */
export function ensureBuilt(): void {
  if (built) return;
  const lock = path.join(os.tmpdir(), 'tufkit-test-build.lock');
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      // A lock left by a killed test run is stale after a while.
      if (Date.now() - (statSync(lock, { throwIfNoEntry: false })?.mtimeMs ?? Date.now()) > 90_000) rmdirSync(lock);
      if (Date.now() > deadline) throw new Error(`cannot take ${lock}`);
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100);
    }
  }
  try {
    const stamp = existsSync(cliPath) ? statSync(cliPath).mtimeMs : 0;
    if (newestMtime([path.join(repoRoot, 'src'), path.join(repoRoot, 'cli')]) > stamp) {
      // Type errors elsewhere in the tree do not stop tsc from emitting: the tests then tell.
      spawnSync(process.execPath, [path.join(repoRoot, 'node_modules/typescript/bin/tsc'), '-p', path.join(repoRoot, 'tsconfig.json')], { stdio: 'ignore' });
    }
  } finally {
    rmdirSync(lock);
  }
  if (!existsSync(cliPath)) throw new Error(`${cliPath} is missing: run npx tsc -p tsconfig.json`);
  built = true;
}

function newestMtime(dirs: string[]): number {
  let newest = 0;
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (p.endsWith('.ts')) newest = Math.max(newest, statSync(p).mtimeMs);
    }
  };
  for (const d of dirs) if (existsSync(d)) walk(d);
  return newest;
}

/** Runs `tufkit args...` in a child process. */
export function runCli(args: string[], opts: { timeoutMs?: number } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 15_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

/** The CLI arguments for a refresh of `env`. */
export function refreshArgs(env: Env): string[] {
  return ['client', '--metadata-dir', env.metadataDir, '--metadata-url', env.server.metadataUrl, 'refresh'];
}

export function downloadArgs(env: Env, names: string[]): string[] {
  return [
    'client',
    '--metadata-dir',
    env.metadataDir,
    '--metadata-url',
    env.server.metadataUrl,
    ...names.flatMap((n) => ['--target-name', n]),
    '--target-base-url',
    env.server.targetsUrl,
    '--target-dir',
    env.targetDir,
    'download',
  ];
}
