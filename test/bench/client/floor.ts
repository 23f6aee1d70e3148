import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { canonicalBytes } from '../../../src/crypto/canonical.js';
import type { GeneratedRepo } from './generate.js';

// The least work any client must do to trust a metadata file: hash it (the length and hash listed
// in snapshot), parse it, re-encode `signed` as canonical JSON, check one signature. Timed in this
// process, warm, with node:crypto's native ed25519 and tufkit's canonical encoder.

const RUNS = 7;

interface Prepared {
  bytes: Buffer;
  key: KeyObject;
}

function ed25519Key(publicKeyHex: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(publicKeyHex, 'hex').toString('base64url') }, format: 'jwk' });
}

function trustOnce({ bytes, key }: Prepared): void {
  createHash('sha256').update(bytes).digest();
  const doc = JSON.parse(bytes.toString('utf8')) as { signed: unknown; signatures: { sig: string }[] };
  const data = canonicalBytes(doc.signed, 'signed', bytes.length);
  if (!verify(null, data, key, Buffer.from(doc.signatures[0]!.sig, 'hex'))) throw new Error('floor: signature does not verify');
}

/** Best and median ms over RUNS (after a first, warm-up run) of the floor work for every file the flow verifies. */
export async function floorMs(repo: GeneratedRepo): Promise<{ bestMs: number; medianMs: number; firstMs: number }> {
  const files: Prepared[] = [];
  for (const f of repo.floorFiles) files.push({ bytes: await readFile(f.file), key: ed25519Key(f.publicKeyHex) });
  const once = (): number => {
    const start = performance.now();
    for (const f of files) trustOnce(f);
    return performance.now() - start;
  };
  const firstMs = once();
  const times = Array.from({ length: RUNS }, once).sort((a, b) => a - b);
  return { bestMs: times[0]!, medianMs: times[RUNS >> 1]!, firstMs };
}
