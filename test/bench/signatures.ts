import { createPublicKey, randomBytes, verify as nodeVerify } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import * as ed from '@noble/ed25519';
import { nobleEd25519 } from '../../src/crypto/ed25519-noble.js';
import { hexToBytes } from '../../src/crypto/hash.js';
import { InMemorySigner, type PublicKeyJSON } from '../../src/crypto/signer.js';
import { verifySignature } from '../../src/crypto/verify.js';

// Signature verification throughput per scheme: at 1 KB (a timestamp or snapshot: the fixed cost
// of the curve or modulus arithmetic) and at 14 MB (a large targets role: hashing dominates).
// Then, for ed25519 at 1 MB, where the message hash comes from: @noble/ed25519 v3 has no synchronous
// SHA-512 of its own, so tufkit injects node:crypto's; without that only its async API works, which
// hashes with WebCrypto after copying the message.

const KB = 1024;
const MB = 1024 * 1024;
const SMALL_BUDGET_MS = 400;
const LARGE_BUDGET_MS = 600;

interface Rate {
  opsPerSec: number;
  iterations: number;
}

/** Runs `fn` (sync or async) for at least `budgetMs` and `minIterations`, after one warm-up call. */
async function rate(fn: () => unknown, budgetMs: number, minIterations: number): Promise<Rate> {
  await fn();
  let iterations = 0;
  const start = performance.now();
  let elapsed = 0;
  while (elapsed < budgetMs || iterations < minIterations) {
    await fn();
    iterations++;
    elapsed = performance.now() - start;
  }
  return { opsPerSec: (iterations * 1000) / elapsed, iterations };
}

function fmt(n: number): string {
  return n >= 100 ? Math.round(n).toLocaleString('en') : n.toFixed(1);
}

interface Case {
  name: string;
  signer: InMemorySigner;
}

function mustVerify(key: PublicKeyJSON, sig: Uint8Array, data: Uint8Array): void {
  if (!verifySignature(key, sig, data)) throw new Error('benchmark signature did not verify');
}

export async function benchSignatures(): Promise<void> {
  const rsa = InMemorySigner.generate('rsa');
  const cases: Case[] = [
    { name: 'ed25519', signer: InMemorySigner.generate('ed25519') },
    { name: 'ecdsa-sha2-nistp256', signer: InMemorySigner.generate('ecdsa') },
    { name: 'ecdsa-sha2-nistp384', signer: InMemorySigner.generate('ecdsa-p384') },
    { name: 'rsassa-pss-sha256 (3072)', signer: rsa },
    { name: 'rsa-pkcs1v15-sha256 (3072)', signer: InMemorySigner.fromPem(rsa.toPem(), { scheme: 'rsa-pkcs1v15-sha256' }) },
  ];
  const small = randomBytes(KB);
  const large = randomBytes(14 * MB);

  console.log('signature verification, verifySignature (key parsed once, cached per key object)');
  console.log(`  ${'scheme'.padEnd(28)} ${'1 KB ops/s'.padStart(12)} ${'14 MB ops/s'.padStart(12)} ${'14 MB MB/s'.padStart(11)}`);
  for (const { name, signer } of cases) {
    const key = signer.publicKey;
    const smallSig = await signer.sign(small);
    const largeSig = await signer.sign(large);
    const s = await rate(() => mustVerify(key, smallSig, small), SMALL_BUDGET_MS, 20);
    const l = await rate(() => mustVerify(key, largeSig, large), LARGE_BUDGET_MS, 3);
    const mbps = (l.opsPerSec * large.length) / MB;
    console.log(`  ${name.padEnd(28)} ${fmt(s.opsPerSec).padStart(12)} ${fmt(l.opsPerSec).padStart(12)} ${fmt(mbps).padStart(11)}`);
  }

  // What the per-key cache saves: a fresh key object each time means parsing its PEM again.
  const p256 = cases[1]!.signer;
  const p256Sig = await p256.sign(small);
  const uncached = await rate(() => mustVerify({ ...p256.publicKey }, p256Sig, small), SMALL_BUDGET_MS, 20);
  console.log(`  ${'ecdsa-sha2-nistp256, uncached'.padEnd(28)} ${fmt(uncached.opsPerSec).padStart(12)}   (PEM parsed on every call)`);

  const edSigner = cases[0]!.signer;
  const edPub = hexToBytes(edSigner.publicKey.keyval.public, 'ed25519 public key');
  const edKeyObject = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(edPub).toString('base64url') },
    format: 'jwk',
  });
  const nobleVerify = nobleEd25519.verifier(edPub);
  const check = (ok: boolean): void => {
    if (!ok) throw new Error('benchmark signature did not verify');
  };
  const variants: [string, (sig: Uint8Array, msg: Uint8Array) => unknown][] = [
    ['noble verify, zip215: false (tufkit before)', (sig, msg) => check(ed.verify(sig, msg, edPub, { zip215: false }))],
    ['tufkit noble backend (OpenSSL verdicts)', (sig, msg) => check(nobleVerify(sig, msg))],
    ['noble verifyAsync + its default WebCrypto', async (sig, msg) => check(await ed.verifyAsync(sig, msg, edPub, { zip215: false }))],
    ['node:crypto Ed25519: tufkit on Node', (sig, msg) => check(nodeVerify(null, msg, edKeyObject, sig))],
  ];
  const mb = randomBytes(MB);
  const sigs = { small: await edSigner.sign(small), mb: await edSigner.sign(mb) };
  console.log('ed25519: where the message hash comes from (@noble/ed25519 v3 has no synchronous SHA-512 of its own)');
  console.log(`  ${'implementation'.padEnd(44)} ${'1 KB ops/s'.padStart(11)} ${'1 MB ops/s'.padStart(11)} ${'1 MB MB/s'.padStart(10)}`);
  let base = 0;
  for (const [label, fn] of variants) {
    const s = await rate(() => fn(sigs.small, small), SMALL_BUDGET_MS / 2, 20);
    const m = await rate(() => fn(sigs.mb, mb), SMALL_BUDGET_MS, 10);
    base ||= m.opsPerSec;
    const ratio = `${(m.opsPerSec / base).toFixed(2)}x`;
    console.log(`  ${label.padEnd(44)} ${fmt(s.opsPerSec).padStart(11)} ${fmt(m.opsPerSec).padStart(11)} ${fmt((m.opsPerSec * mb.length) / MB).padStart(10)}  ${ratio}`);
  }
}
