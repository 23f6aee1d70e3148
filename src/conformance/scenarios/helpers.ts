import { canonicalBytes } from '../../crypto/canonical.js';
import type { Signer } from '../../crypto/signer.js';
import { Metadata, type AnySigned } from '../../models/metadata.js';
import { parseExpires } from '../../models/fields.js';
import { EXPIRED_AT } from '../format.js';
import type { RepoSim } from '../sim.js';

export const EXPIRED = parseExpires(EXPIRED_AT)!;

export type JSONValue = null | boolean | number | string | JSONValue[] | { [k: string]: JSONValue };
export type JSONDoc = { [k: string]: JSONValue };

/** Parses metadata bytes for editing. */
export function parse(bytes: Uint8Array): JSONDoc {
  return JSON.parse(Buffer.from(bytes).toString('utf8')) as JSONDoc;
}

/** Canonical bytes (what signatures are over). */
export function canonical(doc: JSONValue): Uint8Array {
  return canonicalBytes(doc);
}

/**
 * A document as a file: plain JSON (tufkit's own files hold `signed` in canonical form, see
 * metadataFileBytes; an edited document need not).
 */
export function serialize(doc: JSONValue): Uint8Array {
  return new Uint8Array(Buffer.from(JSON.stringify(doc)));
}

/** `bytes` with `edit` applied to the parsed document (signatures untouched: they no longer match). */
export function edited(bytes: Uint8Array, edit: (doc: JSONDoc) => void): Uint8Array {
  const doc = parse(bytes);
  edit(doc);
  return serialize(doc);
}

/** `bytes` as text with one substring replaced (for JSON no encoder would write). */
export function replaced(bytes: Uint8Array, from: string | RegExp, to: string): Uint8Array {
  const text = Buffer.from(bytes).toString('utf8');
  const out = text.replace(from, to);
  if (out === text) throw new Error(`replaced(): ${String(from)} not found`);
  return new Uint8Array(Buffer.from(out));
}

/** The same bytes with one byte changed (same length). */
export function flipped(data: Uint8Array | string, at = 0): Uint8Array {
  const out = new Uint8Array(Buffer.from(typeof data === 'string' ? Buffer.from(data) : data));
  out[at] = out[at]! ^ 0x01;
  return out;
}

/** Signature hex with one bit flipped (still well-formed hex of the same length). */
export function flipSignature(doc: JSONDoc, index = 0): void {
  const sigs = doc.signatures as { sig: string }[];
  const sig = sigs[index]!;
  const last = parseInt(sig.sig.slice(-2), 16) ^ 0x01;
  sig.sig = sig.sig.slice(0, -2) + last.toString(16).padStart(2, '0');
}

export function bytes(text: string): Uint8Array {
  return new Uint8Array(Buffer.from(text));
}

/**
 * A copy of published metadata with `edit` applied to the parsed copy, signed again by `signers`
 * (default: the role's signers): validly signed metadata with whatever content a scenario needs.
 */
export async function resigned<T extends AnySigned>(
  sim: RepoSim,
  role: string,
  edit: (signed: T, md: Metadata<T>) => void,
  opts: { from?: Uint8Array; signers?: Signer[] } = {},
): Promise<Uint8Array> {
  const md = Metadata.fromBytes(opts.from ?? sim.bytes(role)) as Metadata<T>;
  edit(md.signed, md);
  md.signatures.clear();
  for (const s of opts.signers ?? sim.signers.get(role) ?? []) await md.sign(s);
  return md.toBytes();
}

/** Signs an edited document (JSON that the models could not express) with `signers`, over its canonical "signed". */
export async function signDoc(doc: JSONDoc, signers: Signer[]): Promise<JSONDoc> {
  const data = canonical(doc.signed!);
  const signatures: JSONValue[] = [];
  for (const s of signers) signatures.push({ keyid: s.keyid, sig: Buffer.from(await s.sign(data)).toString('hex') });
  return { ...doc, signatures };
}
