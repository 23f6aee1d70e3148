import type { Command } from 'commander';
import { registerDelegateCommands, registerRootCommands } from './repo-delegate.js';
import { registerInitCommand } from './repo-init.js';
import { registerKeyCommands } from './repo-keys.js';
import { registerSignCommands } from './repo-sign.js';
import { registerStatusCommands } from './repo-status.js';
import { registerTargetsCommands } from './repo-targets.js';

/** The repository tools: keys, init, targets, delegations, root rotation, signing, status, publish. */
export function registerRepository(program: Command): void {
  registerKeyCommands(program);
  registerInitCommand(program);
  registerTargetsCommands(program);
  registerDelegateCommands(program);
  registerRootCommands(program);
  registerSignCommands(program);
  registerStatusCommands(program);
}
