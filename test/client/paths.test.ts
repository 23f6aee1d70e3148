import { copyFile, mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UnsafePathError, Updater } from '../../src/index.js';
import { cleanup, fastConfig, listTree, setup, startServer, tempDir, vectorsDir } from '../helpers/client.js';
import { sha256, utf8 } from '../helpers/repo.js';

// Role names and target paths that look like paths, queries or fragments must be URL-encoded in
// requests and must never escape metadataDir or targetDir on disk.

afterEach(cleanup);

const FISHY = ['../x', '/x', '?', '#', 'ö', '..', 'a/../../up', '.', '%2e%2e', 'x\\..\\..\\y'];

/** True when `p` is `dir` itself or inside it. */
function inside(dir: string, p: string): boolean {
  const rel = path.relative(dir, p);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

describe('fishy role names and target paths', () => {
  it('keeps fishy delegated role names encoded in URLs and inside metadataDir', async () => {
    const env = await setup({
      build: async (r) => {
        for (const [i, name] of FISHY.entries()) {
          await r.delegate('targets', name, { paths: [`in-${i}.txt`] });
          r.addTarget(`in-${i}.txt`, utf8(`target of role ${name}`), name);
        }
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    for (const [i, name] of FISHY.entries()) {
      const data = utf8(`target of role ${name}`);
      expect(await u.getTargetInfo(`in-${i}.txt`)).toMatchObject({ length: data.length, hashes: { sha256: sha256(data) } });
    }

    // Requests: every one under /metadata/, no raw "?" or "#", the role name percent-encoded.
    const roleRequests = env.server.requests.filter((r) => !/^\/metadata\/(\d+\.root|timestamp|\d+\.snapshot|\d+\.targets)\.json$/.test(r.logical));
    expect(roleRequests.map((r) => r.logical)).toEqual(FISHY.map((n) => `/metadata/1.${n}.json`));
    for (const r of env.server.requests) {
      expect(r.raw.startsWith('/metadata/')).toBe(true);
      expect(r.raw).not.toMatch(/[?#]/);
      expect(r.raw.split('/').length).toBe(3); // "/metadata/<one segment>": a "/" in a name is %2F
    }

    // Disk: only files directly in metadataDir, nothing anywhere else.
    const tree = await listTree(env.base);
    expect(tree.filter((p) => !p.startsWith('client/metadata/') || p === 'client/metadata/')).toEqual(['client/', 'client/metadata/', 'client/targets/']);
    const entries = await readdir(env.metadataDir, { withFileTypes: true });
    expect(entries.every((e) => e.isFile())).toBe(true);
    const jsonFiles = entries.map((e) => e.name).filter((n) => n.endsWith('.json'));
    expect(jsonFiles).toHaveLength(4 + FISHY.length);
  });

  it('keeps fishy target paths inside targetDir (or refuses them with UnsafePathError)', async () => {
    const names = [...FISHY, 'sub/dir/f.txt'];
    const env = await setup({
      build: async (r) => {
        for (const name of names) r.addTarget(name, utf8(`content of ${name}`));
        await r.publish();
      },
    });
    const u = env.updater();
    await u.refresh();
    const refused: string[] = [];
    for (const name of names) {
      const info = await u.getTargetInfo(name);
      expect(info?.path).toBe(name);
      // A valid copy planted where the path would lead if joined naively must not be picked up.
      const naive = path.resolve(env.targetDir, name);
      if (!inside(env.targetDir, naive) && inside(env.base, naive) && !existsSync(naive)) {
        await mkdir(path.dirname(naive), { recursive: true });
        await writeFile(naive, `content of ${name}`);
        const found = await u.findCachedTarget(info!);
        expect(found === undefined || inside(env.targetDir, found), `findCachedTarget("${name}") = ${found}`).toBe(true);
        await rm(naive);
      }
      env.server.resetRequests();
      let file: string;
      try {
        file = await u.downloadTarget(info!);
      } catch (e) {
        expect(e).toBeInstanceOf(UnsafePathError);
        expect(env.server.requests).toEqual([]);
        refused.push(name);
        continue;
      }
      expect(inside(env.targetDir, file)).toBe(true);
      expect(path.dirname(file)).toBe(env.targetDir);
      expect(await readFile(file, 'utf8')).toBe(`content of ${name}`);
      expect(await u.findCachedTarget(info!)).toBe(file);
      const [req] = env.server.requests;
      expect(req!.raw.startsWith('/targets/')).toBe(true);
      expect(req!.raw).not.toMatch(/[?#]/);
      expect(req!.logical).toBe(`/targets/${env.repo.targetFile(info!)}`);
    }
    // Names with a "." or ".." segment cannot be put in a URL path (parsers resolve them): refusing is safe.
    for (const name of refused) expect(name.split('/').some((s) => s === '.' || s === '..')).toBe(true);
    const tree = await listTree(env.base);
    expect(tree.filter((p) => !/^client\/(targets|metadata)\/./.test(p))).toEqual(['client/', 'client/metadata/', 'client/targets/']);
    expect((await readdir(env.targetDir, { withFileTypes: true })).every((e) => e.isFile())).toBe(true);
  });

  it('serves the python-tuf fishy_rolenames repository safely', async () => {
    const vector = path.join(vectorsDir, 'python-tuf/fishy_rolenames');
    const server = await startServer(vector);
    // Role "../a" is version 1, served from 1.a.json one level up (where a naive client would look).
    server.override('/metadata/1.../a.json', { body: await readFile(path.join(vector, '1.a.json')) });
    const base = await tempDir('tufkit-fishy-');
    const metadataDir = path.join(base, 'metadata');
    await mkdir(metadataDir);
    await copyFile(path.join(vector, 'metadata/1.root.json'), path.join(metadataDir, 'root.json'));
    const u = new Updater({ metadataDir, metadataBaseUrl: server.metadataUrl, config: fastConfig });
    await u.refresh();
    expect(await u.getTargetInfo('anything')).toBeUndefined();
    expect(server.metadataRequests).toEqual(['2.root.json', 'timestamp.json', '2.snapshot.json', '1.targets.json', '1.../a.json', '1...json', '1.ö.json']);
    for (const r of server.requests) expect(r.raw.split('/').length).toBe(3);
    const tree = await listTree(base);
    expect(tree.filter((p) => p.endsWith('/') || p.endsWith('.json'))).toEqual(
      ['metadata/', ...['%2E.json', '%C3%B6.json', '%2E.%2Fa.json', 'root.json', 'snapshot.json', 'targets.json', 'timestamp.json'].map((f) => `metadata/${f}`)].sort(),
    );
    expect(tree.every((p) => p === 'metadata/' || /^metadata\/[^/]+$/.test(p))).toBe(true);
  });
});
