import { createHash } from 'node:crypto';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import canonicalizeModule from 'canonicalize';
import { describe, expect, it } from 'vitest';
import { computeKeyid } from '../../src/crypto/keyid.js';
import { keysOf, load, PYTHON_TUF, SIGSTORE, sigstoreRoot, SIGSTORE_ROOTS } from './vectors.js';

// A CommonJS module whose typings declare an ES default export: its default import is the function.
const canonicalize = canonicalizeModule as unknown as (value: unknown) => string | undefined;

function jsonFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? jsonFiles(join(dir, e.name)) : e.name.endsWith('.json') ? [join(dir, e.name)] : [],
  );
}

describe('computeKeyid', () => {
  // PROVENANCE.md says every python-tuf keyid is the hash of its key as written. It is not: the
  // fishy_rolenames and generated files dropped the legacy keyid_hash_algorithms member but kept the
  // keyids computed with it. python-tuf never recomputes keyids, so they still work there. (The RSA
  // key's keyid does match, but only with OLPC string encoding: its PEM newlines are hashed raw.)
  it('reproduces every keyid in the python-tuf vectors, with the legacy field where it was dropped', () => {
    const asWritten: string[] = [];
    const withLegacyField: string[] = [];
    const neither: string[] = [];
    for (const path of jsonFiles(PYTHON_TUF)) {
      for (const [keyid, key] of Object.entries(keysOf(load(path)))) {
        const where = `${path.slice(PYTHON_TUF.length + 1)}:${keyid.slice(0, 8)}`;
        if (computeKeyid(key) === keyid) asWritten.push(where);
        else if (computeKeyid({ ...key, keyid_hash_algorithms: ['sha256', 'sha512'] }) === keyid) withLegacyField.push(where);
        else neither.push(where);
      }
    }
    expect(asWritten.length).toBe(10);
    expect(asWritten.every((w) => w.startsWith('repository/'))).toBe(true);
    expect(asWritten).toContain('repository/metadata/root.json:4e777de0');
    expect(withLegacyField.length).toBe(11);
    expect(withLegacyField.every((w) => /^(fishy_rolenames|generated)\//.test(w))).toBe(true);
    expect(neither).toEqual([]);
  });

  it('reproduces every keyid of sigstore roots v12-v15 and the delegations of targets v14', () => {
    const files = [12, 13, 14, 15].map(sigstoreRoot).concat(load(join(SIGSTORE, 'metadata/14.targets.json')));
    for (const file of files) {
      const keys = Object.entries(keysOf(file));
      expect(keys.length).toBeGreaterThan(0);
      for (const [keyid, key] of keys) expect(computeKeyid(key), `${file.path} ${keyid}`).toBe(keyid);
    }
  });

  it('finds the one stale keyid in the sigstore root history (v11 edited a key, kept its keyid)', () => {
    const mismatches = SIGSTORE_ROOTS.flatMap((n) =>
      Object.entries(keysOf(sigstoreRoot(n)))
        .filter(([keyid, key]) => computeKeyid(key) !== keyid)
        .map(([keyid]) => `${n}:${keyid.slice(0, 12)}`),
    );
    expect(mismatches).toEqual(['11:7247f0dbad85']);
  });

  it('hashes the key object as given: legacy and custom fields change the keyid', () => {
    const root = load(join(PYTHON_TUF, 'repository/metadata/root.json'));
    const [keyid, key] = Object.entries(keysOf(root))[1]!;
    const { keyid_hash_algorithms: _legacy, ...normalised } = key;
    expect(computeKeyid(normalised)).not.toBe(keyid);
    expect(computeKeyid({ ...key, 'x-tuf-on-ci-keyowner': '@someone' })).not.toBe(keyid);
    // Member order does not matter: canonical JSON sorts.
    const reordered = Object.fromEntries(Object.entries(key).reverse());
    expect(computeKeyid(reordered)).toBe(keyid);
  });

  it('is the lowercase hex sha256 of the canonical JSON of the key object', () => {
    const key = { scheme: 'ed25519', keyval: { public: '00'.repeat(32) }, keytype: 'ed25519', 'x-extra': ['b', 'a'] };
    // On printable ASCII without escapes, RFC 8785 (`canonicalize`) and OLPC canonical JSON agree: an independent oracle.
    const canonical = canonicalize(key)!;
    expect(canonical).toBe('{"keytype":"ed25519","keyval":{"public":"' + '00'.repeat(32) + '"},"scheme":"ed25519","x-extra":["b","a"]}');
    expect(computeKeyid(key)).toBe(createHash('sha256').update(canonical, 'utf8').digest('hex'));
  });
});
