import { computeKeyid } from '../crypto/keyid.js';
import { publicKeyIdentity, verifySignature } from '../crypto/verify.js';
import { FieldReader, type JSONObject } from './fields.js';

/** A public key as listed in root or in a delegation, under its keyid. */
export class Key {
  constructor(
    readonly keyid: string,
    readonly keytype: string,
    readonly scheme: string,
    readonly keyval: { public: string } & JSONObject,
    readonly unrecognized: JSONObject = {},
  ) {}

  static fromJSON(keyid: string, value: unknown, role: string, path: string): Key {
    const r = FieldReader.of(value, role, path);
    const keytype = r.string('keytype');
    const scheme = r.string('scheme');
    const kv = r.object('keyval');
    const pub = kv.string('public');
    return new Key(keyid, keytype, scheme, { ...kv.unrecognized(), public: pub }, r.unrecognized());
  }

  /** A key whose keyid is derived from its JSON form (for keys being added to metadata). */
  static fromPublicJSON(value: JSONObject): Key {
    return Key.fromJSON(computeKeyid(value), value, '', 'key');
  }

  toJSON(): JSONObject {
    return { ...this.unrecognized, keytype: this.keytype, scheme: this.scheme, keyval: { ...this.keyval } };
  }

  /** True when the keyid is the sha256 of this key's canonical JSON, as the spec defines it. */
  keyidMatches(): boolean {
    return computeKeyid(this.toJSON()) === this.keyid;
  }

  /**
   * Checks one signature over `data`. False for any bad, empty or malformed signature; throws
   * only when the key itself cannot be used (unsupported scheme, malformed public key).
   */
  verify(sigHex: string, data: Uint8Array): boolean {
    if (sigHex.length === 0 || sigHex.length % 2 !== 0 || !/^[0-9a-fA-F]+$/.test(sigHex)) return false;
    return verifySignature(this, Buffer.from(sigHex, 'hex'), data);
  }
}

/** How the keys authorised for a role stand on its signatures. */
export interface ThresholdCount {
  /** Authorised keyids whose signature counts. */
  valid: string[];
  /**
   * Authorised keyids that do not count: no signature, one that does not verify, a key tufkit
   * cannot use, or a key that already counted under another keyid.
   */
  missing: string[];
  verified: boolean;
}

/**
 * The threshold counter, the client's and the repository tools' alike: which of `keyids` (keys
 * from `keys`) have a valid signature over `data` in `signatures`, and whether `threshold` of them
 * do. One key counts once however many keyids list it and however its JSON writes it (same key
 * material: publicKeyIdentity). Missing keys, unusable keys and malformed signatures never count
 * and never throw.
 */
export function countThreshold(
  keyids: readonly string[],
  keys: ReadonlyMap<string, Key>,
  threshold: number,
  signatures: ReadonlyMap<string, { readonly sig: string }>,
  data: Uint8Array,
): ThresholdCount {
  const valid: string[] = [];
  const missing: string[] = [];
  const counted = new Set<string>();
  for (const keyid of keyids) {
    const key = keys.get(keyid);
    const sig = signatures.get(keyid);
    let ok = false;
    if (key && sig) {
      try {
        const identity = publicKeyIdentity(key);
        ok = !counted.has(identity) && key.verify(sig.sig, data);
        if (ok) counted.add(identity);
      } catch {
        ok = false; // a key tufkit cannot use never counts; the others still can
      }
    }
    (ok ? valid : missing).push(keyid);
  }
  return { valid, missing, verified: valid.length >= threshold };
}

/** Reads a keyid -> key map. */
export function readKeys(entries: [string, unknown][], role: string, path: string): Map<string, Key> {
  const keys = new Map<string, Key>();
  for (const [keyid, value] of entries) keys.set(keyid, Key.fromJSON(keyid, value, role, `${path}.${keyid}`));
  return keys;
}

export function keysToJSON(keys: Map<string, Key>): JSONObject {
  const out: JSONObject = {};
  for (const [keyid, key] of keys) out[keyid] = key.toJSON();
  return out;
}

