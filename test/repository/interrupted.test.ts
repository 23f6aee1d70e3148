import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cp, mkdir, mkdtemp, readdir, readFile, rm, stat, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Metadata } from '../../src/models/metadata.js';
import { ABANDONED_PUBLISH_MS } from '../../src/repository/publish.js';
import { BlobStore } from '../../src/repository/blob-store.js';
import type { Targets } from '../../src/models/targets.js';
import { cliPath } from '../helpers/client.js';
import { ensureBuilt, ok, removeTemps, tempDir } from './helpers.js';

// Commands killed while writing (SIGKILL: no cleanup of their own) leave temp files; the next
// command on the repository, or the next publish into the folder, removes them, but never those
// of a command that is still running (stopped with SIGSTOP here while the next one runs).

let work: string;
/** On another file system (tmpfs) than `work`: publish copies there (on one, it hard-links and leaves no temp files). */
let otherFs: string;
const running: ChildProcess[] = [];

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir('tufkit-interrupted-');
  otherFs = await mkdtemp('/dev/shm/tufkit-interrupted-');
  await mkdir(path.join(work, 'keys'));
  await ok(['key', 'generate', '--type', 'ed25519', '--out', 'keys/k.pem'], { cwd: work });
  await ok(['repo', 'init', 'repo', '--root-key', 'keys/k.pem', '--targets-key', 'keys/k.pem', '--snapshot-key', 'keys/k.pem', '--timestamp-key', 'keys/k.pem'], { cwd: work });
  await writeFile(path.join(work, 'small.txt'), 'small\n');
}, 30_000);

afterAll(async () => {
  for (const c of running) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await removeTemps();
  await rm(otherFs, { recursive: true, force: true });
});

function start(args: string[]): { child: ChildProcess; done: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: work, stdio: ['ignore', 'ignore', 'pipe'] });
  running.push(child);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
  return { child, done };
}

/** Every tufkit temp file under `dir`, relative to it. */
async function tempFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  const visit = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await visit(p);
      else if (e.name.startsWith('.tufkit-tmp-')) out.push(path.relative(dir, p));
    }
  };
  await visit(dir);
  return out.sort();
}

/** Waits until a temp file with some bytes in it appears under `dir` (the command is mid-write). */
async function midWrite(dir: string, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.then(() => (finished = true));
  for (;;) {
    for (const t of await tempFiles(dir)) {
      if (((await stat(path.join(dir, t)).catch(() => undefined))?.size ?? 0) > 0) return;
    }
    if (finished) throw new Error(`the command finished before a temp file was seen in ${dir}`);
    await sleep(5);
  }
}

function sha256Hex(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Waits until `ready()` holds, failing if the command finishes first. */
async function waitFor(ready: () => Promise<boolean>, done: Promise<unknown>): Promise<void> {
  let finished = false;
  void done.then(() => (finished = true));
  while (!(await ready())) {
    if (finished) throw new Error('the command finished first');
    await sleep(5);
  }
}

async function bigFile(name: string, mb: number, fill: number): Promise<void> {
  await writeFile(path.join(work, name), Buffer.alloc(mb << 20, fill));
}

describe('interrupted commands', { timeout: 120_000 }, () => {
  it('a killed `targets add` of a large file leaves a temp file that the next command removes', async () => {
    await bigFile('big1.bin', 64, 1);
    const add = start(['targets', 'add', 'repo', 'big1.bin']);
    await midWrite(path.join(work, 'repo'), add.done);
    add.child.kill('SIGKILL');
    expect((await add.done).signal).toBe('SIGKILL');
    expect(await tempFiles(path.join(work, 'repo'))).not.toEqual([]);

    await ok(['targets', 'add', 'repo', 'small.txt'], { cwd: work });
    expect(await tempFiles(path.join(work, 'repo'))).toEqual([]);
    await expect(stat(path.join(work, 'repo/.tufkit.lock'))).rejects.toThrow(/ENOENT/);
  });

  it('a `targets add` killed after storing some contents: the next command removes the contents no role lists', async () => {
    const orphan = Buffer.from('stored, then the command was killed\n');
    await writeFile(path.join(work, 'orphan.txt'), orphan);
    await bigFile('big4.bin', 64, 4);
    const blob = path.join(work, 'repo/blobs/sha256', sha256Hex(orphan).slice(0, 2), sha256Hex(orphan));
    const add = start(['targets', 'add', 'repo', 'orphan.txt', 'big4.bin']);
    await midWrite(path.join(work, 'repo'), add.done);
    await waitFor(() => stat(blob).then(() => true, () => false), add.done);
    add.child.kill('SIGKILL');
    expect((await add.done).signal).toBe('SIGKILL');
    const targets = (): Promise<Metadata> => readFile(path.join(work, 'repo/metadata/targets.json')).then((b) => Metadata.fromBytes(b, 'targets'));
    expect(((await targets()).signed as Targets).targets.has('orphan.txt')).toBe(false);
    expect((await stat(blob)).isFile()).toBe(true); // stored, but listed by no role

    await ok(['targets', 'add', 'repo', 'small.txt', '--path', 'small4.txt'], { cwd: work });
    await expect(stat(blob)).rejects.toThrow(/ENOENT/);
    await expect(stat(path.join(work, 'repo/blobs', BlobStore.JOURNAL))).rejects.toThrow(/ENOENT/);
    expect(((await targets()).signed as Targets).targets.has('small4.txt')).toBe(true);
  });

  it('contents a killed command stored that a role lists after all are kept', async () => {
    const listed = Buffer.from('listed by targets\n');
    await writeFile(path.join(work, 'listed.txt'), listed);
    await ok(['targets', 'add', 'repo', 'listed.txt'], { cwd: work });
    const hex = sha256Hex(listed);
    // As if a command had stored it and been killed before removing its journal.
    await writeFile(path.join(work, 'repo/blobs', BlobStore.JOURNAL), `${hex}\n`);
    await ok(['targets', 'add', 'repo', 'small.txt', '--path', 'small5.txt'], { cwd: work });
    expect((await stat(path.join(work, 'repo/blobs/sha256', hex.slice(0, 2), hex))).isFile()).toBe(true);
    await expect(stat(path.join(work, 'repo/blobs', BlobStore.JOURNAL))).rejects.toThrow(/ENOENT/);
  });

  it("the next command leaves a live `targets add`'s temp file alone (it waits for the lock)", async () => {
    await bigFile('big2.bin', 64, 2);
    const add = start(['targets', 'add', 'repo', 'big2.bin']);
    await midWrite(path.join(work, 'repo'), add.done);
    add.child.kill('SIGSTOP');
    const live = await tempFiles(path.join(work, 'repo'));
    const next = start(['targets', 'add', 'repo', 'small.txt', '--path', 'small2.txt']);
    await sleep(3000); // the second command has started and is waiting for the lock
    expect(await tempFiles(path.join(work, 'repo'))).toEqual(live);
    add.child.kill('SIGCONT');
    expect(await add.done).toMatchObject({ code: 0 });
    expect(await next.done).toMatchObject({ code: 0 });
    const targets = Metadata.fromBytes(await readFile(path.join(work, 'repo/metadata/targets.json')), 'targets');
    expect(targets.signed.targets.get('big2.bin')?.length).toBe(64 << 20);
    expect(targets.signed.targets.has('small2.txt')).toBe(true);
    expect(await tempFiles(path.join(work, 'repo'))).toEqual([]);
  });

  it('a killed `publish` of many targets leaves temp files in the served folder; a later publish removes them once abandoned', async () => {
    await mkdir(path.join(work, 'many'));
    for (let i = 0; i < 48; i++) await writeFile(path.join(work, 'many', `t${i}.bin`), Buffer.alloc(2 << 20, i));
    await ok(['targets', 'add', 'repo', 'many', '--path', 'many'], { cwd: work });
    await ok(['sign', 'repo', 'root', 'targets', '--key', 'keys/k.pem'], { cwd: work });
    await ok(['snapshot', 'repo', '--key', 'keys/k.pem'], { cwd: work });
    await ok(['timestamp', 'repo', '--key', 'keys/k.pem'], { cwd: work });

    const out = path.join(otherFs, 'pub');
    let left: string[] = [];
    for (let attempt = 0; left.length === 0 && attempt < 5; attempt++) {
      const publish = start(['publish', 'repo', '--out', out]);
      await midWrite(out, publish.done);
      publish.child.kill('SIGKILL');
      await publish.done;
      left = await tempFiles(out);
    }
    expect(left).not.toEqual([]);

    // Just killed: as far as a publish can tell, a live publish of another repository may own them.
    await ok(['publish', 'repo', '--out', out], { cwd: work });
    expect(await tempFiles(out)).toEqual(left);
    // Untouched for longer than a live publish ever pauses: abandoned.
    const then = new Date(Date.now() - ABANDONED_PUBLISH_MS - 60_000);
    for (const t of left) await utimes(path.join(out, t), then, then);
    await ok(['publish', 'repo', '--out', out], { cwd: work });
    expect(await tempFiles(out)).toEqual([]);
  });

  it("a publish from another repository into the same folder leaves a live publish's temp files alone", async () => {
    await cp(path.join(work, 'repo'), path.join(work, 'repo-copy'), { recursive: true });
    const out = path.join(otherFs, 'pub-shared');
    const first = start(['publish', 'repo', '--out', out]);
    await midWrite(out, first.done);
    first.child.kill('SIGSTOP');
    const live = await tempFiles(out);
    await ok(['publish', 'repo-copy', '--out', out], { cwd: work });
    expect(await tempFiles(out)).toEqual(live);
    first.child.kill('SIGCONT');
    expect(await first.done).toMatchObject({ code: 0 });
    expect(await tempFiles(out)).toEqual([]);
  });
});
