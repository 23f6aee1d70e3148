import { fork, type ChildProcess } from 'node:child_process';
import { copyFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { WorkerInit, WorkerResult, WorkerRun } from './load-worker.js';

const WORKER = fileURLToPath(new URL('./load-worker.js', import.meta.url));

export interface RunResult {
  latenciesMs: number[];
  failures: number;
  firstFailure?: string;
  /** From sending `run` to the last worker's answer. */
  wallMs: number;
  /** CPU time of all client processes during the run. */
  clientCpuMs: number;
}

/**
 * `count` tufkit clients spread evenly over `workers` forked processes, each client starting from
 * root v1 alone, at most `inFlight` of each process's clients refreshing at once.
 */
export class ClientPool {
  private constructor(private readonly children: ChildProcess[]) {}

  static async start(workDir: string, rootFile: string, count: number, workers: number, inFlight: number, metadataBaseUrl: string, targetBaseUrl: string): Promise<ClientPool> {
    const dirs: string[][] = Array.from({ length: workers }, () => []);
    for (let i = 0; i < count; i++) {
      const dir = join(workDir, `client-${i}`);
      await mkdir(dir, { recursive: true });
      await copyFile(rootFile, join(dir, 'root.json'));
      dirs[i % workers]!.push(dir);
    }
    const children: ChildProcess[] = [];
    const pool = new ClientPool(children);
    try {
      for (const metadataDirs of dirs) {
        const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
        children.push(child);
        const ready = pool.next(child, 'ready');
        child.send({ type: 'init', metadataDirs, metadataBaseUrl, targetBaseUrl, inFlight } satisfies WorkerInit);
        await ready;
      }
    } catch (e) {
      await pool.stop();
      throw e;
    }
    return pool;
  }

  /** The next message of `type` from `child`; fails if the child exits first. */
  private next<T>(child: ChildProcess, type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: { type: string }): void => {
        if (m.type !== type) return;
        cleanup();
        resolve(m as T);
      };
      const onExit = (code: number | null): void => {
        cleanup();
        reject(new Error(`serve bench: a client process exited (code ${code}) before answering`));
      };
      const cleanup = (): void => {
        child.off('message', onMessage);
        child.off('exit', onExit);
      };
      child.on('message', onMessage);
      child.once('exit', onExit);
    });
  }

  /** Every client refreshes (see load-worker.ts) until it made `refreshes` or `seconds` passed. */
  async run(run: Omit<WorkerRun, 'type'>): Promise<RunResult> {
    const start = performance.now();
    const results = await Promise.all(
      this.children.map((child) => {
        const answer = this.next<WorkerResult>(child, 'result');
        child.send({ type: 'run', ...run } satisfies WorkerRun);
        return answer;
      }),
    );
    const wallMs = performance.now() - start;
    return {
      latenciesMs: results.flatMap((r) => r.latenciesMs),
      failures: results.reduce((a, r) => a + r.failures, 0),
      firstFailure: results.find((r) => r.firstFailure)?.firstFailure,
      wallMs,
      clientCpuMs: results.reduce((a, r) => a + r.cpuMs, 0),
    };
  }

  /** Ends the client processes; resolves once all have exited. */
  async stop(): Promise<void> {
    await Promise.all(
      this.children.map(async (child) => {
        if (child.exitCode !== null || child.signalCode !== null) return;
        const exited = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        await exited;
      }),
    );
  }
}
