import { Updater } from '../../../src/client-entry.js';

// One of the serve bench's client processes (forked with IPC). It keeps a set of tufkit clients,
// each with its own metadata dir, and on each `run` message lets all of them refresh, each in a
// loop, until each made `refreshes` refreshes or `seconds` passed; then it answers with every
// refresh's latency. At most `inFlight` refreshes run at once: the clients stand for machines of
// their own, and a process running all of them at once would measure its own queue (and starve
// bodies past the client's idle timeout) rather than a refresh. A refresh is what an application does to learn what is new: a fresh Updater
// (as a new process would make), refresh(), and one lookup, which must find `lookupPath`.

export interface WorkerInit {
  type: 'init';
  metadataDirs: string[];
  metadataBaseUrl: string;
  targetBaseUrl: string;
  inFlight: number;
}

export interface WorkerRun {
  type: 'run';
  lookupPath: string;
  refreshes: number;
  seconds: number;
  /** The snapshot version every refresh must end up trusting (a release not seen is a failure). */
  snapshotVersion: number;
}

export interface WorkerResult {
  type: 'result';
  latenciesMs: number[];
  failures: number;
  firstFailure?: string;
  /** User + system CPU time of this process during the run. */
  cpuMs: number;
}

let init: WorkerInit | undefined;

async function refreshOnce(metadataDir: string, run: WorkerRun): Promise<void> {
  const { metadataBaseUrl, targetBaseUrl } = init!;
  const updater = new Updater({ metadataDir, metadataBaseUrl, targetBaseUrl });
  await updater.refresh();
  const found = await updater.getTargetInfo(run.lookupPath);
  if (!found) throw new Error(`${metadataDir}: ${run.lookupPath} not found after refresh`);
  const version = updater.trustedMetadata?.snapshot?.signed.version;
  if (version !== run.snapshotVersion) throw new Error(`${metadataDir}: trusts snapshot version ${version}, expected ${run.snapshotVersion}`);
}

async function runAll(run: WorkerRun): Promise<WorkerResult> {
  const deadline = performance.now() + run.seconds * 1000;
  const latenciesMs: number[] = [];
  let failures = 0;
  let firstFailure: string | undefined;
  const cpu0 = process.cpuUsage();
  // Rounds over the clients: slot k takes clients k, k + inFlight, ... in each round.
  const dirs = init!.metadataDirs;
  const slots = Math.min(init!.inFlight, dirs.length);
  await Promise.all(
    Array.from({ length: slots }, async (_, slot) => {
      for (let i = 0; i < run.refreshes; i++) {
        for (let c = slot; c < dirs.length && performance.now() < deadline; c += slots) {
          const start = performance.now();
          try {
            await refreshOnce(dirs[c]!, run);
            latenciesMs.push(performance.now() - start);
          } catch (e) {
            failures++;
            firstFailure ??= e instanceof Error ? `${e.name}: ${e.message}` : String(e);
          }
        }
      }
    }),
  );
  const cpu = process.cpuUsage(cpu0);
  return { type: 'result', latenciesMs, failures, firstFailure, cpuMs: (cpu.user + cpu.system) / 1000 };
}

process.on('message', (message: WorkerInit | WorkerRun) => {
  if (message.type === 'init') {
    init = message;
    process.send!({ type: 'ready' });
    return;
  }
  runAll(message).then(
    (result) => process.send!(result),
    (e: unknown) => {
      process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      process.exit(1);
    },
  );
});
process.on('disconnect', () => process.exit(0));
