import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import coerce from 'semver/functions/coerce.js';
import { describe, expect, it } from 'vitest';
import { MetadataFormatError } from '../../src/errors.js';
import { Metadata, type JSONObject } from '../../src/models/index.js';
import { rng, VECTOR_DIRS, VECTORS } from './helpers.js';

// spec_version is semver's to judge: tufkit skips loading semver for the plain "1.MINOR[.PATCH]"
// form, which must then get exactly the verdict semver gives it. Reference: the rule as it stood
// before that shortcut (the form MAJOR.MINOR[.PATCH], then semver's coerce for the major version).

const ROOT = JSON.parse(readFileSync(join(VECTORS, `${VECTOR_DIRS.GEN}/root_with_ed25519.json`), 'utf8')) as JSONObject;

function semverVerdict(s: string): boolean {
  return /^\d+\.\d+(\.\d+)?$/.test(s) && coerce(s)?.major === 1;
}

function tufkitVerdict(s: string): boolean {
  const doc = structuredClone(ROOT) as { signed: JSONObject };
  doc.signed.spec_version = s;
  try {
    Metadata.fromBytes(Buffer.from(JSON.stringify(doc)), 'root');
    return true;
  } catch (e) {
    expect(e, s).toBeInstanceOf(MetadataFormatError);
    expect((e as Error).message, s).toContain('signed.spec_version');
    return false;
  }
}

// Numbers around every edge of the shortcut: leading zeros, 15 and 16 digits, Number.MAX_SAFE_INTEGER.
const PARTS = ['0', '1', '2', '9', '00', '01', '10', '010', '99', '1' + '0'.repeat(14), '9'.repeat(15), '1' + '0'.repeat(15),
  '9007199254740991', '9007199254740992', '9'.repeat(16), '1' + '0'.repeat(16), '9'.repeat(17)];
const SUFFIXES = ['', '.0', '-rc1', '+build', ' ', '\n', 'a', '.'];

describe('spec_version', () => {
  it('gets semver\'s verdict for every MAJOR.MINOR[.PATCH] built from edge-case numbers, with suffixes', () => {
    let accepted = 0;
    for (const major of PARTS) {
      for (const minor of PARTS) {
        for (const patch of [undefined, ...PARTS]) {
          const base = patch === undefined ? `${major}.${minor}` : `${major}.${minor}.${patch}`;
          for (const suffix of major === '1' ? SUFFIXES : ['']) {
            const s = base + suffix;
            const expected = semverVerdict(s);
            expect(tufkitVerdict(s), s).toBe(expected);
            if (expected) accepted++;
          }
        }
      }
    }
    expect(accepted).toBeGreaterThan(100); // the accepted side is exercised too
  });

  it("gets semver's verdict for random strings of digits and dots", () => {
    const { next } = rng(0x5e3a);
    const alphabet = '0123456789.';
    for (let i = 0; i < 3000; i++) {
      const length = 1 + Math.floor(next() * 22);
      let s = '1.'; // most strings start like a real version, so that both verdicts occur often
      if (next() < 0.3) s = '';
      while (s.length < length) s += alphabet[Math.floor(next() * (next() < 0.8 ? 10 : 11))];
      expect(tufkitVerdict(s), s).toBe(semverVerdict(s));
    }
  });
});
