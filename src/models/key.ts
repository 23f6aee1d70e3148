import { computeKeyid } from '../crypto/keyid.js';
import { verifySignature } from '../crypto/verify.js';
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

