import { spawn } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GeneratedRepo } from './generate.js';
import type { ClientName, RunnerInput, RunnerOutput } from './runner.js';

const RUNNER = fileURLToPath(new URL('./runner.js', import.meta.url));

export type Measurement =
  | ({ ok: true; processMs: number; files: string[] } & RunnerOutput)
  | { ok: false; processMs: number; timedOut: boolean; error: string };

/**
 * Runs `client` through the flow on `repo` in a fresh Node process, trusting root v1 from an
 * otherwise empty metadata dir. `processMs` is spawn to exit, measured here, less the time the child
 * spent after the flow on measuring repeated lookups; the rest comes from inside the child. A child
 * still running after `timeoutMs` is killed (timedOut). `files`: the metadata dir's entries and the
 * download afterwards, to check that the floor writes what the clients write.
 */
export async function measure(
  client: ClientName,
  repo: GeneratedRepo,
  serverUrl: string,
  workDir: string,
  timeoutMs: number,
  tufjsEntry?: string,
): Promise<Measurement> {
  const dir = await mkdtemp(join(workDir, `${client}-${repo.spec.name}-`));
  const metadataDir = join(dir, 'metadata');
  await mkdir(metadataDir);
  await copyFile(repo.rootFile, join(metadataDir, 'root.json'));
  const downloadTo = join(dir, 'downloaded.bin');
  const repoUrl = `${serverUrl}/${repo.spec.name}`;
  const input: RunnerInput = {
    client,
    tufjsEntry,
    floorRequests: repo.flow.map((r) => ({
      url: `${repoUrl}/${r.path}`,
      status: r.status,
      writeTo: r.download ? downloadTo : r.file && join(metadataDir, r.file),
      download: r.download,
    })),
    metadataDir,
    metadataBaseUrl: `${repoUrl}/metadata`,
    targetBaseUrl: `${repoUrl}/targets`,
    lookupPaths: [repo.lookupPath, repo.bigTargetPath],
    downloadTo,
    repeatLookups: 1000,
  };
  try {
    const m = await runChild(input, timeoutMs);
    if (!m.ok) return m;
    const files = [...(await readdir(metadataDir)).map((n) => `metadata/${n}`), ...(await readdir(dir)).filter((n) => n !== 'metadata')];
    return { ...m, files: files.sort() };
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
          const out = JSON.parse(stdout.trim().split('\n').pop()!) as RunnerOutput;
          done({ ok: true, ...out, processMs: processMs - out.afterFlowMs, files: [] });
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
