import { generateKeyPairSync, sign as nodeSign } from 'node:crypto';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { canonicalBytes } from '../../src/crypto/canonical.js';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { isSupportedKey, verifySignature, type PublicKeyInfo } from '../../src/crypto/verify.js';
import { KeyError, UnsupportedAlgorithmError } from '../../src/errors.js';
import { keysOf, load, PYTHON_TUF, roleIn, SIGSTORE, sigstoreRoot, type KeyJSON, type SignedFile } from './vectors.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));

interface Check {
  file: SignedFile;
  role: string;
  delegators: SignedFile[];
}

/** Verifies every non-empty signature of `file` by a key its delegators list; returns how many verified. */
function verifyAll({ file, role, delegators }: Check): { valid: number; threshold: number } {
  const data = canonicalBytes(file.signed);
  const authorised = new Map<string, KeyJSON>();
  for (const d of delegators) {
    const keys = keysOf(d);
    for (const keyid of roleIn(d, role).keyids) if (keys[keyid]) authorised.set(keyid, keys[keyid]);
  }
  let valid = 0;
  for (const { keyid, sig } of file.signatures) {
    const key = authorised.get(keyid);
    if (!key || sig === '') continue;
    expect(verifySignature(key, hex(sig), data), `${file.path}: signature by ${keyid}`).toBe(true);
    valid++;
  }
  return { valid, threshold: roleIn(delegators[0]!, role).threshold };
}

const py = (p: string): SignedFile => load(join(PYTHON_TUF, p));
const ss = (p: string): SignedFile => load(join(SIGSTORE, 'metadata', p));

describe('stored signatures of the python-tuf vectors', () => {
  const root = py('repository/metadata/root.json');
  const targets = py('repository/metadata/targets.json');
  const role1 = py('repository/metadata/role1.json');
  const fishyRoot = py('fishy_rolenames/metadata/1.root.json');
  const fishyTargets = py('fishy_rolenames/metadata/1.targets.json');
  const genRoot = py('generated/root_with_ed25519.json');
  const checks: Check[] = [
    { file: root, role: 'root', delegators: [root] },
    { file: py('repository/metadata/1.root.json'), role: 'root', delegators: [root] },
    { file: py('repository/metadata/timestamp.json'), role: 'timestamp', delegators: [root] },
    { file: py('repository/metadata/snapshot.json'), role: 'snapshot', delegators: [root] },
    { file: targets, role: 'targets', delegators: [root] },
    { file: role1, role: 'role1', delegators: [targets] },
    { file: py('repository/metadata/role2.json'), role: 'role2', delegators: [role1] },
    { file: fishyRoot, role: 'root', delegators: [fishyRoot] },
    { file: py('fishy_rolenames/metadata/timestamp.json'), role: 'timestamp', delegators: [fishyRoot] },
    { file: py('fishy_rolenames/metadata/2.snapshot.json'), role: 'snapshot', delegators: [fishyRoot] },
    { file: fishyTargets, role: 'targets', delegators: [fishyRoot] },
    { file: py('fishy_rolenames/metadata/1...json'), role: '.', delegators: [fishyTargets] },
    { file: py('fishy_rolenames/metadata/1.ö.json'), role: 'ö', delegators: [fishyTargets] },
    { file: py('fishy_rolenames/1.a.json'), role: '../a', delegators: [fishyTargets] },
    ...['root', 'timestamp', 'snapshot', 'targets'].map((role) => ({
      file: py(`generated/${role}_with_ed25519.json`),
      role,
      delegators: [genRoot],
    })),
  ];

  it.each(checks.map((c) => [c.file.path.slice(PYTHON_TUF.length + 1), c] as const))('%s meets its threshold', (_, check) => {
    const { valid, threshold } = verifyAll(check);
    expect(valid).toBeGreaterThanOrEqual(threshold);
  });
});

describe('stored signatures of the sigstore vectors (ECDSA P-256, DER)', () => {
  const latest = sigstoreRoot(15);
  const targets = ss('14.targets.json');

  it('roots v5-v15: every signature by a PEM key of the previous or the same root verifies', () => {
    for (let n = 5; n <= 15; n++) {
      const previous = sigstoreRoot(n - 1);
      const current = sigstoreRoot(n);
      // v5's previous root (v4) still has hex keys: those are checked in the test below.
      const delegators = n === 5 ? [current] : [previous, current];
      const { valid, threshold } = verifyAll({ file: current, role: 'root', delegators });
      expect(valid, `root v${n}`).toBeGreaterThanOrEqual(threshold);
    }
  });

  it('timestamp, snapshot and targets verify against root v15; registry.npmjs.org against targets v14', () => {
    for (const [file, role, delegator] of [
      [ss('timestamp.json'), 'timestamp', latest],
      [ss('165.snapshot.json'), 'snapshot', latest],
      [targets, 'targets', latest],
      [ss('8.registry.npmjs.org.json'), 'registry.npmjs.org', targets],
    ] as const) {
      const { valid, threshold } = verifyAll({ file, role, delegators: [delegator] });
      expect(valid, file.path).toBeGreaterThanOrEqual(threshold);
    }
  });

  // Roots v1-v4 list P-256 keys as hex uncompressed points under keytype ecdsa-sha2-nistp256, an
  // encoding python-tuf (securesystemslib) never read; tuf-js does. tufkit follows python-tuf.
  it('rejects the hex-encoded ECDSA keys of roots v1-v4 as malformed (KeyError), as python-tuf does', () => {
    const root = sigstoreRoot(1);
    const [keyid, key] = Object.entries(keysOf(root))[0]!;
    const sig = root.signatures.find((s) => s.keyid === keyid)!;
    expect(key.keyval.public).toMatch(/^04[0-9a-f]{128}$/);
    expect(() => verifySignature(key, hex(sig.sig), canonicalBytes(root.signed))).toThrow(KeyError);
    expect(isSupportedKey(key)).toBe(false);
  });

  it('treats the unsigned slots (empty sig) of roots v12-v14 as invalid signatures', () => {
    const root = sigstoreRoot(12);
    const empty = root.signatures.filter((s) => s.sig === '');
    expect(empty.length).toBe(2);
    for (const { keyid } of empty) {
      expect(verifySignature(keysOf(root)[keyid]!, new Uint8Array(0), canonicalBytes(root.signed))).toBe(false);
    }
  });
});

// One signed message per scheme, from the vectors, to break in every way.
function vectorCases(): { name: string; key: KeyJSON; sig: Uint8Array; data: Uint8Array }[] {
  const pick = (file: SignedFile, keys: Record<string, KeyJSON>, keyid?: string) => {
    const s = file.signatures.find((x) => x.sig !== '' && (keyid === undefined || x.keyid === keyid) && keys[x.keyid])!;
    return { key: keys[s.keyid]!, sig: hex(s.sig), data: canonicalBytes(file.signed) };
  };
  const root = py('repository/metadata/root.json');
  const sigstore = sigstoreRoot(15);
  return [
    { name: 'rsassa-pss-sha256', ...pick(root, keysOf(root)) },
    { name: 'ed25519', ...pick(py('repository/metadata/timestamp.json'), keysOf(root)) },
    { name: 'ecdsa-sha2-nistp256', ...pick(sigstore, keysOf(sigstore)) },
  ];
}

describe('bad signatures give false, never an exception', () => {
  for (const { name, key, sig, data } of vectorCases()) {
    it(name, () => {
      expect(verifySignature(key, sig, data)).toBe(true);
      // Any flipped bit in the message or the signature.
      for (const i of [0, data.length >> 1, data.length - 1]) {
        const d = Uint8Array.from(data);
        d[i]! ^= 0x01;
        expect(verifySignature(key, sig, d)).toBe(false);
      }
      for (let i = 0; i < sig.length; i += Math.max(1, sig.length >> 4)) {
        for (const bit of [0x01, 0x80]) {
          const s = Uint8Array.from(sig);
          s[i]! ^= bit;
          expect(verifySignature(key, s, data), `byte ${i} bit ${bit}`).toBe(false);
        }
      }
      // Empty, truncated, extended, garbage, all zero, all 0xff.
      const malformed = [
        new Uint8Array(0),
        sig.subarray(0, sig.length - 1),
        sig.subarray(1),
        Uint8Array.of(...sig, 0),
        Uint8Array.of(0, ...sig),
        new Uint8Array(1),
        new Uint8Array(sig.length),
        new Uint8Array(sig.length).fill(0xff),
        new TextEncoder().encode('not a signature at all, just some text'),
        new Uint8Array(4096).fill(0x30),
      ];
      for (const m of malformed) expect(verifySignature(key, m, data)).toBe(false);
      // A valid signature over other data.
      expect(verifySignature(key, sig, new TextEncoder().encode('other data'))).toBe(false);
    });
  }

  it('ed25519: rejects S + L (signature malleability), as OpenSSL does', () => {
    const { key, sig, data } = vectorCases()[1]!;
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const s = BigInt('0x' + Buffer.from(sig.subarray(32)).reverse().toString('hex'));
    const sPlusL = Buffer.from((s + L).toString(16).padStart(64, '0'), 'hex').reverse();
    const mauled = Uint8Array.of(...sig.subarray(0, 32), ...sPlusL);
    expect(verifySignature(key, mauled, data)).toBe(false);
  });

  it('ecdsa: rejects the same signature in non-canonical DER (long-form length)', () => {
    const { key, sig, data } = vectorCases()[2]!;
    expect(sig[0]).toBe(0x30);
    const longForm = Uint8Array.of(0x30, 0x81, sig[1]!, ...sig.subarray(2));
    expect(verifySignature(key, longForm, data)).toBe(false);
  });
});

describe('keys', () => {
  const ed = InMemorySigner.generate('ed25519').publicKey;
  const p256 = InMemorySigner.generate('ecdsa').publicKey;
  const p384 = InMemorySigner.generate('ecdsa-p384').publicKey;
  const data = new TextEncoder().encode('data');

  it('unknown keytype/scheme combinations: UnsupportedAlgorithmError', () => {
    const combos: [string, string, string][] = [
      ['ed25519', 'ed448', ed.keyval.public],
      ['ed25519', 'ecdsa-sha2-nistp256', ed.keyval.public],
      ['rsa', 'ed25519', ed.keyval.public],
      ['ecdsa', 'ecdsa-sha2-nistp521', p256.keyval.public],
      ['ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', p384.keyval.public],
      ['rsa', 'rsassa-pss-sha1', p256.keyval.public],
      ['rsa', 'rsassa-pss-md5', p256.keyval.public],
      ['sphincs', 'sphincs-shake-128s', '00'],
      ['', '', ''],
    ];
    for (const [keytype, scheme, pub] of combos) {
      const key: PublicKeyInfo = { keytype, scheme, keyval: { public: pub } };
      expect(() => verifySignature(key, new Uint8Array(64), data), `${keytype}/${scheme}`).toThrow(UnsupportedAlgorithmError);
      expect(isSupportedKey(key)).toBe(false);
    }
  });

  it('malformed public keys: KeyError', () => {
    const rsaPem = (py('repository/metadata/root.json').signed.keys as Record<string, KeyJSON>)[
      '4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb'
    ]!.keyval.public;
    const privatePem = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const bad: [string, string, unknown][] = [
      ['ed25519', 'ed25519', ''],
      ['ed25519', 'ed25519', ed.keyval.public.slice(2)],
      ['ed25519', 'ed25519', ed.keyval.public + '00'],
      ['ed25519', 'ed25519', 'zz' + ed.keyval.public.slice(2)],
      ['ed25519', 'ed25519', p256.keyval.public],
      ['ed25519', 'ed25519', 42],
      ['ecdsa', 'ecdsa-sha2-nistp256', ed.keyval.public],
      ['ecdsa', 'ecdsa-sha2-nistp256', p256.keyval.public.replace('PUBLIC KEY', 'PRIVATE KEY')],
      ['ecdsa', 'ecdsa-sha2-nistp256', p256.keyval.public.replace(/\n.{8}/, '\n')],
      ['ecdsa', 'ecdsa-sha2-nistp256', privatePem],
      ['ecdsa', 'ecdsa-sha2-nistp256', rsaPem],
      ['ecdsa', 'ecdsa-sha2-nistp256', p384.keyval.public], // curve does not match the scheme
      ['ecdsa', 'ecdsa-sha2-nistp384', p256.keyval.public],
      ['rsa', 'rsassa-pss-sha256', p256.keyval.public],
      ['rsa', 'rsassa-pss-sha256', 'not pem'],
    ];
    for (const [keytype, scheme, pub] of bad) {
      const key = { keytype, scheme, keyval: { public: pub } } as PublicKeyInfo;
      expect(() => verifySignature(key, new Uint8Array(64), data), `${keytype}/${scheme} ${String(pub).slice(0, 40)}`).toThrow(KeyError);
      expect(isSupportedKey(key)).toBe(false);
    }
    expect(() => verifySignature({ keytype: 'ed25519', scheme: 'ed25519' } as PublicKeyInfo, new Uint8Array(64), data)).toThrow(KeyError);
  });

  it('accepts what securesystemslib accepts: legacy keytypes, upper-case hex, PKCS#1 RSA PEM, PEM without final newline', async () => {
    for (const [signer, keytype] of [
      [InMemorySigner.generate('ecdsa'), 'ecdsa-sha2-nistp256'],
      [InMemorySigner.generate('ecdsa-p384'), 'ecdsa-sha2-nistp384'],
    ] as const) {
      const sig = await signer.sign(data);
      const legacy = { ...signer.publicKey, keytype };
      expect(verifySignature(legacy, sig, data)).toBe(true);
      const trimmed = { ...signer.publicKey, keyval: { public: signer.publicKey.keyval.public.trimEnd() } };
      expect(verifySignature(trimmed, sig, data)).toBe(true);
    }
    const edSigner = InMemorySigner.generate('ed25519');
    const upper = { ...edSigner.publicKey, keyval: { public: edSigner.publicKey.keyval.public.toUpperCase() } };
    expect(verifySignature(upper, await edSigner.sign(data), data)).toBe(true);

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pkcs1 = rsa.publicKey.export({ type: 'pkcs1', format: 'pem' }) as string;
    expect(pkcs1).toContain('BEGIN RSA PUBLIC KEY');
    const sig = nodeSign('sha256', data, rsa.privateKey);
    expect(verifySignature({ keytype: 'rsa', scheme: 'rsa-pkcs1v15-sha256', keyval: { public: pkcs1 } }, sig, data)).toBe(true);
  });

  it('re-parses a key object whose public key changed after it was cached', async () => {
    const a = InMemorySigner.generate('ed25519');
    const b = InMemorySigner.generate('ed25519');
    const key: PublicKeyInfo = { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: a.publicKey.keyval.public } };
    const sigA = await a.sign(data);
    const sigB = await b.sign(data);
    expect(verifySignature(key, sigA, data)).toBe(true);
    key.keyval.public = b.publicKey.keyval.public;
    expect(verifySignature(key, sigA, data)).toBe(false);
    expect(verifySignature(key, sigB, data)).toBe(true);
    key.scheme = 'nope';
    expect(() => verifySignature(key, sigB, data)).toThrow(UnsupportedAlgorithmError);
  });

  it('verifies many signatures with one parsed key quickly', async () => {
    const signer = InMemorySigner.generate('ecdsa');
    const key = { ...signer.publicKey };
    const sig = await signer.sign(data);
    const start = performance.now();
    for (let i = 0; i < 200; i++) expect(verifySignature(key, sig, data)).toBe(true);
    expect(performance.now() - start).toBeLessThan(2000);
  });
});

describe('RSA-PSS salt lengths', () => {
  it('the stored python-tuf root signature uses a 32-byte salt, and any salt length verifies', async () => {
    const { constants, publicEncrypt, createPublicKey } = await import('node:crypto');
    const root = py('repository/metadata/root.json');
    const key = keysOf(root)['4e777de0d275f9d28588dd9a1606cc748e548f9e22b6795b7cb3f63f98035fcb']!;
    // Recover the PSS encoded message (RFC 8017 9.1.2) to read the salt length.
    const em = publicEncrypt({ key: createPublicKey(key.keyval.public), padding: constants.RSA_NO_PADDING }, hex(root.signatures[0]!.sig));
    expect(em[em.length - 1]).toBe(0xbc);
    const { createHash } = await import('node:crypto');
    const h = em.subarray(em.length - 33, em.length - 1);
    const masked = em.subarray(0, em.length - 33);
    const mask = Buffer.concat(
      Array.from({ length: Math.ceil(masked.length / 32) }, (_, c) => createHash('sha256').update(h).update(Buffer.of(0, 0, 0, c)).digest()),
    );
    const db = masked.map((b, i) => b ^ mask[i]!);
    db[0]! &= 0x7f;
    expect(db.length - db.indexOf(1) - 1).toBe(32);

    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const pub: PublicKeyInfo = { keytype: 'rsa', scheme: 'rsassa-pss-sha256', keyval: { public: rsa.publicKey.export({ type: 'spki', format: 'pem' }) as string } };
    const data = new TextEncoder().encode('salted');
    for (const saltLength of [0, 20, 32, constants.RSA_PSS_SALTLEN_MAX_SIGN]) {
      const sig = nodeSign('sha256', data, { key: rsa.privateKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
      expect(verifySignature(pub, sig, data), `salt ${saltLength}`).toBe(true);
    }
    const pkcs1 = nodeSign('sha256', data, rsa.privateKey);
    expect(verifySignature(pub, pkcs1, data)).toBe(false);
    expect(verifySignature({ ...pub, scheme: 'rsa-pkcs1v15-sha256' }, pkcs1, data)).toBe(true);
  });
});
