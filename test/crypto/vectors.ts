import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { VECTORS_DIR } from '../helpers/vectors.js';

// Read-only access to the vendored conformance vectors (see each folder's PROVENANCE.md).

export const VECTORS = VECTORS_DIR;
export const PYTHON_TUF = join(VECTORS, 'python-tuf');
export const SIGSTORE = join(VECTORS, 'sigstore-root-signing');

export interface KeyJSON {
  keytype: string;
  scheme: string;
  keyval: { public: string } & Record<string, unknown>;
  [extra: string]: unknown;
}

export interface RoleJSON {
  keyids: string[];
  threshold: number;
  name?: string;
}

export interface SignedFile {
  path: string;
  signatures: { keyid: string; sig: string }[];
  signed: {
    _type: string;
    keys?: Record<string, KeyJSON>;
    roles?: Record<string, RoleJSON>;
    delegations?: { keys: Record<string, KeyJSON>; roles: RoleJSON[] };
    [field: string]: unknown;
  };
}

export function load(path: string): SignedFile {
  return { path, ...(JSON.parse(readFileSync(path, 'utf8')) as Omit<SignedFile, 'path'>) };
}

/** The keys a file lists: root's `keys` or a targets role's `delegations.keys`. */
export function keysOf(file: SignedFile): Record<string, KeyJSON> {
  return file.signed.keys ?? file.signed.delegations?.keys ?? {};
}

/** The role `name` as `delegator` defines it (top-level roles in root, or a delegation). */
export function roleIn(delegator: SignedFile, name: string): RoleJSON {
  const role = delegator.signed.roles?.[name] ?? delegator.signed.delegations?.roles.find((r) => r.name === name);
  if (!role) throw new Error(`${delegator.path} does not delegate ${name}`);
  return role;
}

export const SIGSTORE_ROOTS = Array.from({ length: 15 }, (_, i) => i + 1);
export const sigstoreRoot = (n: number): SignedFile => load(join(SIGSTORE, 'metadata', `${n}.root.json`));
