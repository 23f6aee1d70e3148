import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Repository } from '../../src/repository/repository.js';
import { ensureBuilt, expectRefusedInOneLine, keyOf, newSigner, removeTemps, tempDir, treeHash, tufkit, writeKeyFiles } from './helpers.js';

// Every mistake a user can make gets one readable line on stderr, exit status 1, no stack trace,
// and leaves the repository folder exactly as it was (a digest of the whole tree, folders and
// temp files included, is compared before and after).

let work: string;
const A = newSigner();
const B = newSigner();
const T = newSigner();
const DEV = newSigner();
const ENC = newSigner();

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir();
  await writeKeyFiles(work, { A, B, T, DEV });
  await writeFile(path.join(work, 'keys/enc.pem'), ENC.toPem('right passphrase'));
  await writeFile(path.join(work, 'garbage.txt'), 'not a key\n');
  await writeFile(path.join(work, 'a.txt'), 'a\n');
  const repo = await Repository.init(path.join(work, 'repo'), {
    roles: {
      root: { keys: [keyOf(A), keyOf(B)], threshold: 2 },
      targets: { keys: [keyOf(T), keyOf(ENC)] },
      snapshot: { keys: [keyOf(T)] },
      timestamp: { keys: [keyOf(T)] },
    },
  });
  await repo.sign('root', A);
  await repo.sign('root', B);
  await repo.delegate('targets', { name: 'dev', keys: [keyOf(DEV)], threshold: 1, paths: ['dev/*'] });
  await repo.sign('targets', T);
  await repo.addTargets([{ file: path.join(work, 'a.txt'), path: 'a.txt' }]); // targets version 2, unsigned
}, 20_000);

afterAll(removeTemps);

const cases: [string, string[], RegExp, Record<string, string>?][] = [
  ['missing key file', ['sign', 'repo', 'root', '--key', 'keys/nope.pem'], /KeyError: key file "keys\/nope.pem": no such file/],
  ['unreadable key file (a folder)', ['sign', 'repo', 'root', '--key', 'keys'], /KeyError: key file "keys": not a regular file/],
  ['key file that holds no key', ['sign', 'repo', 'root', '--key', 'garbage.txt'], /KeyError: .*neither a PEM private key nor a JSON public key/],
  ['wrong passphrase', ['sign', 'repo', 'targets', '--key', 'keys/enc.pem', '--passphrase-env', 'PW'], /KeyError: .*wrong passphrase/, { PW: 'wrong' }],
  ['passphrase variable not set', ['sign', 'repo', 'targets', '--key', 'keys/enc.pem', '--passphrase-env', 'TUFKIT_TEST_UNSET'], /UsageError: environment variable TUFKIT_TEST_UNSET/],
  ['key not authorised for the role', ['sign', 'repo', 'root', '--key', 'keys/T.pem'], /KeyError: key [0-9a-f]{12}… is not authorised to sign role "root"/],
  ['public key given to sign', ['sign', 'repo', 'root', '--key', 'keys/A.pub'], /KeyError: .*holds a public key/],
  ['signer command that fails', ['sign', 'repo', 'root', '--signer-command', 'echo broken >&2; exit 3'], /KeyError: signer command .* failed \(exit status 3\): broken/],
  ['root threshold larger than its keys', ['root', 'threshold', 'repo', '3'], /UsageError: threshold 3 of role "root" is larger than its 2 key\(s\)/],
  ['delegation threshold larger than its keys', ['delegate', 'repo', '--from', 'targets', '--to', 'x', '--key', 'keys/T.pub', '--threshold', '2', '--paths', 'x/*'], /threshold 2 of role "x" is larger than its 1 key/],
  ['removing a key that leaves too few', ['root', 'remove-key', 'repo', '--key', 'keys/A.pub'], /threshold 2 of role "root" is larger than its 1 key/],
  ['target path with ..', ['targets', 'add', 'repo', 'a.txt', '--path', 'x/../../evil.txt'], /UnsafePathError: target path "x\/..\/..\/evil.txt" has a ".." segment/],
  ['absolute target path', ['targets', 'add', 'repo', 'a.txt', '--path', '/etc/evil'], /UnsafePathError: target path "\/etc\/evil" is absolute/],
  ['missing target file (with a good one)', ['targets', 'add', 'repo', 'a.txt', 'missing.txt'], /UsageError: target file "missing.txt" does not exist/],
  ['target outside the role\'s delegation', ['targets', 'add', 'repo', 'a.txt', '--path', 'other/a.txt', '--role', 'dev'], /cannot be listed by role "dev": "targets" does not delegate that path/],
  ['custom data that is not JSON', ['targets', 'add', 'repo', 'a.txt', '--custom', '{bad'], /UsageError: --custom is not valid JSON/],
  ['custom data with a float', ['targets', 'add', 'repo', 'a.txt', '--custom', '{"x":1.5}'], /UsageError: --custom is not valid JSON/],
  ['removing a target nobody lists', ['targets', 'remove', 'repo', 'nope.txt'], /UsageError: target "nope.txt" is not listed by any role/],
  ['expiry in the past', ['expire', 'repo', 'targets', '--at', '2001-01-01T00:00:00Z'], /UsageError: expiry 2001-01-01T00:00:00Z of role "targets" is in the past/],
  ['expiry period of zero', ['expire', 'repo', 'targets', '--in', '0d'], /UsageError: --in "0d" must be longer than zero/],
  ['unknown role to sign', ['sign', 'repo', 'nosuch', '--key', 'keys/T.pem'], /RoleNotFoundError: role "nosuch" is not in this repository/],
  ['unknown role to expire', ['expire', 'repo', 'nosuch', '--in', '1d'], /RoleNotFoundError: role "nosuch"/],
  ['unknown role for targets', ['targets', 'add', 'repo', 'a.txt', '--role', 'nosuch'], /RoleNotFoundError: role "nosuch"/],
  ['role pattern matching nothing', ['sign', 'repo', 'bins-*', '--key', 'keys/T.pem'], /RoleNotFoundError: no role matches "bins-\*"/],
  ['unknown delegation to remove', ['delegate', 'remove', 'repo', '--from', 'targets', '--to', 'nosuch'], /RoleNotFoundError: role "targets" does not delegate "nosuch"/],
  ['bad role name', ['delegate', 'repo', '--from', 'targets', '--to', '../x', '--key', 'keys/T.pub', '--threshold', '1', '--paths', 'x/*'], /UnsafePathError: role name "..\/x" is not allowed/],
  ['publish with an unsigned role', ['publish', 'repo', '--out', 'out'], /UnsignedMetadataError: cannot publish: role "\w+" version \d+: 0 of 1 needed .*\(and 5 more problem\(s\): see tufkit status\)$/],
  ['not a repository', ['status', 'keys'], /UsageError: keys is not a tufkit repository/],
  ['unknown key type', ['key', 'generate', '--type', 'dsa', '--out', 'keys/new.pem'], /UsageError: unknown key type "dsa"/],
  ['key file that exists', ['key', 'generate', '--type', 'ed25519', '--out', 'keys/A.pem'], /UsageError: keys\/A.pem exists already/],
];

describe('bad input: one line, exit 1, nothing changed', () => {
  it.each(cases)('%s', async (_name, args, message, env) => {
    await expectRefusedInOneLine(work, args, message, env);
  });

  it('init refuses a threshold larger than the keys and creates nothing', async () => {
    const r = await tufkit(
      ['repo', 'init', 'new', '--root-key', 'keys/A.pub', '--root-threshold', '2', '--targets-key', 'keys/T.pub', '--snapshot-key', 'keys/T.pub', '--timestamp-key', 'keys/T.pub'],
      { cwd: work },
    );
    expect(r.code).toBe(1);
    expect(r.stderr.trimEnd().split('\n')).toEqual([expect.stringMatching(/^tufkit: UsageError: threshold 2 of role "root" is larger than its 1 key\(s\)$/)]);
    expect(existsSync(path.join(work, 'new'))).toBe(false);
  });

  it('init refuses a folder that holds a repository', async () => {
    const before = await treeHash(work);
    const r = await tufkit(['repo', 'init', 'repo', '--root-key', 'keys/A.pub', '--targets-key', 'keys/T.pub', '--snapshot-key', 'keys/T.pub', '--timestamp-key', 'keys/T.pub'], { cwd: work });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^tufkit: UsageError: repo already holds a tufkit repository/);
    expect(await treeHash(work)).toBe(before);
  });
});

const commands = [
  ['key', 'generate'],
  ['repo', 'init'],
  ['targets', 'add'],
  ['targets', 'remove'],
  ['delegate'],
  ['delegate', 'add'],
  ['delegate', 'remove'],
  ['delegate', 'add-key'],
  ['root', 'add-key'],
  ['root', 'remove-key'],
  ['root', 'threshold'],
  ['sign'],
  ['expire'],
  ['snapshot'],
  ['timestamp'],
  ['status'],
  ['publish'],
];

describe('--help', () => {
  it('every repository command has one', async () => {
    const results = await Promise.all(commands.map((c) => tufkit([...c, '--help'])));
    results.forEach((r, i) => {
      expect(r.code, commands[i]!.join(' ')).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^Usage: tufkit ${commands[i]!.join(' ')}`));
    });
  }, 20_000);
});
