import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { computeKeyid } from '../../src/crypto/keyid.js';
import { InMemorySigner, type PublicKeyJSON, type Signer } from '../../src/crypto/signer.js';

// One key written two ways in metadata, under two keyids: what a threshold must count once.

export interface KeyAlias {
  name: string;
  /** A fresh key. */
  make(): Signer;
  /** The same key material as `s`, written otherwise (so under another keyid). */
  alias(s: Signer): Signer;
}

function aliasWith(s: Signer, publicValue: string): Signer {
  const publicKey: PublicKeyJSON = { ...s.publicKey, keyval: { ...s.publicKey.keyval, public: publicValue } };
  return { keyid: computeKeyid(publicKey), publicKey, sign: (data) => s.sign(data) };
}

/** PEM text re-wrapped at 76 columns with CRLF line endings. */
function rewrap(pem: string): string {
  const label = /-----BEGIN ([A-Z ]+)-----/.exec(pem)![1]!;
  const body = pem.replace(/-----[A-Z ]+-----|\s/g, '');
  const lines = body.match(/.{1,76}/g)!;
  return [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`, ''].join('\r\n');
}

export const KEY_ALIASES: KeyAlias[] = [
  {
    name: 'ed25519 key in lower- and upper-case hex',
    make: () => InMemorySigner.generate('ed25519'),
    alias: (s) => aliasWith(s, s.publicKey.keyval.public.toUpperCase()),
  },
  {
    name: 'ecdsa PEM key re-wrapped at 76 columns with CRLF',
    make: () => InMemorySigner.generate('ecdsa'),
    alias: (s) => aliasWith(s, rewrap(s.publicKey.keyval.public)),
  },
  {
    name: 'RSA key as SPKI "PUBLIC KEY" and as PKCS#1 "RSA PUBLIC KEY"',
    make: () => InMemorySigner.fromPem(generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string),
    alias: (s) => aliasWith(s, createPublicKey(s.publicKey.keyval.public).export({ type: 'pkcs1', format: 'pem' }) as string),
  },
];
