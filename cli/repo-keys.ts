import { randomBytes } from 'node:crypto';
import { link, open, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { fsyncDir, isErrno } from '../src/client/atomic-file.js';
import { InMemorySigner, type GeneratedKeyType } from '../src/crypto/signer.js';
import { UsageError } from '../src/errors.js';
import { Key } from '../src/models/key.js';
import { publicKeyFileText } from '../src/repository/key-files.js';
import { output, passphraseFrom } from './repo-common.js';
import { action } from './run.js';

const TYPES: Record<string, GeneratedKeyType> = { ed25519: 'ed25519', ecdsa: 'ecdsa', 'ecdsa-p384': 'ecdsa-p384', rsa: 'rsa' };

/**
 * Creates `path` with `text`, never replacing a file: written to a temp file in the same folder,
 * fsynced, then hard-linked to `path` (which fails if `path` exists) so no reader ever sees half a key.
 */
async function createFile(path: string, text: string, mode: number): Promise<void> {
  const temp = join(dirname(path), `.tufkit-tmp-${basename(path).slice(0, 100)}-${randomBytes(6).toString('hex')}`);
  const handle = await open(temp, 'wx', mode);
  try {
    await handle.writeFile(text);
    await handle.sync();
    await handle.close();
    await link(temp, path);
  } catch (e) {
    await handle.close().catch(() => undefined);
    if (isErrno(e, 'EEXIST')) throw new UsageError(`${path} exists already; tufkit never overwrites a key file`);
    throw e;
  } finally {
    await unlink(temp).catch(() => undefined);
  }
  await fsyncDir(dirname(path));
}

interface GenerateOptions {
  type: string;
  out: string;
  passphraseEnv?: string;
  json?: boolean;
}

async function generate(opts: GenerateOptions): Promise<void> {
  const type = TYPES[opts.type];
  if (!type) throw new UsageError(`unknown key type "${opts.type}" (expected ${Object.keys(TYPES).join(', ')})`);
  const passphrase = passphraseFrom(opts.passphraseEnv);
  const signer = InMemorySigner.generate(type);
  const key = Key.fromPublicJSON(signer.publicKey);
  const pubFile = `${opts.out}.pub`;
  await createFile(opts.out, signer.toPem(passphrase), 0o600);
  try {
    await createFile(pubFile, publicKeyFileText(key), 0o644);
  } catch (e) {
    await unlink(opts.out).catch(() => undefined);
    throw e;
  }
  output(opts.json, { keyid: key.keyid, publicKey: key.toJSON(), privateKeyFile: opts.out, publicKeyFile: pubFile, encrypted: passphrase !== undefined }, () =>
    [
      `keyid:       ${key.keyid}`,
      `public key:  ${JSON.stringify(key.toJSON())}`,
      `private key: ${opts.out}${passphrase !== undefined ? ' (encrypted)' : ' (NOT encrypted: use --passphrase-env for offline keys)'}`,
      `public file: ${pubFile}`,
      '',
    ].join('\n'),
  );
}

export function registerKeyCommands(program: Command): void {
  const key = program.command('key').description('signing keys');
  key
    .command('generate')
    .description('create a key pair: FILE (PKCS#8 PEM private key) and FILE.pub (public key as TUF JSON)')
    .requiredOption('--type <type>', 'ed25519, ecdsa (P-256), ecdsa-p384 or rsa (3072 bits)')
    .requiredOption('--out <file>', 'private key file to create (FILE.pub gets the public key)')
    .option('--passphrase-env <var>', 'encrypt the private key with the passphrase in this environment variable')
    .option('--json', 'print keyid and public key as JSON')
    .action(action(async (opts: GenerateOptions) => generate(opts)));
}
