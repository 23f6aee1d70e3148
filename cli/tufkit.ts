#!/usr/bin/env node
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

/** Exit status of a usage mistake (unknown option, missing argument...); tufkit's own errors exit 1. */
const USAGE_EXIT = 2;

/** package.json's version (dist/cli/ -> ../../package.json); a copied dist/ without it still runs. */
function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown (no package.json beside this dist/)';
  }
}

const program = new Command();
program
  .name('tufkit')
  .description('The Update Framework: a verifying client, repository tooling and conformance vectors')
  .version(packageVersion(), '-V, --version', 'print the tufkit version')
  .addHelpText('after', '\nExit status: 0 on success, 1 when tufkit reports an error, 2 on a usage mistake.')
  // Usage mistakes are reported in exitOverride, on one line: not commander's message plus the whole help.
  .configureOutput({ outputError: () => undefined })
  .exitOverride((err) => {
    if (err.exitCode === 0) process.exit(0); // --help, --version
    // A command group named without its command (`tufkit key`) has had its help printed to stderr.
    if (err.code !== 'commander.help') process.stderr.write(`${usageLine(err)}\n`);
    process.exit(USAGE_EXIT);
  });

/** `tufkit: what is wrong (see tufkit CMD --help)`, CMD being the deepest command named on the command line. */
function usageLine(err: CommanderError): string {
  const what = err.message.replace(/^error: /, '').replace(/\s*\n\s*/g, ' ');
  const path = ['tufkit'];
  let cmd: Command = program;
  for (const word of process.argv.slice(2)) {
    if (word.startsWith('-')) continue;
    const sub = cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
    if (!sub) continue;
    path.push(word);
    cmd = sub;
  }
  return `tufkit: ${what} (see ${path.join(' ')} --help)`;
}

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
