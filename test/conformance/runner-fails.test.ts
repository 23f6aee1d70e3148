import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runConformance } from '../../src/conformance/runner.js';

// The runner must be able to fail a client: one that copies whatever the server sends, verifying
// nothing, must fail most attack scenarios, while still passing a plain download.

const repoRoot = path.resolve(import.meta.dirname, '../..');
const vectorsDir = path.join(repoRoot, 'test-vectors');
const copyClient = `node ${path.join(import.meta.dirname, 'fixtures/copy-client.mjs')}`;

describe('conformance runner', () => {
  it('passes a client that does nothing wrong on a plain download', async () => {
    const summary = await runConformance({ vectorsDir, client: copyClient, filter: 'basic-download', stepTimeoutMs: 10_000 });
    expect(summary.results.map((r) => r.reason ?? 'ok')).toEqual(['ok']);
  }, 30_000);

  it('fails a client that skips verification on most attack scenarios', async () => {
    const summary = await runConformance({ vectorsDir, client: copyClient, filter: 'attack-*', stepTimeoutMs: 4_000, jobs: 4 });
    const failed = new Set(summary.results.filter((r) => !r.passed).map((r) => r.name));
    expect(summary.results.length).toBeGreaterThan(25);
    expect(failed.size / summary.results.length).toBeGreaterThan(0.8);
    for (const name of [
      'attack-tampered-target',
      'attack-forged-repository',
      'attack-rollback-timestamp',
      'attack-freeze-expired-timestamp',
      'attack-mix-and-match-old-snapshot',
      'attack-one-of-two-root-keys',
      'attack-endless-target',
      'attack-slow-timestamp',
      'attack-wrong-target-served',
    ]) {
      expect(failed, name).toContain(name);
    }
    const reason = summary.results.find((r) => r.name === 'attack-tampered-target')!.reason!;
    expect(reason).toMatch(/expected failure \(LengthOrHashMismatch\), client exited 0/);
  }, 60_000);
});
