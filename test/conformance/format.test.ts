import { describe, expect, it } from 'vitest';
import { encodeSegment, globMatch, normalizePath } from '../../src/conformance/format.js';
import { splitCommand } from '../../src/conformance/runner.js';

describe('conformance scenario paths', () => {
  it('encodes all but unreserved characters, upper-case, as UTF-8', () => {
    expect(encodeSegment('1.role a/?#%.json')).toBe('1.role%20a%2F%3F%23%25.json');
    expect(encodeSegment('ö~')).toBe('%C3%B6~');
  });

  it('normalizes request paths segment by segment', () => {
    expect(normalizePath('/metadata/1.%3f.json')).toBe('/metadata/1.%3F.json');
    expect(normalizePath('/targets/%7Euser/a%2Fb')).toBe('/targets/~user/a%2Fb');
    expect(normalizePath('/metadata/1.?.json')).toBe('/metadata/1.');
  });

  it('matches globs with * only', () => {
    expect(globMatch('/targets/*', '/targets/a/b.txt')).toBe(true);
    expect(globMatch('/metadata/1.role?.json', '/metadata/1.roleX.json')).toBe(false);
  });

  it('splits a client command like a shell would for simple quoting', () => {
    expect(splitCommand('node "my dir/client.mjs" --x=\'a b\'')).toEqual(['node', 'my dir/client.mjs', '--x=a b']);
  });
});
