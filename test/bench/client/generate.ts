import { createHash, randomBytes } from 'node:crypto';
import { copyFile, link, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { InMemorySigner, type Signer } from '../../../src/crypto/signer.js';
import {
  Delegations,
  Key,
  Metadata,
  MetaFile,
  Root,
  Snapshot,
  SuccinctRoles,
  TargetFile,
  Targets,
  Timestamp,
  type AnySigned,
} from '../../../src/models/index.js';

// Benchmark repositories built with tufkit's model API and published the way a client fetches
// them with consistent snapshots: metadata/1.root.json, metadata/timestamp.json,
// metadata/V.snapshot.json, metadata/V.<role>.json, targets/<dir>/<sha256>.<name>.

export const BIG_TARGET_PATH = 'releases/app-10mb.bin';
export const BIG_TARGET_SIZE = 10 * 1024 * 1024;

export interface RepoSpec {
  /** Folder name under the bench dir, also the URL prefix. */
  name: string;
  /** Row label in the report. */
  label: string;
  /** Number of ordinary targets (the 10 MB target comes on top). */
  targets: number;
  /** 0: every target in the top-level role; otherwise the bit length of succinct hash bins. */
  binBits: number;
}

export interface GeneratedRepo {
  spec: RepoSpec;
  /** metadata/ and targets/ underneath. */
  dir: string;
  /** The trust anchor a client starts from. */
  rootFile: string;
  /** An ordinary target path, looked up first. */
  lookupPath: string;
  bigTargetPath: string;
  /**
   * The metadata files the flow verifies beyond timestamp (snapshot, targets, the bins it
   * visits), with the public key that signs each: what the floor is computed over.
   */
  floorFiles: { file: string; publicKeyHex: string }[];
  /**
   * The GETs tufkit's flow makes, in order, relative to the repository's URL: `file` is the name
   * tufkit stores the body under in the metadata dir, `download` marks the target download.
   */
  flow: { path: string; status: number; file?: string; download?: boolean }[];
  /** Bytes of the targets metadata a client must verify (sum over floorFiles that are targets roles). */
  targetsMetadataBytes: number;
}

/** Plausible, distinct target paths: a few hundred packages, nested version folders. */
export function targetPath(i: number): string {
  return `packages/pkg-${i % 997}/${1 + (i % 7)}.${i % 13}.${i}/artifact-${i}.tar.gz`;
}

function sha256Hex(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Fake but well-formed target descriptions: the bench never downloads these. */
function fakeTarget(i: number): TargetFile {
  const path = targetPath(i);
  return new TargetFile(path, 1024 + ((i * 7919) % 5_000_000), { sha256: sha256Hex(path) });
}

function keyOf(signer: Signer): Key {
  return Key.fromPublicJSON(signer.publicKey as Record<string, unknown>);
}

async function signed(md: Metadata<AnySigned>, signer: Signer): Promise<Uint8Array> {
  await md.sign(signer, false);
  return md.toBytes();
}

function metaFileOf(bytes: Uint8Array, version: number): MetaFile {
  return new MetaFile(version, bytes.length, { sha256: sha256Hex(bytes) });
}

async function write(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, bytes);
}

/** The 10 MB target's content, written once and linked into every repository. */
export async function writeBigTarget(benchDir: string): Promise<{ file: string; info: TargetFile }> {
  const data = randomBytes(BIG_TARGET_SIZE);
  const file = join(benchDir, 'big-target.bin');
  await writeFile(file, data);
  return { file, info: TargetFile.fromData(BIG_TARGET_PATH, data) };
}

export async function generateRepo(
  benchDir: string,
  spec: RepoSpec,
  big: { file: string; info: TargetFile },
): Promise<GeneratedRepo> {
  const dir = join(benchDir, spec.name);
  const metadataDir = join(dir, 'metadata');
  const expires = new Date(Date.now() + 365 * 86400_000);
  const signers = {
    root: InMemorySigner.generate('ed25519'),
    timestamp: InMemorySigner.generate('ed25519'),
    snapshot: InMemorySigner.generate('ed25519'),
    targets: InMemorySigner.generate('ed25519'),
    bins: InMemorySigner.generate('ed25519'),
  };
  const publicHex = (s: Signer): string => s.publicKey.keyval.public;

  const root = new Root({ version: 1, expires: new Date(expires), consistentSnapshot: true });
  for (const role of ['root', 'timestamp', 'snapshot', 'targets'] as const) root.addKey(keyOf(signers[role]), role);
  const rootBytes = await signed(new Metadata(root), signers.root);
  const rootFile = join(metadataDir, '1.root.json');
  await write(rootFile, rootBytes);

  const all = Array.from({ length: spec.targets }, (_, i) => fakeTarget(i));
  all.push(big.info);
  const lookupPath = targetPath(Math.floor(spec.targets / 2));

  const top = new Targets({ version: 1, expires: new Date(expires) });
  const snapshotMeta = new Map<string, MetaFile>();
  const floorFiles: GeneratedRepo['floorFiles'] = [];
  let targetsMetadataBytes = 0;
  const visitedBins: string[] = [];

  if (spec.binBits === 0) {
    for (const tf of all) top.targets.set(tf.path, tf);
  } else {
    const succinct = new SuccinctRoles([signers.bins.keyid], 1, spec.binBits, 'bins');
    top.delegations = new Delegations(new Map([[signers.bins.keyid, keyOf(signers.bins)]]), undefined, succinct);
    const bins = new Map<string, Targets>();
    for (const name of succinct.getRoles()) bins.set(name, new Targets({ version: 1, expires: new Date(expires) }));
    for (const tf of all) bins.get(succinct.getRoleForTarget(tf.path))!.targets.set(tf.path, tf);
    // In lookup order: the ordinary target's bin, then the 10 MB target's.
    const visited = new Set([succinct.getRoleForTarget(lookupPath), succinct.getRoleForTarget(big.info.path)]);
    visitedBins.push(...visited);
    for (const [name, bin] of bins) {
      const bytes = await signed(new Metadata(bin), signers.bins);
      const file = join(metadataDir, `1.${name}.json`);
      await write(file, bytes);
      snapshotMeta.set(`${name}.json`, metaFileOf(bytes, 1));
      if (visited.has(name)) {
        floorFiles.push({ file, publicKeyHex: publicHex(signers.bins) });
        targetsMetadataBytes += bytes.length;
      }
    }
  }

  const topBytes = await signed(new Metadata(top), signers.targets);
  const topFile = join(metadataDir, '1.targets.json');
  await write(topFile, topBytes);
  snapshotMeta.set('targets.json', metaFileOf(topBytes, 1));
  floorFiles.unshift({ file: topFile, publicKeyHex: publicHex(signers.targets) });
  targetsMetadataBytes += topBytes.length;

  const snapshotBytes = await signed(new Metadata(new Snapshot({ version: 1, expires: new Date(expires), meta: snapshotMeta })), signers.snapshot);
  const snapshotFile = join(metadataDir, '1.snapshot.json');
  await write(snapshotFile, snapshotBytes);
  if (spec.binBits !== 0) floorFiles.unshift({ file: snapshotFile, publicKeyHex: publicHex(signers.snapshot) });

  const timestamp = new Timestamp({ version: 1, expires: new Date(expires), snapshotMeta: metaFileOf(snapshotBytes, 1) });
  await write(join(metadataDir, 'timestamp.json'), await signed(new Metadata(timestamp), signers.timestamp));

  const slash = big.info.path.lastIndexOf('/');
  const servedName = `${big.info.path.slice(0, slash + 1)}${big.info.hashes.sha256}.${big.info.path.slice(slash + 1)}`;
  const bigFile = join(dir, 'targets', servedName);
  await mkdir(dirname(bigFile), { recursive: true });
  await link(big.file, bigFile).catch(() => copyFile(big.file, bigFile));

  const flow: GeneratedRepo['flow'] = [
    { path: 'metadata/2.root.json', status: 404 },
    { path: 'metadata/timestamp.json', status: 200, file: 'timestamp.json' },
    { path: 'metadata/1.snapshot.json', status: 200, file: 'snapshot.json' },
    { path: 'metadata/1.targets.json', status: 200, file: 'targets.json' },
    ...visitedBins.map((name) => ({ path: `metadata/1.${name}.json`, status: 200, file: `${name}.json` })),
    { path: `targets/${servedName}`, status: 200, download: true },
  ];
  return { spec, dir, rootFile, lookupPath, bigTargetPath: big.info.path, floorFiles, flow, targetsMetadataBytes };
}
