#!/usr/bin/env node
// A tuf-conformance client (CLIENT-CLI.md protocol) built on tuf-js, to run tuf-js through
// `tufkit conformance run`:
//
//   tufkit conformance run --client "node examples/tuf-js-conformance-client.mjs"
//
//   CLIENT --metadata-dir D init ROOT
//   CLIENT --metadata-dir D --metadata-url U refresh
//   CLIENT --metadata-dir D --metadata-url U --target-name P --target-base-url T --target-dir O download
//
// Options may come in any order; exit code 0 on success, 1 on any failure (with the error class
// and message on stderr). tuf-js is a devDependency of tufkit.
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { Updater } from 'tuf-js';

function parseArgs(argv) {
  const opts = { targetNames: [] };
  const positional = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    if (a === '--metadata-dir') opts.metadataDir = value();
    else if (a === '--metadata-url') opts.metadataUrl = value();
    else if (a === '--target-name') opts.targetNames.push(value());
    else if (a === '--target-base-url') opts.targetBaseUrl = value();
    else if (a === '--target-dir') opts.targetDir = value();
    else if (a.startsWith('--')) throw new Error(`unknown option ${a}`);
    else positional.push(a);
  }
  return { opts, command: positional[0], args: positional.slice(1) };
}

function need(value, flag) {
  if (value === undefined) throw new Error(`${flag} is required`);
  return value;
}

async function main() {
  const { opts, command, args } = parseArgs(process.argv.slice(2));
  const metadataDir = need(opts.metadataDir, '--metadata-dir');
  switch (command) {
    case 'init': {
      // The protocol expects no checks and no network here: the root is trusted as given.
      mkdirSync(metadataDir, { recursive: true });
      copyFileSync(need(args[0], 'ROOT'), join(metadataDir, 'root.json'));
      return;
    }
    case 'refresh': {
      const updater = new Updater({ metadataDir, metadataBaseUrl: need(opts.metadataUrl, '--metadata-url') });
      await updater.refresh();
      return;
    }
    case 'download': {
      const updater = new Updater({
        metadataDir,
        metadataBaseUrl: need(opts.metadataUrl, '--metadata-url'),
        targetDir: need(opts.targetDir, '--target-dir'),
        targetBaseUrl: need(opts.targetBaseUrl, '--target-base-url'),
      });
      if (opts.targetNames.length === 0) throw new Error('--target-name is required');
      await updater.refresh();
      for (const name of opts.targetNames) {
        const info = await updater.getTargetInfo(name);
        if (!info) throw new Error(`target ${JSON.stringify(name)} not found`);
        if (await updater.findCachedTarget(info)) continue;
        await updater.downloadTarget(info);
      }
      return;
    }
    default:
      throw new Error(`unknown command ${JSON.stringify(command)} (expected init, refresh or download)`);
  }
}

main().catch((e) => {
  process.stderr.write(`tuf-js client: ${e?.name ?? 'Error'}: ${e?.message ?? String(e)}\n`);
  process.exitCode = 1;
});
