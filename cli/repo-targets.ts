import { readdir, stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { Command } from 'commander';
import { parseStrictJSON } from '../src/crypto/json.js';
import { UsageError } from '../src/errors.js';
import type { TargetInput } from '../src/repository/repository.js';
import { openRepository, output } from './repo-common.js';
import { filesLine, startProgress } from './progress.js';
import { action } from './run.js';

/** Every regular file under `dir`, with its `/`-separated path relative to `dir`, sorted. */
async function walk(dir: string, prefix: string, out: TargetInput[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    const file = join(dir, e.name);
    const path = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) await walk(file, path, out);
    else if (e.isFile()) out.push({ file, path });
    // Symbolic links and special files are skipped: a folder is added as the files it holds.
  }
}

/**
 * FILE arguments to targets. A file is listed under its name (or exactly under --path when it is
 * the only argument); a folder adds every file below it under its relative path; --path is then
 * the folder the targets go in.
 */
export async function targetInputs(files: string[], pathOpt: string | undefined): Promise<TargetInput[]> {
  const out: TargetInput[] = [];
  for (const file of files) {
    let isDir = false;
    try {
      isDir = (await stat(file)).isDirectory();
    } catch {
      isDir = false; // a missing file is reported by the repository, with the others checked
    }
    if (isDir) await walk(file, pathOpt ?? '', out);
    else if (pathOpt !== undefined && files.length === 1) out.push({ file, path: pathOpt });
    else out.push({ file, path: pathOpt !== undefined ? `${pathOpt}/${basename(file)}` : basename(file) });
  }
  return out;
}

function parseCustom(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return parseStrictJSON(Buffer.from(text, 'utf8'), '--custom');
  } catch (e) {
    throw new UsageError(`--custom is not valid JSON for metadata: ${(e as Error).message}`);
  }
}

interface AddOptions {
  path?: string;
  role?: string;
  custom?: string;
  json?: boolean;
}

export function registerTargetsCommands(program: Command): void {
  const targets = program.command('targets').description('target files listed by targets roles');
  targets
    .command('add')
    .description('hash FILEs (or every file in a folder) into the repository and list them as targets')
    .argument('<dir>', 'repository folder')
    .argument('<files...>', 'files or folders to add')
    .option('--path <path>', 'target path of a single FILE, or the folder the targets go in')
    .option('--role <role>', 'targets role to list them in (default targets); a role delegating to hash bins, or the bins\' name prefix (--to of delegate --bins), puts each in its bin')
    .option('--custom <json>', 'custom metadata for every added target (JSON)')
    .option('--json', 'print the added targets as JSON')
    .action(
      action(async (dir: string, files: string[], opts: AddOptions) => {
        const custom = parseCustom(opts.custom);
        const repo = await openRepository(dir);
        const progress = startProgress(opts);
        let added;
        try {
          added = await repo.addTargets(await targetInputs(files, opts.path), { role: opts.role, custom, onProgress: (p) => progress.update(() => filesLine('hashed', p)) });
        } finally {
          progress.done();
        }
        const roles = new Set(added.map((a) => a.role));
        output(opts.json, added, () =>
          added.length <= 20
            ? added.map((a) => `added ${a.path} to ${a.role} (${a.length} bytes, ${Object.entries(a.hashes).map(([k, v]) => `${k}:${v.slice(0, 16)}…`).join(' ')})\n`).join('')
            : `added ${added.length} targets to ${roles.size} role(s)\n`,
        );
      }),
    );
  targets
    .command('remove')
    .description('stop listing target PATHs')
    .argument('<dir>', 'repository folder')
    .argument('<paths...>', 'target paths')
    .option('--role <role>', 'the role listing them (default: the one role that does); a hash bin prefix stands for the bin of each path')
    .option('--json', 'print the removed targets as JSON')
    .action(
      action(async (dir: string, paths: string[], opts: { role?: string; json?: boolean }) => {
        const repo = await openRepository(dir);
        const removed = await repo.removeTargets(paths, { role: opts.role });
        output(opts.json, removed, () => removed.map((r) => `removed ${r.path} from ${r.role}\n`).join(''));
      }),
    );
}
