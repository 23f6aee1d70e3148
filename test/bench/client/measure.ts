import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GeneratedRepo } from './generate.js';
import type { RunnerInput, RunnerOutput } from './runner.js';

const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));

export type Measurement =
  | ({ ok: true; processMs: number } & RunnerOutput)
  | { ok: false; processMs: number; timedOut: boolean; error: string };

/**
 * Runs `client` through the flow on `repo` in a fresh Node process, trusting root v1 from an
 * otherwise empty metadata dir. `processMs` is spawn to exit, measured here; the rest comes from
 * inside the child. A child still running after `timeoutMs` is killed (timedOut).
 */
export async function measure(
  client: RunnerInput['client'],
  repo: GeneratedRepo,
  serverUrl: string,
  workDir: string,
  timeoutMs: number,
): Promise<Measurement> {
  const dir = await mkdtemp(join(workDir, `${client}-${repo.spec.name}-`));
  const metadataDir = join(dir, 'metadata');
  await mkdir(metadataDir);
  await copyFile(repo.rootFile, join(metadataDir, 'root.json'));
  const input: RunnerInput = {
    client,
    metadataDir,
    metadataBaseUrl: `${serverUrl}/${repo.spec.name}/metadata`,
    targetBaseUrl: `${serverUrl}/${repo.spec.name}/targets`,
    lookupPaths: [repo.lookupPath, repo.bigTargetPath],
    downloadTo: join(dir, 'downloaded.bin'),
    repeatLookups: 1000,
  };
  try {
    return await runChild(input, timeoutMs);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function runChild(input: RunnerInput, timeoutMs: number): Promise<Measurement> {
  return new Promise((done) => {
    const start = process.hrtime.bigint();
    const child = spawn(process.execPath, [RUNNER, JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    let timedOut = false;
    child.stdout.setEncoding('utf8').on('data', (s: string) => (stdout += s));
    child.stderr.setEncoding('utf8').on('data', (s: string) => (stderr += s));
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGKILL');
    }, timeoutMs);
    child.on('close', (code) => {
      const processMs = Number(process.hrtime.bigint() - start) / 1e6;
      clearTimeout(timer);
      if (code === 0 && !timedOut) {
        try {
          done({ ok: true, processMs, ...(JSON.parse(stdout.trim().split('\n').pop()!) as RunnerOutput) });
          return;
        } catch {
          // fall through: report what the child said
        }
      }
      const error = timedOut ? `killed after ${(timeoutMs / 1000).toFixed(0)} s` : stderr.trim().split('\n')[0] || `exit code ${code}`;
      done({ ok: false, processMs, timedOut, error });
    });
  });
}
