import { cpus } from 'node:os';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import type { ScenarioResult } from '../src/conformance/runner.js';
import { positiveInt } from './options.js';
import { startProgress } from './progress.js';
import { action } from './run.js';

// `tufkit conformance run`: checks any client speaking the tuf-conformance client protocol against
// the vectors; `tufkit conformance generate`: writes the vectors. Both load their modules only when
// run: every `tufkit client` invocation (hundreds per conformance run) would pay for them otherwise.

/** test-vectors/ of the tufkit checkout this CLI runs from (dist/cli/ -> ../../test-vectors). */
function defaultVectorsDir(): string {
  return fileURLToPath(new URL('../../test-vectors', import.meta.url));
}

interface RunFlags {
  vectors?: string;
  client: string;
  filter?: string;
  json?: boolean;
  jobs?: number;
  timeout?: number;
  checkErrors?: boolean;
}

function failureLine(r: ScenarioResult): string {
  return `FAIL ${r.name}: ${r.reason ?? 'failed'}`;
}

export function registerConformance(program: Command): void {
  const group = program.command('conformance').description('conformance vectors: check a TUF client against them, or generate them');

  group
    .command('run')
    .description('serve every scenario on 127.0.0.1 and drive CLIENT through the tuf-conformance client protocol')
    .requiredOption('--client <cmd>', 'client command, e.g. "tufkit client" (words split at spaces; quotes group)')
    .option('--vectors <dir>', 'folder of the scenarios (default: the test-vectors of this tufkit)')
    .option('--filter <glob>', 'only scenarios whose name matches (* matches anything)')
    .option('--json', 'print the results as JSON on stdout')
    .option('--jobs <n>', `scenarios run at once (default: CPU count, ${cpus().length} here)`, positiveInt('--jobs'))
    .option('--timeout <seconds>', 'kill a client step still running after this long (default 60)', positiveInt('--timeout'))
    .option('--check-errors', 'also require a failing client to name the expected failure class in its output')
    .action(
      action(async (flags: RunFlags) => {
        const vectorsDir = resolve(flags.vectors ?? defaultVectorsDir());
        const { runConformance } = await import('../src/conformance/runner.js');
        const progress = startProgress(flags);
        let total = 0;
        let done = 0;
        let failed = 0;
        let summary;
        try {
          summary = await runConformance({
            vectorsDir,
            client: flags.client,
            filter: flags.filter,
            jobs: flags.jobs,
            stepTimeoutMs: (flags.timeout ?? 60) * 1000,
            checkErrors: flags.checkErrors,
            onStart: (n) => (total = n),
            onResult: (r) => {
              done++;
              if (!r.passed) failed++;
              if (!r.passed && !flags.json) {
                progress.done(); // the line goes, the failure is printed, the line comes back
                process.stdout.write(`${failureLine(r)}\n`);
              }
              progress.update(() => `ran ${done} of ${total} scenarios, ${failed} failed`);
            },
          });
        } finally {
          progress.done();
        }
        if (flags.json) process.stdout.write(`${JSON.stringify(summary, null, 2)}\n`);
        else process.stdout.write(`${summary.passed} passed, ${summary.failed} failed\n`);
        if (summary.failed > 0) process.exitCode = 1;
      }),
    );

  group
    .command('generate')
    .description('write the conformance vectors (deterministic; earlier ECDSA/RSA-PSS signatures over the same bytes are reused)')
    .requiredOption('--out <dir>', 'output folder (its scenario folders are replaced)')
    .option('--reuse-signatures-from <dir>', 'vectors whose randomized signatures to reuse (default: --out itself)')
    .option('--filter <glob>', 'only scenarios whose name matches (for debugging)')
    .action(
      action(async (flags: { out: string; reuseSignaturesFrom?: string; filter?: string }) => {
        const filter = flags.filter;
        const { generate } = await import('../src/conformance/generate.js');
        const { globMatch } = await import('../src/conformance/format.js');
        const { scenarios } = await generate(resolve(flags.out), {
          reuseSignaturesFrom: flags.reuseSignaturesFrom ? resolve(flags.reuseSignaturesFrom) : undefined,
          filter: filter ? (name) => globMatch(filter, name) : undefined,
        });
        process.stderr.write(`tufkit: wrote ${scenarios.length} scenarios to ${resolve(flags.out)}\n`);
      }),
    );
}
