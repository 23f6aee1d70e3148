import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { writeFileAtomic } from '../client/atomic-file.js';
import { canonicalBytes } from '../crypto/canonical.js';
import { KeyError } from '../errors.js';
import type { Key } from '../models/key.js';
import { Metadata, metadataFileBytes, Signature } from '../models/metadata.js';
import type { Root } from '../models/root.js';
import type { RoleSigner } from './repository.js';

// Signing away from the repository: a key holder with only a copy of one role's file (say
// metadata/root.json, carried to an offline machine) adds a signature to it; the repository then
// merges it back with Repository.importSignatures.

export interface FileSignResult {
  role: string;
  version: number;
  keyid: string;
}

/** The keys a metadata file itself names for its own role (only root lists its own keys). */
export function keysListedFor(md: Metadata): Key[] {
  if (md.signed.type !== 'root') return [];
  const root = md.signed as Root;
  return root.getRole('root').keyids.flatMap((id) => root.keys.get(id) ?? []);
}

/**
 * Adds `signer`'s signature to the metadata file at `path` (replacing an earlier one by the same
 * key; others stay). A signer without a keyid (a signer command given no public key) must sign
 * with one of the keys the file lists for itself.
 */
export async function signMetadataFile(path: string, signer: RoleSigner, role?: string): Promise<FileSignResult> {
  const md = Metadata.fromBytes(await readFile(path), undefined, role ?? basename(path));
  const name = role ?? md.signed.type;
  const signedJson = md.signed.toJSON();
  const data = canonicalBytes(signedJson, 'signed');
  const hex = Buffer.from(await signer.sign(data, { role: name })).toString('hex');
  let keyid = signer.keyid;
  if (keyid === '') {
    const match = keysListedFor(md).find((k) => {
      try {
        return k.verify(hex, data);
      } catch {
        return false;
      }
    });
    if (!match) throw new KeyError(`${path}: the signature from the signer command does not verify with any key the file lists for role "${name}" (give its public key with --key)`);
    keyid = match.keyid;
  }
  md.signatures.set(keyid, new Signature(keyid, hex));
  await writeFileAtomic(path, metadataFileBytes(md, data, signedJson));
  return { role: name, version: md.signed.version, keyid };
}
