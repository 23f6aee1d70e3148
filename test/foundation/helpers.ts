import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { VECTORS_DIR } from '../helpers/vectors.js';

/** A small seeded PRNG (mulberry32) so that generated and fuzzed cases are reproducible. */
export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  /** Uniform integer in [0, n). */
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
}

export function rng(seed: number): Rng {
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const int = (n: number): number => Math.floor(next() * n);
  return { next, int, pick: (items) => items[int(items.length)]! };
}

export const VECTORS = VECTORS_DIR;
export const PYTHON_TUF = join(VECTORS, 'python-tuf');
export const SIGSTORE = join(VECTORS, 'sigstore-root-signing');

export interface VectorFile {
  /** Path relative to VECTORS, e.g. "python-tuf/repository/metadata/root.json". */
  name: string;
  bytes: Buffer;
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const p = join(dir, entry);
    return statSync(p).isDirectory() ? walk(p) : [p];
  });
}

/** Every metadata file (JSON with `signed` and `signatures`) under the two vector folders. */
export function metadataVectors(): VectorFile[] {
  return [PYTHON_TUF, SIGSTORE]
    .flatMap(walk)
    .filter((p) => p.endsWith('.json') && !p.includes('/targets/'))
    .sort()
    .map((p) => ({ name: relative(VECTORS, p), bytes: readFileSync(p) }));
}

/**
 * The [start, end) byte range of the value of the top-level member `name` in a JSON file's bytes
 * (scanning bytes: multi-byte UTF-8 never contains `"`, `\`, brackets or `:`).
 */
export function memberRange(bytes: Uint8Array, name: string): [number, number] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < bytes.length; i++) {
    const c = bytes[i]!;
    if (c === 0x22) {
      let j = i + 1;
      while (bytes[j] !== 0x22) j += bytes[j] === 0x5c ? 2 : 1;
      const text = Buffer.from(bytes.subarray(i, j + 1)).toString('utf8');
      if (depth === 1 && start < 0) {
        let k = j + 1;
        while (bytes[k] === 0x20 || bytes[k] === 0x0a || bytes[k] === 0x0d || bytes[k] === 0x09) k++;
        if (bytes[k] === 0x3a && JSON.parse(text) === name) {
          k++;
          while (bytes[k] === 0x20 || bytes[k] === 0x0a || bytes[k] === 0x0d || bytes[k] === 0x09) k++;
          start = k;
          if (bytes[k] === 0x22) {
            // a string value: its end is its closing quote
            let m = k + 1;
            while (bytes[m] !== 0x22) m += bytes[m] === 0x5c ? 2 : 1;
            return [start, m + 1];
          }
        }
      }
      i = j;
    } else if (c === 0x7b || c === 0x5b) {
      depth++;
    } else if (c === 0x7d || c === 0x5d) {
      depth--;
      if (start >= 0 && depth === 1) return [start, i + 1];
    }
  }
  throw new Error(`no top-level member "${name}"`);
}

/** A structured deep copy of parsed JSON. */
export function clone<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

const PT = 'python-tuf/repository/metadata';
const FISHY = 'python-tuf/fishy_rolenames';
const GEN = 'python-tuf/generated';
const SIG = 'sigstore-root-signing/metadata';
export const VECTOR_DIRS = { PT, FISHY, GEN, SIG };

/** [file, delegator file, role name as the delegator knows it]; root files are their own delegator. */
export const DELEGATIONS: [string, string, string][] = [
  [`${PT}/root.json`, `${PT}/root.json`, 'root'],
  [`${PT}/1.root.json`, `${PT}/1.root.json`, 'root'],
  [`${PT}/timestamp.json`, `${PT}/root.json`, 'timestamp'],
  [`${PT}/snapshot.json`, `${PT}/root.json`, 'snapshot'],
  [`${PT}/targets.json`, `${PT}/root.json`, 'targets'],
  [`${PT}/role1.json`, `${PT}/targets.json`, 'role1'],
  [`${PT}/role2.json`, `${PT}/role1.json`, 'role2'],
  [`${FISHY}/metadata/1.root.json`, `${FISHY}/metadata/1.root.json`, 'root'],
  [`${FISHY}/metadata/timestamp.json`, `${FISHY}/metadata/1.root.json`, 'timestamp'],
  [`${FISHY}/metadata/2.snapshot.json`, `${FISHY}/metadata/1.root.json`, 'snapshot'],
  [`${FISHY}/metadata/1.targets.json`, `${FISHY}/metadata/1.root.json`, 'targets'],
  [`${FISHY}/metadata/1...json`, `${FISHY}/metadata/1.targets.json`, '.'],
  [`${FISHY}/metadata/1.ö.json`, `${FISHY}/metadata/1.targets.json`, 'ö'],
  [`${FISHY}/1.a.json`, `${FISHY}/metadata/1.targets.json`, '../a'],
  [`${GEN}/root_with_ed25519.json`, `${GEN}/root_with_ed25519.json`, 'root'],
  [`${GEN}/timestamp_with_ed25519.json`, `${GEN}/root_with_ed25519.json`, 'timestamp'],
  [`${GEN}/snapshot_with_ed25519.json`, `${GEN}/root_with_ed25519.json`, 'snapshot'],
  [`${GEN}/targets_with_ed25519.json`, `${GEN}/root_with_ed25519.json`, 'targets'],
  ['sigstore-root-signing/initial_root.json', 'sigstore-root-signing/initial_root.json', 'root'],
  [`${SIG}/12.root.json`, `${SIG}/12.root.json`, 'root'],
  [`${SIG}/13.root.json`, `${SIG}/13.root.json`, 'root'],
  [`${SIG}/13.root.json`, `${SIG}/12.root.json`, 'root'],
  [`${SIG}/14.root.json`, `${SIG}/14.root.json`, 'root'],
  [`${SIG}/14.root.json`, `${SIG}/13.root.json`, 'root'],
  [`${SIG}/15.root.json`, `${SIG}/15.root.json`, 'root'],
  [`${SIG}/15.root.json`, `${SIG}/14.root.json`, 'root'],
  [`${SIG}/timestamp.json`, `${SIG}/15.root.json`, 'timestamp'],
  [`${SIG}/165.snapshot.json`, `${SIG}/15.root.json`, 'snapshot'],
  [`${SIG}/14.targets.json`, `${SIG}/15.root.json`, 'targets'],
  [`${SIG}/8.registry.npmjs.org.json`, `${SIG}/14.targets.json`, 'registry.npmjs.org'],
];
