import { bytesToHex, constantTimeEqual, createHasher, digest, isSupportedHashAlgorithm, type Hasher } from '../crypto/hash.js';
import { LengthOrHashMismatchError } from '../errors.js';
import { FieldReader, type JSONObject } from './fields.js';

/**
 * Checks `data` against a trusted length and every trusted hash. Every listed hash must match:
 * one unsupported algorithm fails the check, since skipping it would let a weaker hash decide.
 */
export function verifyLengthAndHashes(
  data: Uint8Array,
  length: number | undefined,
  hashes: Record<string, string> | undefined,
  what: string,
): void {
  if (length !== undefined && data.length !== length) {
    throw new LengthOrHashMismatchError(`${what}: expected ${length} bytes, got ${data.length}`);
  }
  if (hashes) verifyDigests(Object.entries(hashes).map(([alg, hex]) => [alg, hex, computeDigest(alg, data, what)]), what);
}

function checkAlgorithm(alg: string, what: string): void {
  if (!isSupportedHashAlgorithm(alg)) throw new LengthOrHashMismatchError(`${what}: hash algorithm "${alg}" is not supported`);
}

function computeDigest(alg: string, data: Uint8Array, what: string): Uint8Array {
  checkAlgorithm(alg, what);
  return digest(alg, data);
}

/** Compares [algorithm, expected hex, actual digest] triples without shortcuts. */
export function verifyDigests(checks: [string, string, Uint8Array][], what: string): void {
  for (const [alg, expectedHex, actual] of checks) {
    // The model only admits hex digests; an odd length decodes short and fails the length check.
    const expected = Buffer.from(expectedHex, 'hex');
    const same = expectedHex.length === expected.length * 2 && constantTimeEqual(expected, actual);
    if (!same) throw new LengthOrHashMismatchError(`${what}: ${alg} hash is ${bytesToHex(actual)}, expected ${expectedHex}`);
  }
}

/** Hashes computed incrementally while bytes stream in (downloads are verified in one pass). */
export class StreamingVerifier {
  private readonly hashers: [string, string, Hasher][];
  private received = 0;

  constructor(
    private readonly length: number | undefined,
    hashes: Record<string, string> | undefined,
    private readonly what: string,
  ) {
    this.hashers = Object.entries(hashes ?? {}).map(([alg, hex]) => {
      checkAlgorithm(alg, what);
      return [alg, hex, createHasher(alg)];
    });
  }

  update(chunk: Uint8Array): void {
    this.received += chunk.length;
    for (const [, , h] of this.hashers) h.update(chunk);
  }

  finish(): void {
    if (this.length !== undefined && this.received !== this.length) {
      throw new LengthOrHashMismatchError(`${this.what}: expected ${this.length} bytes, got ${this.received}`);
    }
    verifyDigests(this.hashers.map(([alg, hex, h]) => [alg, hex, h.digest()]), this.what);
  }
}

/** A metadata file as listed in timestamp or snapshot: version, and optionally length and hashes. */
export class MetaFile {
  constructor(
    public version: number,
    public length?: number,
    public hashes?: Record<string, string>,
    public unrecognized: JSONObject = {},
  ) {}

  static fromJSON(value: unknown, role: string, path: string): MetaFile {
    const r = FieldReader.of(value, role, path);
    const version = r.integer('version', 1);
    const length = r.optionalInteger('length', 0);
    const hashes = r.has('hashes') ? r.hashes('hashes') : (r.optionalRaw('hashes'), undefined);
    return new MetaFile(version, length, hashes, r.unrecognized());
  }

  toJSON(): JSONObject {
    const out: JSONObject = { ...this.unrecognized, version: this.version };
    if (this.length !== undefined) out.length = this.length;
    if (this.hashes) out.hashes = { ...this.hashes };
    return out;
  }

  verifyLengthAndHashes(data: Uint8Array, what: string): void {
    verifyLengthAndHashes(data, this.length, this.hashes, what);
  }
}

/** A target file as listed in a targets role: length, hashes and optional custom data. */
export class TargetFile {
  constructor(
    public path: string,
    public length: number,
    public hashes: Record<string, string>,
    public unrecognized: JSONObject = {},
  ) {}

  static fromJSON(path: string, value: unknown, role: string, field: string): TargetFile {
    const r = FieldReader.of(value, role, field);
    const length = r.integer('length', 0);
    const hashes = r.hashes('hashes');
    return new TargetFile(path, length, hashes, r.unrecognized());
  }

  /** Describes `data` as a target, with the given hash algorithms. */
  static fromData(path: string, data: Uint8Array, algorithms: string[] = ['sha256']): TargetFile {
    const hashes: Record<string, string> = {};
    for (const alg of algorithms) hashes[alg] = bytesToHex(digest(alg, data));
    return new TargetFile(path, data.length, hashes);
  }

  /** The `custom` field (kept among the unrecognized fields so it round-trips untouched). */
  get custom(): unknown {
    return this.unrecognized.custom;
  }

  toJSON(): JSONObject {
    return { ...this.unrecognized, length: this.length, hashes: { ...this.hashes } };
  }

  verifyLengthAndHashes(data: Uint8Array): void {
    verifyLengthAndHashes(data, this.length, this.hashes, `target "${this.path}"`);
  }
}
