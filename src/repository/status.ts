import {
  BadVersionError,
  ExpiredMetadataError,
  LengthOrHashMismatchError,
  RepositoryError,
  UnsignedMetadataError,
} from '../errors.js';
import { formatExpires } from '../models/fields.js';
import type { MetaFile } from '../models/files.js';
import type { Metadata } from '../models/metadata.js';
import { sha256Hex } from '../crypto/hash.js';
import { formatRelative } from './durations.js';
import type { RepoIndex } from './repo-index.js';
import type { RoleStore } from './role-store.js';
import { signatureStatus, type SignatureStatus } from './signatures.js';

export type ProblemKind = 'unsigned' | 'expired' | 'version' | 'hashes' | 'root-history';

/** Something that stops the repository from being published. */
export interface Problem {
  role: string;
  kind: ProblemKind;
  /** One line naming the role, the file and what was expected. */
  message: string;
}

export interface RoleStatus {
  name: string;
  type: 'root' | 'timestamp' | 'snapshot' | 'targets';
  /** The role that delegates it ("root" for top-level roles). */
  delegator: string;
  version: number;
  expires: Date;
  /** Milliseconds until expiry (negative once expired). */
  expiresInMs: number;
  signatures: SignatureStatus;
  problems: Problem[];
}

export interface RepositoryStatus {
  now: Date;
  consistentSnapshot: boolean;
  /** Root versions that reached their thresholds (published as N.root.json). */
  rootVersions: number[];
  roles: RoleStatus[];
  /** Every problem, the most fundamental first (signatures, expiry, then snapshot/timestamp consistency). */
  problems: Problem[];
  /** No problem: publish would succeed. */
  ready: boolean;
}

const ORDER: ProblemKind[] = ['root-history', 'unsigned', 'expired', 'version', 'hashes'];

function short(keyids: string[]): string {
  return keyids.map((k) => `${k.slice(0, 12)}…`).join(', ');
}

/**
 * Why the file (version `version`, `length` bytes with `sha256`) does not match what `lister` says
 * of `file`, or undefined when it does. `bytes` reads the file, only for hashes other than sha256.
 */
async function metaMismatch(
  listed: MetaFile,
  actual: { version: number; length: number; sha256: string; bytes: () => Promise<Uint8Array> },
  lister: string,
  file: string,
  fix: string,
): Promise<{ kind: ProblemKind; message: string } | undefined> {
  if (listed.version !== actual.version) {
    return { kind: 'version', message: `${lister} lists ${file} at version ${listed.version}, but it is at version ${actual.version} (${fix})` };
  }
  if (listed.length !== undefined && listed.length !== actual.length) {
    return { kind: 'hashes', message: `${lister} lists ${file} with ${listed.length} bytes, the file has ${actual.length}: it changed or was signed since (${fix})` };
  }
  const differs = { kind: 'hashes' as const, message: `${lister} lists a different hash for ${file}: it changed or was signed since (${fix})` };
  const algorithms = Object.keys(listed.hashes ?? {});
  if (algorithms.length === 1 && algorithms[0] === 'sha256') return listed.hashes!.sha256 === actual.sha256 ? undefined : differs;
  try {
    listed.verifyLengthAndHashes(await actual.bytes(), file);
  } catch (e) {
    if (!(e instanceof LengthOrHashMismatchError)) throw e;
    return differs;
  }
  return undefined;
}

/** Every role's version, expiry and signatures, and every reason the repository cannot be published. */
/** `retired`: the last version of every removed delegated role (RepoSettings.retiredVersions). */
export async function repositoryStatus(store: RoleStore, index: RepoIndex, now: Date, retired: Readonly<Record<string, number>> = {}): Promise<RepositoryStatus> {
  const tree = await store.tree();
  const names = ['root', 'timestamp', 'snapshot', ...tree.map((n) => n.name)];
  const parents = new Map(tree.map((n) => [n.name, n.parent ?? 'root']));
  const roles: RoleStatus[] = [];
  const root = await store.load('root');
  const rootVersions = await store.rootVersions();

  for (const name of names) {
    // Targets roles as the index knows them (judged again only when their keys changed).
    let role: { type: RoleStatus['type']; version: number; expires: Date; sig: SignatureStatus; delegator: string };
    if (index.has(name)) {
      const r = index.role(name);
      role = { type: 'targets', version: r.version, expires: r.expires, sig: await index.signatures(name, store), delegator: parents.get(name)! };
    } else {
      const md: Metadata = await store.load(name);
      const auth = await store.authorisation(name);
      const previous = name === 'root' && md.signed.version > 1 ? await store.rootAt(md.signed.version - 1) : undefined;
      role = { type: md.signed.type, version: md.signed.version, expires: md.signed.expires, sig: signatureStatus(name, md, auth, previous ?? null), delegator: auth.delegator };
    }
    const { sig } = role;
    const problems: Problem[] = [];
    const add = (kind: ProblemKind, message: string): void => void problems.push({ role: name, kind, message });
    const v = role.version;
    if (!sig.verified) {
      add('unsigned', `role "${name}" version ${v}: ${sig.valid.length} of ${sig.threshold} needed signature(s) (still to sign: ${short(sig.missing) || 'no authorised key left'})`);
    }
    if (sig.previous && !sig.previous.found) {
      add('root-history', `root version ${v} cannot be checked: version ${sig.previous.version} is not in metadata/root_history`);
    } else if (sig.previous && !sig.previous.verified) {
      add(
        'unsigned',
        `role "root" version ${v}: ${sig.previous.valid.length} of ${sig.previous.threshold} needed signature(s) from the root keys of version ${sig.previous.version} (still to sign: ${short(sig.previous.missing)})`,
      );
    }
    if (now.getTime() >= role.expires.getTime()) { // as Signed.isExpired
      // A new snapshot or timestamp gets a fresh expiry (and must be signed anyway): one command.
      const fix = name === 'snapshot' || name === 'timestamp' ? `run tufkit ${name} again` : 'set a new expiry with tufkit expire';
      add('expired', `role "${name}" version ${v} expired at ${formatExpires(role.expires)} (${fix})`);
    }
    roles.push({
      name,
      type: role.type,
      delegator: role.delegator,
      version: v,
      expires: role.expires,
      expiresInMs: role.expires.getTime() - now.getTime(),
      signatures: sig,
      problems,
    });
  }
  const byName = new Map(roles.map((r) => [r.name, r]));
  const problem = (role: string, kind: ProblemKind, message: string): void => void byName.get(role)!.problems.push({ role, kind, message });

  // Root history: clients walk 1.root.json, 2.root.json, ... up to the current root.
  const current = root.signed.version;
  const complete = byName.get('root')!.signatures.complete;
  const expected = complete ? current : current - 1;
  for (let n = 1; n <= expected; n++) {
    if (!rootVersions.includes(n)) problem('root', 'root-history', `root version ${n} is missing from metadata/root_history: clients cannot walk from it to version ${current}`);
  }

  // Snapshot must list exactly the current targets roles, and the removed ones at their last version.
  const snapshot = await store.load('snapshot');
  const sv = snapshot.signed.version;
  for (const { name } of tree) {
    const listed = snapshot.signed.meta.get(`${name}.json`);
    if (!listed) {
      problem(name, 'version', `snapshot version ${sv} does not list ${name}.json (run tufkit snapshot)`);
      continue;
    }
    const actual = { ...index.role(name), bytes: () => store.bytes(name) };
    const m = await metaMismatch(listed, actual, `snapshot version ${sv}`, `${name}.json`, 'run tufkit snapshot');
    if (m) problem(name, m.kind, m.message);
  }
  const inTree = new Set(tree.map((n) => `${n.name}.json`));
  for (const [file, listed] of snapshot.signed.meta) {
    if (inTree.has(file)) continue;
    const last = retired[file.slice(0, -'.json'.length)];
    if (last === undefined) problem('snapshot', 'version', `snapshot version ${sv} lists ${file}, which is not a role any more (run tufkit snapshot)`);
    else if (listed.version !== last) problem('snapshot', 'version', `snapshot version ${sv} lists ${file} at version ${listed.version}, the removed role's last version is ${last} (run tufkit snapshot)`);
  }
  for (const [name, last] of Object.entries(retired)) {
    if (!inTree.has(`${name}.json`) && !snapshot.signed.meta.has(`${name}.json`)) {
      problem('snapshot', 'version', `snapshot version ${sv} does not list ${name}.json, the removed role (last version ${last}) that clients may still trust (run tufkit snapshot)`);
    }
  }

  // Timestamp must name the snapshot as it is.
  const timestamp = await store.load('timestamp');
  const snapshotBytes = await store.bytes('snapshot');
  const snapshotFile = { version: sv, length: snapshotBytes.length, sha256: sha256Hex(snapshotBytes), bytes: async () => snapshotBytes };
  const m = await metaMismatch(timestamp.signed.snapshotMeta, snapshotFile, `timestamp version ${timestamp.signed.version}`, 'snapshot.json', 'run tufkit timestamp');
  if (m) problem('timestamp', m.kind, m.message);

  const problems = roles.flatMap((r) => r.problems).sort((a, b) => ORDER.indexOf(a.kind) - ORDER.indexOf(b.kind));
  return {
    now,
    consistentSnapshot: root.signed.consistentSnapshot === true,
    rootVersions,
    roles,
    problems,
    ready: problems.length === 0,
  };
}

/** The error publish throws for `p` (and how many more problems there are). */
export function problemError(p: Problem, more: number): RepositoryError {
  const message = `cannot publish: ${p.message}${more > 0 ? ` (and ${more} more problem(s): see tufkit status)` : ''}`;
  switch (p.kind) {
    case 'unsigned':
      return new UnsignedMetadataError(message);
    case 'expired':
      return new ExpiredMetadataError(message);
    case 'version':
    case 'root-history':
      return new BadVersionError(message);
    case 'hashes':
      return new LengthOrHashMismatchError(message);
  }
}

/** "in 29d 23h" or "expired 3h ago". */
export function describeExpiry(ms: number): string {
  return ms > 0 ? formatRelative(ms) : `expired ${formatRelative(ms)}`;
}
