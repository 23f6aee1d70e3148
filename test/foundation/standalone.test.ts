import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

// The project reads nothing outside its repository: a fresh clone must run every test. The
// patterns are assembled from pieces so that this file does not match itself.

const repoRoot = path.resolve(import.meta.dirname, '../..');
const SCANNED = ['src', 'test', 'cli', 'examples', '.ci', 'package.json', 'tsconfig.json', 'eslint.config.js', 'README.md'];
const FORBIDDEN = [['', 'work', 'shared'], ['..', 'shared'], ['shared', 'vectors'], ['shared', 'reference']].map((parts) => parts.join('/'));

function files(p: string): string[] {
  const stat = statSync(p, { throwIfNoEntry: false });
  if (!stat) return [];
  if (!stat.isDirectory()) return [p];
  return readdirSync(p).flatMap((entry) => files(path.join(p, entry)));
}

/** `file: pattern` for every scanned file under `root` that mentions a forbidden path. */
function outsideReferences(root: string): string[] {
  return SCANNED.flatMap((entry) => files(path.join(root, entry))).flatMap((file) => {
    const text = readFileSync(file, 'latin1');
    return FORBIDDEN.filter((pattern) => text.includes(pattern)).map((pattern) => `${path.relative(root, file)}: ${pattern}`);
  });
}

describe('the repository stands alone', () => {
  it('no source, test, example, CI or package file names a path outside the repository', () => {
    expect(outsideReferences(repoRoot)).toEqual([]);
  });

  it('the scan sees a forbidden path in a nested test file, in package.json, and not in a clean file', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'tufkit-standalone-'));
    try {
      mkdirSync(path.join(dir, 'test/deep'), { recursive: true });
      writeFileSync(path.join(dir, 'test/deep/x.test.ts'), `const v = '${FORBIDDEN[0]}/vectors';`);
      writeFileSync(path.join(dir, 'test/clean.ts'), `const v = 'test/fixtures/vectors';`);
      writeFileSync(path.join(dir, 'package.json'), `{"scripts":{"t":"cp -r ${FORBIDDEN[1]} x"}}`);
      expect(outsideReferences(dir).sort()).toEqual([
        `package.json: ${FORBIDDEN[1]}`,
        `test${path.sep}deep${path.sep}x.test.ts: ${FORBIDDEN[0]}`,
        `test${path.sep}deep${path.sep}x.test.ts: ${FORBIDDEN[2]}`,
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
