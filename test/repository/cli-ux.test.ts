import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository/repository.js';
import { ensureBuilt, keyOf, newSigner, ok, removeTemps, tempDir, treeHash, tufkit, writeKeyFiles } from './helpers.js';

// The CLI as a new release signer meets it: usage mistakes, exit statuses, errors that name the
// file, defaults and shortcuts, hints that name the one command that fixes the problem, and no
// progress noise when stderr is not a terminal.

let work: string;
const ROOT = newSigner();
const T = newSigner();
const DEV = newSigner();
const DAY = 86400;

/** A repository every role of which is signed and current: ready to publish at `now`. */
async function readyRepo(name: string, now = new Date(), expiry: { snapshot?: number; timestamp?: number } = {}): Promise<string> {
  const dir = path.join(work, name);
  const repo = await Repository.init(
    dir,
    { roles: { root: { keys: [keyOf(ROOT)] }, targets: { keys: [keyOf(T)] }, snapshot: { keys: [keyOf(T)] }, timestamp: { keys: [keyOf(T)] } }, expiry },
    now,
  );
  repo.now = () => now;
  await repo.sign('root', ROOT);
  await repo.sign('targets', T);
  await repo.updateSnapshot(T);
  await repo.updateTimestamp(T);
  return dir;
}

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir();
  await writeKeyFiles(work, { ROOT, T, DEV });
  await writeFile(path.join(work, 'a.txt'), 'a\n');
}, 20_000);

afterAll(removeTemps);

describe('usage mistakes: one line naming the command help, exit 2, nothing changed', () => {
  const cases: [string, string[], RegExp][] = [
    ['unknown option', ['status', 'ready', '--bogus'], /^tufkit: unknown option '--bogus' \(see tufkit status --help\)$/],
    ['missing --out', ['publish', 'ready'], /^tufkit: required option '--out <dir>' not specified \(see tufkit publish --help\)$/],
    [
      'root threshold 0',
      ['repo', 'init', 'new', '--root-key', 'keys/ROOT.pub', '--root-threshold', '0'],
      /^tufkit: option '--root-threshold <n>' argument '0' is invalid\. --root-threshold must be a whole number of at least 1 \(see tufkit repo init --help\)$/,
    ],
    ['missing argument', ['sign'], /^tufkit: missing required argument 'dir' \(see tufkit sign --help\)$/],
    ['unknown command', ['nosuch'], /^tufkit: unknown command 'nosuch' \(see tufkit --help\)$/],
    ['conformance --jobs 0', ['conformance', 'run', '--client', 'x', '--jobs', '0'], /^tufkit: .*--jobs must be a whole number of at least 1 \(see tufkit conformance run --help\)$/],
  ];
  beforeAll(async () => {
    await readyRepo('ready');
  }, 20_000);

  it.each(cases)('%s', async (_name, args, message) => {
    const before = await treeHash(work);
    const r = await tufkit(args, { cwd: work });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trimEnd().split('\n'), r.stderr).toEqual([expect.stringMatching(message)]);
    expect(r.stdout).toBe('');
    expect(await treeHash(work)).toBe(before);
  });

  it('tufkit --version prints the version of package.json', async () => {
    const { version } = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(await ok(['--version'])).toBe(`${version}\n`);
  });
});

describe('errors name the file, and for JSON the line and column', () => {
  it('a corrupt settings file is reported as that file, on one line, not as a role', async () => {
    const dir = await readyRepo('bad-settings');
    await writeFile(path.join(dir, 'tufkit-repo.json'), '{\n  "format": 1,\n');
    const r = await tufkit(['status', 'bad-settings'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([
      'tufkit: MetadataFormatError: bad-settings/tufkit-repo.json: invalid JSON: expected a member name in double quotes, found the end of the text (line 3, column 1)',
    ]);
  });

  it('a settings field of the wrong kind names the file and the field', async () => {
    const dir = await readyRepo('bad-settings-field');
    const file = path.join(dir, 'tufkit-repo.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace('"format": 1', '"format": "one"'));
    const r = await tufkit(['status', 'bad-settings-field'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tufkit: MetadataFormatError: bad-settings-field/tufkit-repo.json: format: expected an integer, got "one"\n');
  });

  it('a role file with a JSON syntax error names the file, the role, the line and the column', async () => {
    const dir = await readyRepo('bad-role');
    const file = path.join(dir, 'metadata/targets.json');
    // The ':' after "signatures" gone, and the name moved to line 2.
    await writeFile(file, (await readFile(file, 'utf8')).replace('"signatures":', '\n"signatures" '));
    const r = await tufkit(['status', 'bad-role'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^tufkit: MetadataFormatError: bad-role\/metadata\/targets\.json: role "targets": invalid JSON: expected ":" after the member name, found "\[" \(line 2, column 14\)\n$/,
    );
  });

  it('a float in a role file names the field and where it is', async () => {
    const dir = await readyRepo('float-role');
    const file = path.join(dir, 'metadata/targets.json');
    await writeFile(file, (await readFile(file, 'utf8')).replace(/"version":1/, '\n  "version":1.0'));
    const r = await tufkit(['status', 'float-role'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tufkit: MetadataFormatError: float-role\/metadata\/targets\.json: role "targets": signed\.version: number 1\.0 is not an integer .* \(line 2, column 13\)\n$/);
  });
});

describe('tufkit status exit status', () => {
  it('is 0 when the repository is ready to publish', async () => {
    await readyRepo('status-ready');
    const r = await tufkit(['status', 'status-ready'], { cwd: work });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/\nready to publish\n$/);
  });

  it('is 1 when a role is unsigned, with and without --json', async () => {
    const dir = await readyRepo('status-unsigned');
    await (await Repository.open(dir)).addTargets([{ file: path.join(work, 'a.txt'), path: 'a.txt' }]);
    const r = await tufkit(['status', 'status-unsigned'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/problem\(s\) before it can be published:\n {2}- role "targets" version 2: 0 of 1 needed/);
    expect(r.stderr).toBe('');
    const j = await tufkit(['status', 'status-unsigned', '--json'], { cwd: work });
    expect(j.code).toBe(1);
    expect((JSON.parse(j.stdout) as { ready: boolean }).ready).toBe(false);
  });

  it('documents it in its help', async () => {
    expect(await ok(['status', '--help'])).toMatch(/Exit status: 0 when the repository is ready to publish; 1 when it is not/);
  });
});

describe('expired snapshot and timestamp', () => {
  it('the hint names tufkit snapshot / tufkit timestamp, and running them is the fix', async () => {
    await readyRepo('expired', new Date(Date.now() - 3 * DAY * 1000), { snapshot: DAY, timestamp: DAY });
    const r = await tufkit(['status', 'expired'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/- role "snapshot" version 1 expired at \S+ \(run tufkit snapshot again\)\n/);
    expect(r.stdout).toMatch(/- role "timestamp" version 1 expired at \S+ \(run tufkit timestamp again\)\n/);
    expect(r.stdout).not.toMatch(/tufkit expire/);
    await ok(['snapshot', 'expired', '--key', 'keys/T.pem'], { cwd: work });
    await ok(['timestamp', 'expired', '--key', 'keys/T.pem'], { cwd: work });
    expect((await tufkit(['status', 'expired'], { cwd: work })).code).toBe(0);
  }, 30_000);
});

describe('delegate and targets shortcuts', () => {
  it('delegate add without --threshold delegates with threshold 1, as its help says', async () => {
    const dir = await readyRepo('no-threshold');
    expect(await ok(['delegate', 'add', '--help'])).toMatch(/--threshold <n> +how many of its keys must sign \(default: 1\)/);
    const out = await ok(['delegate', 'no-threshold', '--from', 'targets', '--to', 'dev', '--key', 'keys/DEV.pub', '--paths', 'dev/*'], { cwd: work });
    expect(out).toBe('delegated "dev" from "targets" (1 of 1 key(s))\n');
    const d = (await (await Repository.open(dir)).load('targets')).signed as { delegations?: { roles?: Map<string, { threshold: number }> } };
    expect(d.delegations?.roles?.get('dev')?.threshold).toBe(1);
  });

  it('targets add and remove --role accept the hash bin prefix and use the bin of each path', async () => {
    await readyRepo('bins');
    await ok(['delegate', 'bins', '--from', 'targets', '--to', 'bin', '--key', 'keys/DEV.pub', '--bins', '4'], { cwd: work });
    // 4 bins: the first 2 bits of sha256(path) pick bin-0 ... bin-3 (TAP 15 succinct naming).
    const bin = (p: string): string => `bin-${(createHash('sha256').update(p).digest()[0]! >> 6).toString(16)}`;
    const added = JSON.parse(await ok(['targets', 'add', 'bins', 'a.txt', '--path', 'x/a.txt', '--role', 'bin', '--json'], { cwd: work })) as { role: string }[];
    expect(added.map((a) => a.role)).toEqual([bin('x/a.txt')]);
    expect(await ok(['targets', 'remove', 'bins', 'x/a.txt', '--role', 'bin'], { cwd: work })).toBe(`removed x/a.txt from ${bin('x/a.txt')}\n`);
    const r = await tufkit(['targets', 'add', 'bins', 'a.txt', '--role', 'bi'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('tufkit: RoleNotFoundError: role "bi" is not in this repository\n');
  }, 30_000);
});

describe('progress', () => {
  it('adding and publishing report each file hashed or copied, and the bytes, to the CLI\'s reporter', async () => {
    const dir = await readyRepo('progress');
    for (const n of ['p1', 'p2', 'p3']) await writeFile(path.join(work, n), n.repeat(100));
    const repo = await Repository.open(dir);
    const seen: { done: number; total: number; bytes: number }[] = [];
    await repo.addTargets(['p1', 'p2', 'p3'].map((n) => ({ file: path.join(work, n), path: n })), { onProgress: (p) => seen.push(p) });
    expect(seen.map((p) => p.done)).toEqual([1, 2, 3]);
    expect(seen.at(-1)).toEqual({ done: 3, total: 3, bytes: 600 });
    await repo.sign('targets', T);
    await repo.updateSnapshot(T);
    await repo.updateTimestamp(T);
    const copied: { done: number; total: number; bytes: number }[] = [];
    await repo.publish(path.join(work, 'progress-out'), undefined, { onProgress: (p) => copied.push(p) });
    expect(copied.at(-1)).toEqual({ done: 3, total: 3, bytes: 600 });
  }, 30_000);

  it('is silent when stderr is not a terminal: targets add of a folder and publish write nothing to stderr', async () => {
    await readyRepo('quiet');
    const folder = path.join(work, 'many');
    await mkdir(folder);
    for (let i = 0; i < 300; i++) await writeFile(path.join(folder, `f${i}.txt`), `${i}\n`);
    const add = await tufkit(['targets', 'add', 'quiet', 'many'], { cwd: work });
    expect(add.code, add.stderr).toBe(0);
    expect(add.stderr).toBe('');
    expect(add.stdout).toBe('added 300 targets to 1 role(s)\n');
    await ok(['sign', 'quiet', 'targets', '--key', 'keys/T.pem'], { cwd: work });
    await ok(['snapshot', 'quiet', '--key', 'keys/T.pem'], { cwd: work });
    await ok(['timestamp', 'quiet', '--key', 'keys/T.pem'], { cwd: work });
    const pub = await tufkit(['publish', 'quiet', '--out', 'quiet-out'], { cwd: work });
    expect(pub.code, pub.stderr).toBe(0);
    expect(pub.stderr).toBe('');
  }, 60_000);
});
