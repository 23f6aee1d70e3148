import { spawn } from 'node:child_process';
import { cp, rm } from 'node:fs/promises';
import { cpus } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureBuilt } from '../helpers/client.js';

// `tufkit conformance run --client "tufkit client"` over every committed scenario. It is the
// slowest test of the suite: hundreds of client processes, each a fresh Node.js. Scenarios run
// concurrently; the slow-retrieval ones wait for the client's own timeouts (about 10 s) meanwhile.

const repoRoot = path.resolve(import.meta.dirname, '../..');
// The run takes minutes; a rebuild of dist/ meanwhile (another test file, another shell) would
// hand half-written modules to the clients it starts. They run from a private copy instead, under
// the repository so that node_modules resolves.
const copy = path.join(repoRoot, 'node_modules/.cache/tufkit-conformance', String(process.pid));
const cli = path.join(copy, 'dist/cli/tufkit.js');

interface Summary {
  passed: number;
  failed: number;
  results: { name: string; passed: boolean; reason?: string }[];
}

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += b.toString()));
    child.stderr.on('data', (b: Buffer) => (stderr += b.toString()));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  ensureBuilt();
  await cp(path.join(repoRoot, 'dist'), path.join(copy, 'dist'), { recursive: true });
}, 180_000);

afterAll(async () => {
  await rm(copy, { recursive: true, force: true });
});

describe('tufkit client against the conformance vectors', () => {
  it('passes every scenario, failing each attack for the expected reason', async () => {
    const jobs = String(Math.max(4, cpus().length * 2));
    const r = await run(['conformance', 'run', '--vectors', 'test-vectors', '--client', `node ${cli} client`, '--check-errors', '--jobs', jobs, '--json']);
    const summary = JSON.parse(r.stdout) as Summary;
    const failures = summary.results.filter((x) => !x.passed).map((x) => `${x.name}: ${x.reason}`);
    expect(failures).toEqual([]);
    expect(summary.passed).toBeGreaterThan(150);
    expect(r.code).toBe(0);
  }, 900_000);
});
