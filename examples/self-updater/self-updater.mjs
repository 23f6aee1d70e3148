#!/usr/bin/env node
// A self-updating program built on tufkit: refresh the trusted metadata, pick the newest release
// for this platform within a semver range, download it resumably with progress, verified, swap it
// in atomically, start it, and roll back to the previous release if it does not start.
//
//   node self-updater.mjs --install DIR --metadata-url URL --targets-url URL [--range RANGE]
//
// DIR/tuf/root.json is the trusted root shipped with the program. Releases are the targets
// "app/<version>/app.mjs" with custom {"version": "<semver>", "platform": "<process.platform>"}.
// DIR/current and DIR/previous are symbolic links to DIR/releases/<version> (POSIX: a symlink
// replaced by rename(2) is swapped atomically). Exit codes: 0 up to date or updated, 1 the update
// was refused (the running release stays), 3 the new release did not start and was rolled back.
import { spawnSync } from 'node:child_process';
import { access, mkdir, readlink, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import process from 'node:process';
import semver from 'semver';
import { Updater } from 'tufkit';

function parseArgs(argv) {
  const opts = { range: '*' };
  for (let i = 0; i < argv.length; i += 2) {
    const [flag, value] = [argv[i], argv[i + 1]];
    if (value === undefined) throw new Error(`${flag} needs a value`);
    if (flag === '--install') opts.install = value;
    else if (flag === '--metadata-url') opts.metadataUrl = value;
    else if (flag === '--targets-url') opts.targetsUrl = value;
    else if (flag === '--range') opts.range = value;
    else throw new Error(`unknown option ${flag}`);
  }
  for (const k of ['install', 'metadataUrl', 'targetsUrl']) if (!opts[k]) throw new Error(`--${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} is required`);
  return opts;
}

/** The release a link points at ("1.2.0"), or undefined when there is no link. */
async function linked(dir, name) {
  try {
    return (await readlink(join(dir, name))).split('/').pop();
  } catch (e) {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  }
}

async function exists(path) {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Points link `name` at releases/<version>, atomically. */
async function pointAt(dir, name, version) {
  const temp = join(dir, `.${name}.tmp`);
  await rm(temp, { force: true });
  await symlink(join('releases', version), temp);
  await rename(temp, join(dir, name));
}

/** Whether the release starts: `node app.mjs --self-test` exits 0. */
function starts(dir, version) {
  const r = spawnSync(process.execPath, [join(dir, 'releases', version, 'app.mjs'), '--self-test'], { encoding: 'utf8', timeout: 20_000 });
  return r.status === 0;
}

function say(line) {
  process.stderr.write(`self-updater: ${line}\n`);
}

async function main() {
  const opts = parseArgs(process.argv.slice(2));
  const dir = opts.install;
  const current = await linked(dir, 'current');
  const updater = new Updater({
    metadataDir: join(dir, 'tuf'),
    metadataBaseUrl: opts.metadataUrl,
    targetBaseUrl: opts.targetsUrl,
  });
  await updater.refresh();
  const { newest, unparsable } = await updater.findNewestRelease({
    prefix: 'app/',
    range: opts.range,
    custom: { platform: process.platform },
  });
  for (const u of unparsable) say(`ignoring ${u.target.path}: ${u.reason}`);
  if (!newest || (current && !semver.gt(newest.version, current))) {
    say(`up to date (${current ?? 'nothing installed'}; newest in "${opts.range}": ${newest?.version ?? 'none'})`);
    return 0;
  }
  const { version, target } = newest;
  const releaseDir = join(dir, 'releases', version);
  if (await exists(join(releaseDir, 'FAILED'))) {
    say(`release ${version} did not start before: staying on ${current ?? 'nothing'}`);
    return 0;
  }
  await mkdir(releaseDir, { recursive: true });
  let shown = -1;
  // Verified against the trusted length and hashes before it appears; an interrupted download
  // continues where it stopped on the next run.
  await updater.downloadTarget(target.info, join(releaseDir, 'app.mjs'), undefined, {
    resume: true,
    onProgress: (received, total) => {
      const pct = Math.floor((received * 100) / total);
      if (pct >= shown + 25 || received === total) say(`downloading ${target.path}: ${(shown = pct)}%`);
    },
  });
  if (current) await pointAt(dir, 'previous', current);
  await pointAt(dir, 'current', version);
  if (starts(dir, version)) {
    say(`updated ${current ?? 'nothing'} -> ${version}`);
    return 0;
  }
  if (!current) {
    say(`release ${version} does not start, and there is no previous release`);
    return 3;
  }
  await pointAt(dir, 'current', current);
  await writeFile(join(releaseDir, 'FAILED'), '');
  say(`release ${version} does not start: rolled back to ${current}`);
  return 3;
}

main().then(
  (code) => (process.exitCode = code),
  (e) => {
    say(`update refused: ${e.name}: ${e.message}`);
    process.exitCode = 1;
  },
);
