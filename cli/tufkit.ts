#!/usr/bin/env node
import { Command } from 'commander';

const program = new Command();
program
  .name('tufkit')
  .description('The Update Framework: a verifying client, repository tooling and conformance vectors')
  .showHelpAfterError()
  .exitOverride((err) => {
    // commander's own usage errors: one line, exit 1 (0 for --help / --version).
    process.exit(err.exitCode === 0 ? 0 : 1);
  });

// Each command group lives in its own file under cli/. Only the group named on the command line
// is loaded (a conformance run starts hundreds of `tufkit client` processes); help loads them all.
const groups: Record<string, () => Promise<(p: Command) => void>> = {
  client: async () => (await import('./client.js')).registerClient,
  conformance: async () => (await import('./conformance.js')).registerConformance,
  demo: async () => (await import('./demo.js')).registerDemo,
  repository: async () => (await import('./repo.js')).registerRepository,
};
const REPOSITORY_COMMANDS = ['key', 'repo', 'targets', 'delegate', 'root', 'sign', 'expire', 'snapshot', 'timestamp', 'status', 'publish'];
const named = process.argv[2] ?? '';
const group = REPOSITORY_COMMANDS.includes(named) ? 'repository' : named;
for (const load of group in groups ? [groups[group]!] : Object.values(groups)) (await load())(program);

await program.parseAsync(process.argv);
