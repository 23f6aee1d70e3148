import { canonicalBytes, canonicalBytesCountingMembers } from '../crypto/canonical.js';
import { isAscii } from 'node:buffer';
import { objectMemberAt } from '../crypto/canonical-span.js';
import { checkMemberCount, countMembers, parseJSONCountingMembers, parseStrictJSON, parseTextCountingMembers } from '../crypto/json.js';
import type { Signer } from '../crypto/signer.js';
import { CanonicalJSONError, MetadataFormatError, UnsignedMetadataError, UsageError } from '../errors.js';
import { describe, FieldReader, type JSONObject } from './fields.js';
import { countThreshold, type Key } from './key.js';
import { Root, type TopLevelRole } from './root.js';
import type { Role } from './role.js';
import { Snapshot } from './snapshot.js';
import { Targets } from './targets.js';
import { TargetsIndex } from './targets-index.js';
import { Timestamp } from './timestamp.js';
import type { TargetFile } from './files.js';

export type AnySigned = Root | Timestamp | Snapshot | Targets;
export type SignedType = AnySigned['type'];
type SignedOf<K extends SignedType> = Extract<AnySigned, { type: K }>;

/** One signature: the signing key's id and the hex signature over the canonical signed bytes. */
export class Signature {
  constructor(
    readonly keyid: string,
    readonly sig: string,
    readonly unrecognized: JSONObject = {},
  ) {}

  static fromJSON(value: unknown, role: string, path: string): Signature {
    const r = FieldReader.of(value, role, path);
    return new Signature(r.string('keyid'), r.string('sig'), r.unrecognized());
  }

  toJSON(): JSONObject {
    return { ...this.unrecognized, keyid: this.keyid, sig: this.sig };
  }
}

/** How a role's signatures stand against the keys and threshold that a delegator set. */
export interface VerificationResult {
  role: string;
  threshold: number;
  /** Authorised keyids with a valid signature. */
  signed: Set<string>;
  /** Authorised keyids without one. */
  unsigned: Set<string>;
  verified: boolean;
}

function isJSONObject(v: unknown): v is JSONObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isEmptyObject(v: unknown): boolean {
  if (!isJSONObject(v)) return false;
  for (const k in v) if (Object.hasOwn(v, k)) return false;
  return true;
}

const PARSERS: { [K in SignedType]: (v: unknown, role?: string) => SignedOf<K> } = {
  root: Root.fromJSON,
  timestamp: Timestamp.fromJSON,
  snapshot: Snapshot.fromJSON,
  targets: Targets.fromJSON,
};

/** A signed role file: `signed` plus `signatures`, with unknown top-level fields kept. */
export class Metadata<T extends AnySigned = AnySigned> {
  constructor(
    public signed: T,
    /** keyid -> signature; one signature per key. */
    public signatures: Map<string, Signature> = new Map(),
    public unrecognized: JSONObject = {},
  ) {}

  /**
   * Reads metadata from a parsed JSON object, choosing the type from `signed._type`, or
   * insisting on `type` when given. `role` names the file in error messages. Target entries are
   * kept as read (see Targets.fromJSON): `value` must not be changed afterwards.
   */
  static fromJSON<K extends SignedType>(value: unknown, type: K, role?: string): Metadata<SignedOf<K>>;
  static fromJSON(value: unknown, type?: SignedType, role?: string): Metadata;
  static fromJSON(value: unknown, type?: SignedType, role?: string): Metadata {
    const signedValue = typeof value === 'object' && value !== null ? (value as JSONObject).signed : undefined;
    const actualType = typeof signedValue === 'object' && signedValue !== null ? (signedValue as JSONObject)._type : undefined;
    const name = role ?? type ?? (typeof actualType === 'string' ? actualType : '');
    const r = FieldReader.of(value, name, '');
    const sigList = r.array('signatures');
    r.object('signed');
    const want = type ?? actualType;
    if (typeof want !== 'string' || !(want in PARSERS)) {
      throw new MetadataFormatError(name, 'signed._type', `expected one of root, timestamp, snapshot, targets, got ${describe(actualType)}`);
    }
    const parsed = PARSERS[want as SignedType](r.raw('signed'), name || want);
    const signatures = new Map<string, Signature>();
    sigList.forEach((v, i) => {
      const sig = Signature.fromJSON(v, name, `signatures[${i}]`);
      if (signatures.has(sig.keyid)) {
        throw new MetadataFormatError(name, `signatures[${i}].keyid`, `key ${sig.keyid} signed more than once`);
      }
      signatures.set(sig.keyid, sig);
    });
    return new Metadata(parsed, signatures, r.unrecognized());
  }

  /** Reads metadata from file bytes with strict JSON rules (see parseStrictJSON). */
  static fromBytes<K extends SignedType>(bytes: Uint8Array, type: K, role?: string): Metadata<SignedOf<K>>;
  static fromBytes(bytes: Uint8Array, type?: SignedType, role?: string): Metadata;
  static fromBytes(bytes: Uint8Array, type?: SignedType, role?: string): Metadata {
    return Metadata.fromJSON(parseStrictJSON(bytes, role ?? type ?? ''), type, role);
  }

  /**
   * Reads metadata from file bytes like fromBytes, and also returns the canonical bytes of `signed`
   * exactly as the file holds it: what its signatures must cover. A client verifies these rather
   * than `signedBytes()`, which would rebuild the same JSON from the model (a large targets role is
   * then encoded straight from the parsed file, without a second copy of its tree).
   */
  static fromBytesForVerification<K extends SignedType>(
    bytes: Uint8Array,
    type: K,
    role?: string,
  ): { metadata: Metadata<SignedOf<K>>; signedBytes: Uint8Array } {
    try {
      return Metadata.readForVerification(bytes, type, role);
    } catch (e) {
      // What cannot be encoded cannot have been signed; the error names the role it was read for.
      if (e instanceof CanonicalJSONError && !e.role) throw new CanonicalJSONError(e.field, e.reason, role ?? type);
      throw e;
    }
  }

  private static readForVerification<K extends SignedType>(
    bytes: Uint8Array,
    type: K,
    role?: string,
  ): { metadata: Metadata<SignedOf<K>>; signedBytes: Uint8Array } {
    if (type === 'targets') {
      const read = Metadata.readCanonicalTargets(bytes, role ?? type);
      if (read) return read as { metadata: Metadata<SignedOf<K>>; signedBytes: Uint8Array };
    }
    const parsed = parseJSONCountingMembers(bytes, role ?? type, { findSignedSpan: true });
    const value = parsed.value;
    const signed = isJSONObject(value) ? value.signed : undefined;
    if (!isJSONObject(signed)) {
      checkMemberCount(parsed, countMembers(value));
      return { metadata: Metadata.fromJSON(value, type, role), signedBytes: canonicalBytes(signed, 'signed') };
    }
    // Written in canonical form already (as tufkit writes it): the file holds the signed bytes.
    const span = parsed.signedSpan;
    if (span) {
      checkMemberCount(parsed, span.members + countMembers(value, signed));
      return { metadata: Metadata.fromJSON(value, type, role), signedBytes: bytes.subarray(span.start, span.end) };
    }
    // The encoder visits every member of `signed` anyway: its count, plus the members outside
    // `signed`, rules out repeated names without a second walk of a large role. A file spends at
    // least as many bytes on `signed` as its canonical form takes, so the buffer never regrows.
    const { bytes: signedBytes, members } = canonicalBytesCountingMembers(signed, 'signed', bytes.length);
    checkMemberCount(parsed, members + countMembers(value, signed));
    return { metadata: Metadata.fromJSON(value, type, role), signedBytes };
  }

  /**
   * @internal The target files the targets role file `bytes` lists, for a file whose bytes were
   * verified already (publish: the repository index judged these very bytes). A canonical file,
   * as tufkit writes it, has its entries read in place and nothing else parsed; any other is read
   * in full. Each iteration walks the entries again, building each file as it goes.
   */
  static listedTargetFiles(bytes: Uint8Array, role: string): Iterable<TargetFile> {
    if (isAscii(bytes)) {
      const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
      const open = objectMemberAt(text, ['signed', 'targets']);
      const found = open < 0 ? undefined : TargetsIndex.of(text, open, role);
      if (found) return { [Symbol.iterator]: () => found.index.files() };
    }
    const targets = Metadata.fromBytes(bytes, 'targets', role).signed;
    return { [Symbol.iterator]: () => targets.files() };
  }

  /**
   * A targets role whose `signed` is canonical ASCII text, read with its target entries indexed in
   * place (see targets-index.ts) and the rest parsed with `{}` standing for them. Undefined when the
   * file is anything else, or wrong in any way: the general way then reads it, or says what is wrong.
   */
  private static readCanonicalTargets(bytes: Uint8Array, role: string): { metadata: Metadata<Targets>; signedBytes: Uint8Array } | undefined {
    if (!isAscii(bytes)) return undefined;
    const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('latin1');
    const open = objectMemberAt(text, ['signed', 'targets']);
    if (open < 0) return undefined;
    const found = TargetsIndex.of(text, open, role);
    if (!found) return undefined;
    const rest = `${text.slice(0, open)}{}${text.slice(found.end)}`;
    const removed = found.end - open - 2;
    try {
      const parsed = parseTextCountingMembers(rest, true, role, { findSignedSpan: true });
      const span = parsed.signedSpan;
      const value = parsed.value;
      const signed = isJSONObject(value) ? value.signed : undefined;
      // The `{}` in `rest` must be the very `signed.targets` JSON.parse read, inside the canonical span.
      if (!span || span.start >= open || span.end <= open || !isJSONObject(signed) || !isEmptyObject(signed.targets)) return undefined;
      checkMemberCount(parsed, span.members + countMembers(value, signed));
      const metadata = Metadata.fromJSON(value, 'targets', role);
      Targets.withIndex(metadata.signed, found.index);
      return { metadata, signedBytes: bytes.subarray(span.start, span.end + removed) };
    } catch {
      return undefined;
    }
  }

  toJSON(): JSONObject {
    return {
      ...this.unrecognized,
      signatures: [...this.signatures.values()].map((s) => s.toJSON()),
      signed: this.signed.toJSON(),
    };
  }

  /** The file as tufkit writes it (see metadataFileBytes). */
  toBytes(): Uint8Array {
    const signedJson = this.signed.toJSON();
    // Encoding first also refuses to write what could never be signed or verified.
    return metadataFileBytes(this, canonicalBytes(signedJson, 'signed'), signedJson);
  }

  /** The canonical bytes of `signed`: what every signature is over. */
  signedBytes(): Uint8Array {
    return canonicalBytes(this.signed.toJSON(), 'signed');
  }

  /** Signs with `signer`, replacing any earlier signature by the same key (or all others when `append` is false). */
  async sign(signer: Signer, append = true): Promise<Signature> {
    const bytes = await signer.sign(this.signedBytes());
    const sig = new Signature(signer.keyid, Buffer.from(bytes).toString('hex'));
    if (!append) this.signatures.clear();
    this.signatures.set(sig.keyid, sig);
    return sig;
  }

  /** The keys and role (keyids, threshold) with which this root or targets role delegates `name`. */
  private delegation(name: string): { keys: Map<string, Key>; role: Role } {
    const s = this.signed;
    if (s instanceof Root) {
      const role = s.roles.get(name as TopLevelRole);
      if (role) return { keys: s.keys, role };
    } else if (s instanceof Targets && s.delegations) {
      const role = s.delegations.getRole(name);
      if (role) return { keys: s.delegations.keys, role };
    }
    throw new UsageError(`${this.signed.type} does not delegate a role named "${name}"`);
  }

  /**
   * Counts the authorised keys with a valid signature on `delegated`. A signature from an
   * unknown key, an empty or malformed signature, or a key of a scheme tufkit does not support
   * never counts, and never throws. `signedBytes` may be passed when already computed.
   */
  verificationResult(name: string, delegated: Metadata, signedBytes?: Uint8Array): VerificationResult {
    const { keys, role } = this.delegation(name);
    const count = countThreshold(role.keyids, keys, role.threshold, delegated.signatures, signedBytes ?? delegated.signedBytes());
    return { role: name, threshold: role.threshold, signed: new Set(count.valid), unsigned: new Set(count.missing), verified: count.verified };
  }

  /** Throws UnsignedMetadataError unless a threshold of authorised keys signed `delegated`. */
  verifyDelegate(name: string, delegated: Metadata, signedBytes?: Uint8Array, file?: string): void {
    const result = this.verificationResult(name, delegated, signedBytes);
    if (!result.verified) {
      throw new UnsignedMetadataError(
        `role "${name}"${file ? ` (${file})` : ''}: ${result.signed.size} valid signature(s) from authorised keys, ${result.threshold} needed`,
      );
    }
  }
}

/**
 * The file of `md`, whose `signed` is `signedJson` with canonical bytes `signedBytes`: the members
 * around `signed` as plain JSON, and `signed` exactly in its canonical form, so that a client finds
 * the bytes the signatures cover in the file instead of re-encoding it (crypto/canonical-span.ts).
 * Canonical JSON writes control characters raw, which JSON parsers refuse: a `signed` holding one
 * (the newlines of a PEM key) is written as plain JSON instead.
 */
export function metadataFileBytes(md: Metadata, signedBytes: Uint8Array, signedJson: unknown): Uint8Array {
  const around = JSON.stringify({ ...md.unrecognized, signatures: [...md.signatures.values()].map((s) => s.toJSON()) });
  const signed = hasControlByte(signedBytes) ? Buffer.from(JSON.stringify(signedJson), 'utf8') : signedBytes;
  return Buffer.concat([Buffer.from(`${around.slice(0, -1)},"signed":`, 'utf8'), signed, Buffer.from('}')]);
}

function hasControlByte(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i]! < 0x20) return true;
  return false;
}
