import { createHash } from 'node:crypto';
import { copyFile, mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  ExpiredMetadataError,
  LengthOrHashMismatchError,
  MetadataFormatError,
  TufError,
  UnsignedMetadataError,
  Updater,
} from '../../src/index.js';
import { cleanup, errorOf, fastConfig, readJSONVersion, startServer, tempDir, vectorsDir, type UpdaterConfig } from '../helpers/client.js';
import type { TestServer } from '../helpers/server.js';

// Real repositories served as they are: python-tuf's test repository and Sigstore's production
// TUF repository (outcomes listed in each vector's PROVENANCE.md).

afterEach(cleanup);

interface Client {
  server: TestServer;
  metadataDir: string;
  targetDir: string;
  updater(config?: Partial<UpdaterConfig>): Updater;
}

async function client(vector: string, initialRoot: string): Promise<Client> {
  const server = await startServer(vector);
  const base = await tempDir('tufkit-vector-');
  const metadataDir = path.join(base, 'metadata');
  const targetDir = path.join(base, 'targets');
  await mkdir(metadataDir);
  await copyFile(path.join(vector, initialRoot), path.join(metadataDir, 'root.json'));
  return {
    server,
    metadataDir,
    targetDir,
    updater: (config = {}) =>
      new Updater({ metadataDir, metadataBaseUrl: server.metadataUrl, targetDir, targetBaseUrl: server.targetsUrl, config: { ...fastConfig, ...config } }),
  };
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

describe('python-tuf repository vector', () => {
  const vector = path.join(vectorsDir, 'python-tuf/repository');

  it('refreshes and downloads file1.txt (31 bytes) and, through role1, file3.txt', async () => {
    const c = await client(vector, 'metadata/1.root.json');
    const u = c.updater();
    await u.refresh();
    const info = await u.getTargetInfo('file1.txt');
    expect(info?.length).toBe(31);
    const file = await u.downloadTarget(info!);
    expect(await readFile(file)).toEqual(await readFile(path.join(vector, 'targets/file1.txt')));
    const file3 = await u.downloadTarget((await u.getTargetInfo('file3.txt'))!);
    expect(await readFile(file3)).toEqual(await readFile(path.join(vector, 'targets/file3.txt')));
    expect(c.server.metadataRequests).toEqual(['2.root.json', 'timestamp.json', 'snapshot.json', 'targets.json', 'role1.json']);
    expect(c.server.targetRequests).toEqual(['file1.txt', 'file3.txt']);
  });
});

describe('sigstore-root-signing vector', () => {
  const vector = path.join(vectorsDir, 'sigstore-root-signing');
  const then = new Date('2026-08-22T00:00:00Z');

  it('1. at 2026-08-22: walks roots 13-15, then timestamp v762, snapshot v165, targets v14; downloads keys.json and trusted_root.json', async () => {
    const c = await client(vector, 'initial_root.json');
    const u = c.updater({ referenceTime: then });
    await u.refresh();
    expect(c.server.metadataRequests).toEqual(['13.root.json', '14.root.json', '15.root.json', '16.root.json', 'timestamp.json', '165.snapshot.json', '14.targets.json']);
    expect(await readFile(path.join(c.metadataDir, 'root.json'))).toEqual(await readFile(path.join(vector, 'metadata/15.root.json')));
    expect(await readJSONVersion(path.join(c.metadataDir, 'timestamp.json'))).toBe(762);

    // What the signed role lists, read straight from the file, and the bytes the repository serves.
    const listed = async (file: string, target: string): Promise<{ length: number; hashes: Record<string, string> }> =>
      (JSON.parse(await readFile(path.join(vector, 'metadata', file), 'utf8')) as { signed: { targets: Record<string, { length: number; hashes: Record<string, string> }> } }).signed.targets[target]!;
    const keysListed = await listed('8.registry.npmjs.org.json', 'registry.npmjs.org/keys.json');
    const keys = await u.getTargetInfo('registry.npmjs.org/keys.json');
    expect(keys).toMatchObject({ path: 'registry.npmjs.org/keys.json', length: keysListed.length, hashes: keysListed.hashes });
    expect(c.server.metadataRequests.at(-1)).toBe('8.registry.npmjs.org.json');
    const keysBytes = await readFile(await u.downloadTarget(keys!));
    const keysServed = `registry.npmjs.org/${keysListed.hashes.sha256}.keys.json`;
    expect(keysBytes).toEqual(await readFile(path.join(vector, 'targets', keysServed)));
    expect(sha256(keysBytes)).toBe(keysListed.hashes.sha256);
    expect(c.server.targetRequests.at(-1)).toBe(keysServed);

    const trListed = await listed('14.targets.json', 'trusted_root.json');
    const tr = await u.getTargetInfo('trusted_root.json');
    expect(tr).toMatchObject({ path: 'trusted_root.json', length: trListed.length, hashes: trListed.hashes });
    const trBytes = await readFile(await u.downloadTarget(tr!));
    const trServed = `${trListed.hashes.sha256}.trusted_root.json`;
    expect(trBytes).toEqual(await readFile(path.join(vector, 'targets', trServed)));
    expect(trBytes.length).toBe(trListed.length);
    expect(sha256(trBytes)).toBe(trListed.hashes.sha256);
    expect(c.server.targetRequests.at(-1)).toBe(trServed);
  });

  it('2. with the real clock: ExpiredMetadataError (root v15 expired 2026-11-20), no timestamp trusted', async () => {
    expect(Date.now()).toBeGreaterThan(Date.parse('2026-11-20T13:58:18Z'));
    const c = await client(vector, 'initial_root.json');
    await expect(c.updater().refresh()).rejects.toBeInstanceOf(ExpiredMetadataError);
    const files = (await readdir(c.metadataDir)).filter((f) => f.endsWith('.json'));
    expect(files).toEqual(['root.json']);
    expect(c.server.metadataRequests).not.toContain('timestamp.json');
  });

  it('3. starting from 1.root.json fails with a clear format error', async () => {
    const c = await client(vector, 'metadata/1.root.json');
    const err = await errorOf(() => c.updater({ referenceTime: then }).refresh());
    expect(err).toBeInstanceOf(MetadataFormatError);
    expect((err as Error).message).toMatch(/expires/);
    expect(c.server.requests).toEqual([]);
  });

  it('4. one changed byte in the signed part of any served file makes the update fail', async () => {
    const files = ['13.root.json', '14.root.json', '15.root.json', 'timestamp.json', '165.snapshot.json', '14.targets.json', '8.registry.npmjs.org.json'];
    let seed = 20260822;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (const file of files) {
      const original = await readFile(path.join(vector, 'metadata', file));
      const text = original.toString('latin1');
      const start = text.indexOf('"signed"') + '"signed"'.length;
      const expiresDigit = text.indexOf('Z"', text.indexOf('"expires"', start)) - 1;
      const positions = [expiresDigit, ...Array.from({ length: 3 }, () => start + random(original.length - start - 2))];
      for (const [n, pos] of positions.entries()) {
        const changed = Buffer.from(original);
        changed[pos] = n === 0 ? 0x30 + ((changed[pos]! - 0x30 + 1) % 10) : changed[pos]! ^ (1 << random(7));
        const c = await client(vector, 'initial_root.json');
        c.server.override(`/metadata/${file}`, { body: changed });
        const err = await errorOf(async () => {
          const u = c.updater({ referenceTime: then });
          await u.refresh();
          await u.getTargetInfo('registry.npmjs.org/keys.json');
        });
        if (n === 0) expect(err, `${file}: expires changed`).toBeInstanceOf(UnsignedMetadataError);
        else expect(err, `${file}: byte ${pos} changed`).toBeInstanceOf(TufError);
      }
    }
  });

  it('4. one changed byte in a target file makes its download fail', async () => {
    const c = await client(vector, 'initial_root.json');
    const u = c.updater({ referenceTime: then });
    await u.refresh();
    for (const name of ['trusted_root.json', 'registry.npmjs.org/keys.json']) {
      const info = (await u.getTargetInfo(name))!;
      const i = name.lastIndexOf('/');
      const served = `${name.slice(0, i + 1)}${info.hashes.sha256}.${name.slice(i + 1)}`;
      const original = await readFile(path.join(vector, 'targets', served));
      const changed = Buffer.from(original);
      changed[changed.length >> 1] ^= 0x01;
      c.server.override(`/targets/${served}`, { body: changed });
      await expect(u.downloadTarget(info)).rejects.toBeInstanceOf(LengthOrHashMismatchError);
    }
    expect((await readdir(c.targetDir).catch(() => [])).length).toBe(0);
  });
});
