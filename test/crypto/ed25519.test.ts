import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, randomBytes, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as noble from '@noble/ed25519';
import { beforeAll, describe, expect, it } from 'vitest';
import { ed25519, ed25519Verifier, type Ed25519Backend } from '../../src/crypto/ed25519.js';
import { ed25519CanonicalKey, ED25519_SPKI_PREFIX, littleEndian } from '../../src/crypto/ed25519-encoding.js';
import { nobleEd25519 } from '../../src/crypto/ed25519-noble.js';
import { nodeCryptoEd25519 } from '../../src/crypto/ed25519-node.js';
import { isSupportedKey, verifySignature } from '../../src/crypto/verify.js';
import { Key, Metadata, Root, Signature } from '../../src/models/index.js';
import { ensureBuilt, repoRoot } from '../helpers/client.js';

// Every Ed25519 backend must reach OpenSSL's verdict (node:crypto's, which python-tuf and go-tuf
// share) on every input: otherwise tufkit and those clients count different thresholds on one file.

const VECTORS = fileURLToPath(new URL('../fixtures/vectors/ed25519/', import.meta.url));
const BACKENDS: Ed25519Backend[] = [nodeCryptoEd25519, nobleEd25519];

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

interface Case {
  id: string;
  publicKey: Uint8Array;
  message: Uint8Array;
  signature: Uint8Array;
  /** Wycheproof's verdict, where the vector gives one. */
  expected?: boolean;
}

function speccheckCases(): Case[] {
  const cases = JSON.parse(readFileSync(path.join(VECTORS, 'speccheck/cases.json'), 'utf8')) as { message: string; pub_key: string; signature: string }[];
  return cases.map((c, i) => ({ id: `speccheck #${i}`, publicKey: hex(c.pub_key), message: hex(c.message), signature: hex(c.signature) }));
}

function wycheproofCases(): Case[] {
  const file = JSON.parse(readFileSync(path.join(VECTORS, 'wycheproof/ed25519_test.json'), 'utf8')) as {
    numberOfTests: number;
    testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable' }[] }[];
  };
  const cases = file.testGroups.flatMap((g) =>
    g.tests.map((t) => ({
      id: `wycheproof #${t.tcId}`,
      publicKey: hex(g.publicKey.pk),
      message: hex(t.msg),
      signature: hex(t.sig),
      ...(t.result === 'acceptable' ? {} : { expected: t.result === 'valid' }),
    })),
  );
  expect(cases).toHaveLength(file.numberOfTests);
  return cases;
}

const verdicts = new WeakMap<Case, boolean>();

/** OpenSSL's verdict, asked directly (not through tufkit's node:crypto backend). */
function openssl(c: Case): boolean {
  let v = verdicts.get(c);
  if (v === undefined) {
    const key = createPublicKey({ key: Buffer.concat([Buffer.from(ED25519_SPKI_PREFIX, 'hex'), c.publicKey]), format: 'der', type: 'spki' });
    v = nodeVerify(null, c.message, key, c.signature);
    verdicts.set(c, v);
  }
  return v;
}

/** The cases on which `backend` disagrees with OpenSSL. */
function disagreements(backend: Ed25519Backend, cases: Case[]): string[] {
  return cases.filter((c) => ed25519Verifier(c.publicKey, backend)(c.signature, c.message) !== openssl(c)).map((c) => c.id);
}

// ---- small-order points in every encoding OpenSSL decodes ------------------------------------

const P = 2n ** 255n - 19n;
const L = noble.Point.CURVE().n;
const le32 = (n: bigint): Uint8Array => {
  const out = new Uint8Array(32);
  for (let i = 0; i < 32; i++, n >>= 8n) out[i] = Number(n & 0xffn);
  return out;
};

/** The 8 points of order dividing 8, each in its canonical encoding and every non-canonical one. */
function smallOrderEncodings(): { canonical: Uint8Array; encodings: Uint8Array[] }[] {
  // speccheck's small-order key (case 0) has order 8: its multiples are the whole torsion group.
  const t8 = noble.Point.fromHex('c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa');
  expect(t8.multiply(4n, false).is0()).toBe(false);
  expect(t8.multiply(8n, false).is0()).toBe(true);
  const out = [];
  for (let i = 0n; i < 8n; i++) {
    const canonical = t8.multiply(i, false).toBytes();
    const n = littleEndian(canonical);
    const y = n & ((1n << 255n) - 1n);
    const encodings = [canonical];
    if (y + P < 1n << 255n) encodings.push(le32(n + P)); // y + p still fits in 255 bits
    if (y === 1n || y === P - 1n) encodings.push(le32(n | (1n << 255n))); // x = 0 with the sign bit set
    if (y + P < 1n << 255n && (y === 1n || y === P - 1n)) encodings.push(le32(n + P + (1n << 255n)));
    out.push({ canonical, encodings });
  }
  return out;
}

/** Signatures whose R and key are small-order points in every encoding, with S = 0, L - 1 and L. */
function smallOrderCases(): Case[] {
  const points = smallOrderEncodings().flatMap((p) => p.encodings);
  const cases: Case[] = [];
  for (const a of points) {
    for (const r of points) {
      for (const s of [0n, L - 1n, L]) {
        cases.push({ id: `A=${toHex(a)} R=${toHex(r)} S=${s}`, publicKey: a, message: hex('7475666b6974'), signature: new Uint8Array([...r, ...le32(s)]) });
      }
    }
  }
  return cases;
}

/** Valid signatures, and the same with S + L (malleated) and with R's y + p where it fits. */
function generatedCases(): Case[] {
  const cases: Case[] = [];
  for (let i = 0; i < 8; i++) {
    const signer = nodeCryptoEd25519.signer(randomBytes(32));
    const message = randomBytes(i * 7);
    const sig = signer.sign(message);
    const s = littleEndian(sig.subarray(32));
    cases.push({ id: `generated #${i}`, publicKey: signer.publicKey, message, signature: sig });
    cases.push({ id: `generated #${i}, S + L`, publicKey: signer.publicKey, message, signature: new Uint8Array([...sig.subarray(0, 32), ...le32(s + L)]) });
    cases.push({ id: `generated #${i}, wrong message`, publicKey: signer.publicKey, message: randomBytes(5), signature: sig });
  }
  return cases;
}

const SPECCHECK = speccheckCases();
const WYCHEPROOF = wycheproofCases();
const SMALL_ORDER = smallOrderCases();
const ALL = [...SPECCHECK, ...WYCHEPROOF, ...SMALL_ORDER, ...generatedCases()];

describe('Ed25519 verdicts equal OpenSSL\'s', () => {
  it('the vectors are what PROVENANCE.md says: speccheck\'s 12 cases and Wycheproof\'s set', () => {
    expect(SPECCHECK).toHaveLength(12);
    expect(WYCHEPROOF.length).toBeGreaterThan(100);
  });

  it('OpenSSL gives Wycheproof\'s verdict on every case that states one', () => {
    const stated = WYCHEPROOF.filter((c) => c.expected !== undefined);
    expect(stated.length).toBe(WYCHEPROOF.length);
    expect(stated.filter((c) => openssl(c) !== c.expected).map((c) => c.id)).toEqual([]);
  });

  it('the cases cover both verdicts, small-order keys and R included', () => {
    for (const set of [SPECCHECK, WYCHEPROOF, SMALL_ORDER]) {
      expect(set.some(openssl)).toBe(true);
      expect(set.some((c) => !openssl(c))).toBe(true);
    }
  });

  it.each(BACKENDS.map((b) => [b.name, b] as const))('%s agrees with OpenSSL on every case', (_name, backend) => {
    expect(disagreements(backend, ALL)).toEqual([]);
  });

  it('would catch a backend with other rules: noble\'s own verify, strict (zip215: false) or ZIP-215', () => {
    const nobleOwn = (zip215: boolean): Ed25519Backend => ({
      name: `noble verify zip215: ${zip215}`,
      verifier: (publicKey) => (signature, message) => {
        try {
          return noble.verify(signature, message, publicKey, { zip215 });
        } catch {
          return false;
        }
      },
      signer: () => {
        throw new Error('not used');
      },
    });
    // tufkit's earlier configuration refused speccheck's small-order key (#0, #1) and the order-2
    // key written with x = 0 and the sign bit (#11), and took the cofactored equation (#4, #5).
    expect(disagreements(nobleOwn(false), SPECCHECK)).toEqual(['speccheck #0', 'speccheck #1', 'speccheck #4', 'speccheck #5', 'speccheck #11']);
    expect(disagreements(nobleOwn(false), SMALL_ORDER).length).toBeGreaterThan(0);
    expect(disagreements(nobleOwn(true), [...SPECCHECK, ...SMALL_ORDER]).length).toBeGreaterThan(0);
  });
});

describe('Ed25519 signing', () => {
  // RFC 8032 section 7.1, tests 1-3.
  const RFC8032 = [
    ['9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', '',
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b'],
    ['4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', '72',
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00'],
    ['c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', 'af82',
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a'],
  ] as const;

  it.each(BACKENDS.map((b) => [b.name, b] as const))('%s signs RFC 8032\'s test vectors byte for byte', (_name, backend) => {
    for (const [seed, pub, msg, sig] of RFC8032) {
      const signer = backend.signer(hex(seed));
      expect(toHex(signer.publicKey)).toBe(pub);
      expect(toHex(signer.sign(hex(msg)))).toBe(sig);
    }
  });

  it('node:crypto signs exactly as noble did before: same public keys, same signatures', () => {
    for (let i = 0; i < 16; i++) {
      const seed = randomBytes(32);
      const message = randomBytes(i * 100);
      const viaNode = nodeCryptoEd25519.signer(seed);
      const viaNoble = nobleEd25519.signer(seed);
      expect(toHex(viaNode.publicKey)).toBe(toHex(viaNoble.publicKey));
      expect(toHex(viaNode.sign(message))).toBe(toHex(viaNoble.sign(message)));
      expect(toHex(viaNode.sign(message))).toBe(toHex(nodeSign(null, message, createPrivateKey({ key: { kty: 'OKP', crv: 'Ed25519', d: Buffer.from(seed).toString('base64url'), x: Buffer.from(viaNode.publicKey).toString('base64url') }, format: 'jwk' }))));
    }
  });
});

describe('Ed25519 public keys', () => {
  it('are refused only where OpenSSL refuses them: any 64 hex digits parse; bytes that are no point verify nothing', () => {
    const notAPoint = findNonPoint();
    const sig = new Uint8Array(64);
    for (const pub of [notAPoint, le32((1n << 255n) - 1n), ...smallOrderEncodings().flatMap((p) => p.encodings)]) {
      const key = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: toHex(pub) } };
      expect(isSupportedKey(key), toHex(pub)).toBe(true);
      expect(verifySignature(key, sig, new Uint8Array(1))).toBe(openssl({ id: '', publicKey: pub, message: new Uint8Array(1), signature: sig }));
    }
  });

  it('canonical key: every encoding of a point gives the point\'s canonical encoding', () => {
    for (const { canonical, encodings } of smallOrderEncodings()) {
      for (const e of encodings) expect(toHex(ed25519CanonicalKey(e))).toBe(toHex(canonical));
    }
    const signer = nodeCryptoEd25519.signer(randomBytes(32));
    expect(toHex(ed25519CanonicalKey(signer.publicKey))).toBe(toHex(signer.publicKey));
  });

  it('two encodings of one point are one key for a threshold', () => {
    // The identity point, canonical and with y + p: OpenSSL takes both, and R = identity, S = 0
    // is a valid signature by either on any message.
    const encodings = smallOrderEncodings()[0]!.encodings.slice(0, 2);
    expect(encodings.map(toHex)).toEqual(['01' + '00'.repeat(31), 'ee' + 'ff'.repeat(30) + '7f']);
    const root = new Root({ version: 1, expires: new Date('2100-01-01T00:00:00Z') });
    const md = new Metadata(root);
    const sig = toHex(new Uint8Array([...encodings[0]!, ...le32(0n)]));
    for (const e of encodings) {
      const key = Key.fromPublicJSON({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: toHex(e) } });
      root.addKey(key, 'root');
      md.signatures.set(key.keyid, new Signature(key.keyid, sig));
      expect(key.verify(sig, md.signedBytes())).toBe(true);
    }
    root.getRole('root').threshold = 2;
    const result = md.verificationResult('root', md);
    expect(result.signed.size).toBe(1);
    expect(result.verified).toBe(false);
  });
});

/** 32 bytes that OpenSSL cannot decode as a point (about half of all y values are not on the curve). */
function findNonPoint(): Uint8Array {
  for (let y = 2n; ; y++) {
    const b = le32(y);
    try {
      noble.Point.fromBytes(b, true);
    } catch {
      return b;
    }
  }
}

describe('backend choice', () => {
  beforeAll(() => ensureBuilt());

  it('is node:crypto on Node', () => {
    expect(ed25519).toBe(nodeCryptoEd25519);
  });

  it('Node\'s normal path never loads @noble/ed25519 or the noble backend', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tufkit-ed25519-'));
    try {
      writeFileSync(
        path.join(dir, 'hooks.mjs'),
        `export async function resolve(specifier, context, next) {
          if (/@noble\\/ed25519|ed25519-noble/.test(specifier)) throw new Error('loaded ' + specifier);
          return next(specifier, context);
        }`,
      );
      writeFileSync(path.join(dir, 'register.mjs'), `import { register } from 'node:module'; register(${JSON.stringify(pathToFileURL(path.join(dir, 'hooks.mjs')).href)});`);
      const dist = (p: string): string => JSON.stringify(pathToFileURL(path.join(repoRoot, 'dist', p)).href);
      const run = (code: string): { status: number | null; out: string } => {
        writeFileSync(path.join(dir, 'main.mjs'), code);
        const r = spawnSync(process.execPath, ['--import', path.join(dir, 'register.mjs'), path.join(dir, 'main.mjs')], { encoding: 'utf8' });
        return { status: r.status, out: r.stdout + r.stderr };
      };
      const normal = run(`
        const { InMemorySigner, verifySignature, Updater } = await import(${dist('src/index.js')});
        await import(${dist('cli/repo.js')});
        // The package entries (bundles) too: the noble backend is a chunk of its own there.
        const bundled = await import(${dist('bundle/index.js')});
        const client = await import(${dist('bundle/client-entry.js')});
        const signer = InMemorySigner.generate('ed25519');
        const data = new TextEncoder().encode('data');
        const sig = await signer.sign(data);
        if (!verifySignature(signer.publicKey, sig, data) || typeof Updater !== 'function') process.exit(3);
        if (!client.verifySignature(signer.publicKey, sig, data) || client.Updater !== bundled.Updater) process.exit(4);
        console.log('verified');`);
      expect(normal.out).toContain('verified');
      expect(normal.status).toBe(0);
      // The hook does see the noble backend when something imports it.
      const control = run(`await import(${dist('src/crypto/ed25519-noble.js')});`);
      expect(control.out).toContain('loaded');
      expect(control.status).not.toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
