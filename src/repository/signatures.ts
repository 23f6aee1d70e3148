import { countThreshold, type Key, type ThresholdCount } from '../models/key.js';
import type { Metadata } from '../models/metadata.js';
import type { Root } from '../models/root.js';
import type { Authorisation } from './role-store.js';

/** How one set of authorised keys stands on a role's signatures. */
export interface KeySignatures extends ThresholdCount {
  threshold: number;
}

export interface SignatureStatus extends KeySignatures {
  role: string;
  /** Keyids of signatures that count for nothing: unknown keys, or signatures that do not verify. */
  ignored: string[];
  /**
   * Root version N > 1 only: the root keys of version N-1, which must reach their own threshold
   * too so that clients trusting N-1 accept N. `undefined` version means N-1 is not in root_history.
   */
  previous?: KeySignatures & { version: number; found: boolean };
  /** Every threshold reached: the version is finished and an edit starts a new one. */
  complete: boolean;
}

function countSignatures(md: Metadata, keyids: string[], keys: Map<string, Key>, threshold: number, data: Uint8Array): KeySignatures {
  return { threshold, ...countThreshold(keyids, keys, threshold, md.signatures, data) };
}

/** The signatures of role `name` against its authorisation (and, for root, against the previous root). */
export function signatureStatus(name: string, md: Metadata, auth: Authorisation, previousRoot?: Metadata<Root> | null): SignatureStatus {
  const data = md.signedBytes();
  const own = countSignatures(md, auth.role.keyids, auth.keys, auth.role.threshold, data);
  let previous: SignatureStatus['previous'];
  if (name === 'root' && md.signed.version > 1) {
    const prevVersion = md.signed.version - 1;
    if (previousRoot) {
      const r = previousRoot.signed.getRole('root');
      previous = { version: prevVersion, found: true, ...countSignatures(md, r.keyids, previousRoot.signed.keys, r.threshold, data) };
    } else {
      previous = { version: prevVersion, found: false, threshold: 1, valid: [], missing: [], verified: false };
    }
  }
  const counted = new Set([...own.valid, ...(previous?.valid ?? [])]);
  const ignored = [...md.signatures.keys()].filter((k) => !counted.has(k));
  return { role: name, ...own, ignored, previous, complete: own.verified && (previous?.verified ?? true) };
}
