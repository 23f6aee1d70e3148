import { describe, expect, it } from 'vitest';
import { runDemo } from '../../cli/demo.js';

describe('tufkit demo (the README first command)', () => {
  it('updates from the served demo repository and refuses every replayed attack with its error', async () => {
    const lines: string[] = [];
    const failures = await runDemo((l) => lines.push(l));
    expect(failures).toBe(0);
    const text = lines.join('\n');
    expect(text).toMatch(/downloaded and verified hello\/tufkit\.txt/);
    for (const error of ['BadVersionError', 'ExpiredMetadataError', 'LengthOrHashMismatchError', 'UnsignedMetadataError']) {
      expect(text).toContain(`: ${error}: `);
    }
    expect(lines.filter((l) => l.trimStart().startsWith('refused'))).toHaveLength(5);
  }, 30_000);
});
