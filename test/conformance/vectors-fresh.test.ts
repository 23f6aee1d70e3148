import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generate } from '../../src/conformance/generate.js';

// The committed vectors must be exactly what the generator produces. ECDSA and RSA-PSS signatures
// are randomized: the generator reuses a committed signature only when it verifies over exactly
// the bytes being signed, so any edit of a committed file (signed part or signature) shows up as
// a difference here.

const vectors = path.resolve(import.meta.dirname, '../../test-vectors');
let out: string | undefined;

afterAll(async () => {
  if (out) await rm(out, { recursive: true, force: true });
});

async function listFiles(dir: string, prefix = ''): Promise<string[]> {
  const files: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true })) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) files.push(...(await listFiles(path.join(dir, e.name), rel)));
    else files.push(rel);
  }
  return files.sort();
}

/** Hand-written files next to the generated ones. */
const HAND_WRITTEN = new Set(['README.md', 'TUF-JS-RESULTS.md']);

describe('committed conformance vectors', () => {
  it('equal what the generator writes', async () => {
    out = await mkdtemp(path.join(tmpdir(), 'tufkit-vectors-'));
    await generate(out, { reuseSignaturesFrom: vectors });
    const committed = (await listFiles(vectors)).filter((f) => !HAND_WRITTEN.has(f));
    const generated = await listFiles(out);
    expect(generated).toEqual(committed);
    const differing: string[] = [];
    for (const f of generated) {
      const [a, b] = await Promise.all([readFile(path.join(out, f)), readFile(path.join(vectors, f))]);
      if (!a.equals(b)) differing.push(f);
    }
    expect(differing).toEqual([]);
  }, 120_000);
});
