import { TufError } from '../src/errors.js';

/**
 * Runs a command action and turns any failure into one readable line on stderr and exit code 1.
 * Errors tufkit raises are the user's or the repository's, never a bug: no stack trace for them.
 */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void> | void): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      process.exitCode = 1;
      if (e instanceof TufError) {
        process.stderr.write(`tufkit: ${e.name}: ${e.message}\n`);
      } else if (e instanceof Error && 'code' in e && typeof e.code === 'string') {
        // Node system errors (ENOENT, EACCES...) are about the user's files.
        process.stderr.write(`tufkit: ${e.message}\n`);
      } else {
        process.stderr.write(`tufkit: internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
      }
    }
  };
}
