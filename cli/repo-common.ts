import { UsageError } from '../src/errors.js';
import { ExternalSigner } from '../src/repository/external-signer.js';
import type { Key } from '../src/models/key.js';
import { readPublicKey, readSigner } from '../src/repository/key-files.js';
import { Repository, type RoleSigner } from '../src/repository/repository.js';

// What the repository commands share: reading passphrases, keys and signers from options, and
// printing either for people or (with --json) for scripts.

export { collect, positiveInt } from './options.js';

export interface SignerOptions {
  key?: string;
  passphraseEnv?: string;
  signerCommand?: string;
}

/** The passphrase held in environment variable `name` (never given on the command line, where `ps` shows it). */
export function passphraseFrom(name: string | undefined): string | undefined {
  if (name === undefined) return undefined;
  const value = process.env[name];
  if (value === undefined) throw new UsageError(`environment variable ${name} (--passphrase-env) is not set`);
  return value;
}

export async function openRepository(dir: string): Promise<Repository> {
  return Repository.open(dir);
}

/** Public keys from key files (public JSON, or private PEM of which only the public half is used). */
export async function publicKeys(files: string[] | undefined, passphraseEnv?: string): Promise<Key[]> {
  const pass = passphraseFrom(passphraseEnv);
  const keys: Key[] = [];
  for (const f of files ?? []) keys.push(await readPublicKey(f, pass));
  return keys;
}

/**
 * The signer the options name for `role`: `--key FILE` (a private key, matched against the keys
 * the role lists), or `--signer-command CMD` (with `--key` then naming the public key; without
 * it the key is found from the signature).
 */
export async function signerFor(repo: Repository, role: string, opts: SignerOptions): Promise<RoleSigner> {
  return signerFromOptions(opts, () => repo.authorisedKeys(role));
}

/** The signer the options name, a private key matched against `listedKeys` (the keys metadata lists for the role). */
export async function signerFromOptions(opts: SignerOptions, listedKeys: () => Promise<Key[]>): Promise<RoleSigner> {
  if (opts.signerCommand !== undefined) {
    const key = opts.key !== undefined ? await readPublicKey(opts.key, passphraseFrom(opts.passphraseEnv)) : undefined;
    return new ExternalSigner(opts.signerCommand, key);
  }
  if (opts.key === undefined) throw new UsageError('give --key FILE (a private key) or --signer-command CMD');
  return readSigner(opts.key, passphraseFrom(opts.passphraseEnv), await listedKeys());
}

/** Prints `data` as JSON when `json`, else the human text. */
export function output(json: boolean | undefined, data: unknown, human: () => string): void {
  process.stdout.write(json ? JSON.stringify(data, jsonReplacer, 2) + '\n' : human());
}

function jsonReplacer(_key: string, value: unknown): unknown {
  if (value instanceof Set) return [...value];
  if (value instanceof Map) return Object.fromEntries(value);
  return value;
}

export function shortId(keyid: string): string {
  return `${keyid.slice(0, 12)}…`;
}
