import { readdir, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MetadataStore } from '../../src/client/metadata-store.js';
import { encodeURLSegment, safeFileName } from '../../src/client/safe-names.js';
import { cleanup, setup } from '../helpers/client.js';
import { utf8 } from '../helpers/repo.js';

// On macOS and Windows, file names that differ only in case name one file. A repository made by
// someone else can name its roles and targets as it likes: the client must keep each of them in
// its own file, and never let one replace the trusted root. This disk is case-sensitive, so the
// tests check that no two files the client wrote are equal ignoring case, and that each still
// holds what it should.

afterEach(cleanup);

/** Delegated role names that look like top-level roles or like each other ignoring case. */
const ROLES = ['Root', 'ROOT', 'rOOT', 'Targets', 'TIMESTAMP', 'Snapshot', 'x', 'X', 'CON', 'con', 'Root.json', '.tufkit.lock', 'ö', 'Ö'];

function lowerCaseDuplicates(names: string[]): string[] {
  const seen = new Set<string>();
  return names.filter((n) => {
    const folded = n.toLowerCase();
    if (seen.has(folded)) return true;
    seen.add(folded);
    return false;
  });
}

describe('names that differ only in case', () => {
  it('keeps every delegated role in its own file and the trusted root untouched', async () => {
    const env = await setup({
      build: async (r) => {
        for (const [i, name] of ROLES.entries()) {
          await r.delegate('targets', name, { paths: [`file-${i}.txt`] });
          r.addTarget(`file-${i}.txt`, utf8(`listed by ${name}`), name);
        }
        await r.publish();
      },
    });
    const trustedRoot = await readFile(path.join(env.metadataDir, 'root.json'));
    const u = env.updater();
    await u.refresh();
    for (const [i, name] of ROLES.entries()) {
      const info = await u.getTargetInfo(`file-${i}.txt`);
      expect(info?.length, name).toBe(Buffer.byteLength(`listed by ${name}`));
    }

    const files = await readdir(env.metadataDir);
    expect(lowerCaseDuplicates(files)).toEqual([]);
    expect(files.filter((f) => f.endsWith('.json'))).toHaveLength(4 + ROLES.length);
    expect(Buffer.compare(await readFile(path.join(env.metadataDir, 'root.json')), trustedRoot)).toBe(0);

    // Offline, every role comes from its own cached file: one replaced by another would fail here.
    const offline = env.updater({ offline: true });
    await offline.refresh();
    for (const [i, name] of ROLES.entries()) {
      const info = await offline.getTargetInfo(`file-${i}.txt`);
      expect(info?.hashes.sha256, name).toBe(env.repo.roles.get(name)!.signed.targets.get(`file-${i}.txt`)!.hashes.sha256);
    }
    // And the client keeps updating from the root it trusts.
    await env.repo.publish();
    await env.updater().refresh();
    expect(Buffer.compare(await readFile(path.join(env.metadataDir, 'root.json')), trustedRoot)).toBe(0);

    // A metadata dir written by the previous version (roles under their URL-encoded names) still
    // works: root.json and the other top-level files kept their names, a role in an old-named
    // file is only a cache miss.
    for (const name of ROLES) {
      const now = new MetadataStore(env.metadataDir).path(name);
      await rename(now, path.join(env.metadataDir, `${encodeURLSegment(name)}.json`));
    }
    env.server.resetRequests();
    const upgraded = env.updater();
    await upgraded.refresh();
    for (const [i, name] of ROLES.entries()) expect((await upgraded.getTargetInfo(`file-${i}.txt`))?.path, name).toBe(`file-${i}.txt`);
    const renamed = ROLES.filter((n) => safeFileName(n) !== encodeURLSegment(n));
    expect(renamed).toContain('Root');
    expect(env.server.metadataRequests.filter((r) => /^\d+\.(?!(root|snapshot|targets)\.json$)/.test(r)).sort()).toEqual(renamed.map((n) => `1.${n}.json`).sort());
  });

  it('downloads targets whose paths differ only in case into different files', async () => {
    const paths = ['README.txt', 'readme.txt', 'ReadMe.TXT', 'dir/A', 'dir/a', 'CON', 'con'];
    const env = await setup({
      build: async (r) => {
        for (const p of paths) r.addTarget(p, utf8(`contents of ${p}`));
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    const written: string[] = [];
    for (const p of paths) {
      const info = (await u.getTargetInfo(p))!;
      const file = await u.downloadTarget(info);
      expect(path.dirname(file)).toBe(env.targetDir);
      written.push(path.basename(file));
    }
    expect(lowerCaseDuplicates(written)).toEqual([]);
    expect(lowerCaseDuplicates(await readdir(env.targetDir))).toEqual([]);
    for (const p of paths) {
      const info = (await u.getTargetInfo(p))!;
      const cached = await u.findCachedTarget(info);
      expect(cached, p).toBeDefined();
      expect(await readFile(cached!, 'utf8')).toBe(`contents of ${p}`);
    }
  });
});
