#!/usr/bin/env node
import { Command } from 'commander';
import { registerClient } from './client.js';
import { registerConformance } from './conformance.js';
import { registerDemo } from './demo.js';
import { registerRepository } from './repo.js';

const program = new Command();
program
  .name('tufkit')
  .description('The Update Framework: a verifying client, repository tooling and conformance vectors')
  .showHelpAfterError()
  .exitOverride((err) => {
    // commander's own usage errors: one line, exit 1 (0 for --help / --version).
    process.exit(err.exitCode === 0 ? 0 : 1);
  });

// Each command group registers itself here (one file per group under cli/).
registerClient(program);
registerConformance(program);
registerDemo(program);
registerRepository(program);

await program.parseAsync(process.argv);
