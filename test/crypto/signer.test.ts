import { createPrivateKey, createPublicKey, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { bytesToHex } from '../../src/crypto/hash.js';
import { computeKeyid } from '../../src/crypto/keyid.js';
import { InMemorySigner, type GeneratedKeyType } from '../../src/crypto/signer.js';
import { verifySignature } from '../../src/crypto/verify.js';
import { KeyError, UsageError } from '../../src/errors.js';
import { keysOf, load, PYTHON_TUF, type SignedFile } from './vectors.js';

const keystore = (name: string): string => readFileSync(join(PYTHON_TUF, 'keystore', name), 'utf8');
const metadata = (name: string): SignedFile => load(join(PYTHON_TUF, 'repository/metadata', name));
const data = new TextEncoder().encode('some signed bytes');

describe('re-signing the python-tuf vectors with the keystore', () => {
  const root = metadata('root.json');
  const targets = metadata('targets.json');

  const ed25519Cases: [string, string, SignedFile][] = [
    ['timestamp_key', 'timestamp.json', root],
    ['snapshot_key', 'snapshot.json', root],
    ['targets_key', 'targets.json', root],
    ['delegation_key', 'role1.json', targets],
    ['delegation_key', 'role2.json', targets],
  ];

  it.each(ed25519Cases)('%s re-signs %s byte for byte (ed25519 is deterministic)', async (keyName, file, delegator) => {
    const md = metadata(file);
    const [stored] = md.signatures;
    const publicKey = keysOf(delegator)[stored!.keyid]!;
    const signer = InMemorySigner.fromPem(keystore(keyName), { publicKey });
    expect(signer.keyid).toBe(stored!.keyid);
    expect(signer.publicKey).toBe(publicKey);
    const sig = await signer.sign(canonicalBytes(md.signed));
    expect(bytesToHex(sig)).toBe(stored!.sig);
  });

  it('root_key (RSA-PSS) re-signs root.json with a new signature that verifies', async () => {
    const [stored] = root.signatures;
    const publicKey = keysOf(root)[stored!.keyid]!;
    const signer = InMemorySigner.fromPem(keystore('root_key'), { publicKey });
    expect(signer.keyid).toBe(stored!.keyid);
    const bytes = canonicalBytes(root.signed);
    const sig = await signer.sign(bytes);
    expect(sig.length).toBe(384);
    expect(bytesToHex(sig)).not.toBe(stored!.sig); // PSS is randomised
    expect(verifySignature(publicKey, sig, bytes)).toBe(true);
  });

  it('derives the public key JSON as securesystemslib writes it today (no keyid_hash_algorithms)', () => {
    const ed = InMemorySigner.fromPem(keystore('timestamp_key'));
    const listed = keysOf(root)['8a1c4a3ac2d515dec982ba9910c5fd79b91ae57f625b9cff25d06bf0a61c1758']!;
    expect(ed.publicKey).toEqual({ keytype: 'ed25519', scheme: 'ed25519', keyval: { public: listed.keyval.public } });
    // The listed key carries keyid_hash_algorithms, so its keyid differs from a fresh derivation.
    expect(ed.keyid).toBe(computeKeyid(ed.publicKey));
    expect(ed.keyid).not.toBe('8a1c4a3ac2d515dec982ba9910c5fd79b91ae57f625b9cff25d06bf0a61c1758');

    const rsa = InMemorySigner.fromPem(keystore('root_key'));
    const listedRsa = keysOf(root)['4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb']!;
    expect(rsa.publicKey.keytype).toBe('rsa');
    expect(rsa.publicKey.scheme).toBe('rsassa-pss-sha256');
    // pyca writes PEM with a final newline; the python-tuf vector's key has none (older writer).
    expect(rsa.publicKey.keyval.public).toBe(`${listedRsa.keyval.public}\n`);
  });

  it('keeps a given keyid and rejects a public key that is not the private key', () => {
    const listed = keysOf(root)['8a1c4a3ac2d515dec982ba9910c5fd79b91ae57f625b9cff25d06bf0a61c1758']!;
    expect(InMemorySigner.fromPem(keystore('timestamp_key'), { publicKey: listed, keyid: 'abc' }).keyid).toBe('abc');
    expect(InMemorySigner.fromPem(keystore('timestamp_key'), { keyid: 'abc' }).keyid).toBe('abc');
    expect(() => InMemorySigner.fromPem(keystore('snapshot_key'), { publicKey: listed })).toThrow(KeyError);
    const rsaListed = keysOf(root)['4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb']!;
    expect(() => InMemorySigner.fromPem(keystore('timestamp_key'), { publicKey: rsaListed })).toThrow(KeyError);
    expect(() => InMemorySigner.fromPem(keystore('root_key'), { publicKey: listed })).toThrow(KeyError);
    expect(() => InMemorySigner.fromPem(keystore('root_key'), { publicKey: rsaListed, scheme: 'rsa-pkcs1v15-sha256' })).toThrow(UsageError);
  });

  it('signs RSA PKCS#1 v1.5 when asked, deterministically', async () => {
    const signer = InMemorySigner.fromPem(keystore('root_key'), { scheme: 'rsa-pkcs1v15-sha256' });
    expect(signer.publicKey.scheme).toBe('rsa-pkcs1v15-sha256');
    const a = await signer.sign(data);
    expect(bytesToHex(await signer.sign(data))).toBe(bytesToHex(a));
    expect(verifySignature(signer.publicKey, a, data)).toBe(true);
    expect(verifySignature({ ...signer.publicKey, scheme: 'rsassa-pss-sha256' }, a, data)).toBe(false);
  });

  it('rejects schemes that do not fit the key', () => {
    expect(() => InMemorySigner.fromPem(keystore('root_key'), { scheme: 'ed25519' })).toThrow(KeyError);
    expect(() => InMemorySigner.fromPem(keystore('root_key'), { scheme: 'rsassa-pss-sha1' })).toThrow(KeyError);
    expect(() => InMemorySigner.fromPem(keystore('timestamp_key'), { scheme: 'ecdsa-sha2-nistp256' })).toThrow(KeyError);
    const p384 = InMemorySigner.generate('ecdsa-p384').toPem();
    expect(() => InMemorySigner.fromPem(p384, { scheme: 'ecdsa-sha2-nistp256' })).toThrow(KeyError);
  });
});

describe('generate', () => {
  const expected: Record<GeneratedKeyType, { keytype: string; scheme: string; sigLength: [number, number] }> = {
    ed25519: { keytype: 'ed25519', scheme: 'ed25519', sigLength: [64, 64] },
    ecdsa: { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', sigLength: [8, 72] },
    'ecdsa-p384': { keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp384', sigLength: [8, 104] },
    rsa: { keytype: 'rsa', scheme: 'rsassa-pss-sha256', sigLength: [384, 384] },
  };
  /** The public key node:crypto derives from the private PEM: raw hex for ed25519, SPKI PEM otherwise. */
  const publicOf = (type: string, privatePem: string): string => {
    const key = createPublicKey(createPrivateKey(privatePem));
    if (type === 'ed25519') return Buffer.from(key.export({ format: 'jwk' }).x!, 'base64url').toString('hex');
    return key.export({ type: 'spki', format: 'pem' }) as string;
  };

  it.each(Object.entries(expected))('%s: sign and verify round trip', async (type, want) => {
    const signer = InMemorySigner.generate(type as GeneratedKeyType);
    const { keytype, scheme, keyval } = signer.publicKey;
    expect({ keytype, scheme }).toEqual({ keytype: want.keytype, scheme: want.scheme });
    expect(keyval.public).toBe(publicOf(type, signer.toPem()));
    expect(signer.keyid).toBe(computeKeyid(signer.publicKey));

    const sig = await signer.sign(data);
    expect(sig).toBeInstanceOf(Uint8Array);
    expect(sig.length).toBeGreaterThanOrEqual(want.sigLength[0]);
    expect(sig.length).toBeLessThanOrEqual(want.sigLength[1]);
    expect(verifySignature(signer.publicKey, sig, data)).toBe(true);
    expect(verifySignature(signer.publicKey, sig, data.subarray(1))).toBe(false);

    // The PEM round trip gives the same key and keyid.
    const again = InMemorySigner.fromPem(signer.toPem());
    expect(again.publicKey).toEqual(signer.publicKey);
    expect(again.keyid).toBe(signer.keyid);
    expect(verifySignature(signer.publicKey, await again.sign(data), data)).toBe(true);
  });

  it('rejects unknown types', () => {
    expect(() => InMemorySigner.generate('dsa' as GeneratedKeyType)).toThrow(UsageError);
  });
});

describe('PEM private keys', () => {
  it('encrypted PKCS#8 round trip; missing or wrong passphrase is a readable KeyError', () => {
    const signer = InMemorySigner.generate('ecdsa');
    const pem = signer.toPem('correct horse');
    expect(pem).toMatch(/^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    expect(InMemorySigner.fromPem(pem, { passphrase: 'correct horse' }).keyid).toBe(signer.keyid);

    for (const [passphrase, message] of [
      [undefined, /encrypted: a passphrase is needed/],
      ['wrong', /cannot decrypt the private key: wrong passphrase/],
      ['', /cannot decrypt the private key: wrong passphrase/],
    ] as const) {
      let error: unknown;
      try {
        InMemorySigner.fromPem(pem, passphrase === undefined ? {} : { passphrase });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(KeyError);
      expect((error as Error).message).toMatch(message);
      expect((error as Error).message).not.toMatch(/routines|error:[0-9A-F]{8}|ERR_/);
      expect((error as Error).cause).toBeUndefined();
    }
  });

  it('encrypts ed25519 and RSA keys too', () => {
    const ed = InMemorySigner.fromPem(keystore('delegation_key'));
    expect(InMemorySigner.fromPem(ed.toPem('pw'), { passphrase: 'pw' }).publicKey).toEqual(ed.publicKey);
    const rsa = InMemorySigner.fromPem(keystore('root_key'));
    expect(InMemorySigner.fromPem(rsa.toPem('pw'), { passphrase: 'pw' }).publicKey).toEqual(rsa.publicKey);
    expect(() => ed.toPem('')).toThrow(UsageError);
  });

  it('unencrypted PEM is written as PKCS#8 and reads back', () => {
    const pem = InMemorySigner.fromPem(keystore('targets_key')).toPem();
    expect(pem.trim()).toBe(keystore('targets_key').trim());
  });

  it('rejects a passphrase for an unencrypted key, and anything that is not a private key', () => {
    expect(() => InMemorySigner.fromPem(keystore('targets_key'), { passphrase: 'pw' })).toThrow(KeyError);
    const publicPem = InMemorySigner.generate('ecdsa').publicKey.keyval.public;
    for (const bad of ['', 'garbage', publicPem, '-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n', keystore('root_key2')]) {
      expect(() => InMemorySigner.fromPem(bad)).toThrow(KeyError);
    }
  });
});

describe('large messages', () => {
  it('ed25519 signs and verifies 14 MB', async () => {
    const big = randomBytes(14 * 1024 * 1024);
    const signer = InMemorySigner.fromPem(keystore('targets_key'));
    const start = performance.now();
    const sig = await signer.sign(big);
    expect(verifySignature(signer.publicKey, sig, big)).toBe(true);
    big[big.length - 1]! ^= 1;
    expect(verifySignature(signer.publicKey, sig, big)).toBe(false);
    expect(performance.now() - start).toBeLessThan(3000);
  });
});
