import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HEADERS_FILE, NGINX_FILE } from '../../src/repository/publish.js';
import { publishedTargetName } from '../../src/repository/layout.js';
import { Repository } from '../../src/repository/repository.js';
import { addFileTargets, keyOf, newSigner, removeTemps, tempDir, tufkitClient } from './helpers.js';
import { freePort, nginxBinary } from '../helpers/nginx.js';

// A published repository served by a real nginx (the Debian package) on 127.0.0.1 with the
// caching rules `tufkit publish` writes: versioned metadata and HASH.name targets cacheable for
// good, timestamp.json and root.json revalidated on every request; and tufkit's client updates
// through it, before and after a one-file release.

const KEY = newSigner();
const FOREVER = 'public, max-age=31536000, immutable';


let repo: Repository;
let base: string;
let out: string;
let url: string;
let nginx: ChildProcess | undefined;
let nginxLog = '';

async function add(files: Record<string, string>): Promise<void> {
  await addFileTargets(repo, base, files);
  for (const r of (await repo.status()).roles) {
    if (!r.signatures.complete && r.type !== 'snapshot' && r.type !== 'timestamp') await repo.sign(r.name, KEY);
  }
  await repo.updateSnapshot(KEY);
  await repo.updateTimestamp(KEY);
  await repo.publish(out);
}

beforeAll(async () => {
  const bin = nginxBinary('this test');
  base = await tempDir('tufkit-nginx-');
  out = path.join(base, 'out');
  const k = keyOf(KEY);
  repo = await Repository.init(path.join(base, 'repo'), {
    roles: { root: { keys: [k] }, targets: { keys: [k] }, snapshot: { keys: [k] }, timestamp: { keys: [k] } },
  });
  await add({ 'pkg/a.txt': 'first target', 'b.txt': 'second target' });

  const port = await freePort();
  const run = path.join(base, 'nginx');
  await mkdir(run);
  const conf = path.join(run, 'nginx.conf');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${path.join(run, t)};`);
  await writeFile(
    conf,
    [
      // nginx started by root runs its workers as "nobody", who cannot enter the 0700 temp folder.
      process.getuid?.() === 0 ? 'user root;' : '',
      'worker_processes 1;',
      'daemon off;',
      `pid ${path.join(run, 'nginx.pid')};`,
      `error_log ${path.join(run, 'error.log')};`,
      'events { worker_connections 64; }',
      'http {',
      '  access_log off;',
      ...temp,
      '  types { application/json json; }',
      '  default_type application/octet-stream;',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    root ${out};`,
      `    include ${path.join(out, NGINX_FILE)};`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  nginx = spawn(bin, ['-p', run, '-e', path.join(run, 'error.log'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  nginx.stderr!.on('data', (d: Buffer) => (nginxLog += d.toString()));
  url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (nginx.exitCode !== null) throw new Error(`nginx exited (${nginx.exitCode}): ${nginxLog}`);
    try {
      await fetch(`${url}/metadata/timestamp.json`);
      break;
    } catch {
      if (i > 100) throw new Error(`nginx did not answer on ${url}: ${nginxLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}, 60_000);

afterAll(async () => {
  if (nginx && nginx.exitCode === null) {
    const exited = new Promise((r) => nginx!.once('exit', r));
    nginx.kill('SIGTERM');
    await exited;
  }
  await removeTemps();
});

async function cacheControl(urlPath: string): Promise<{ status: number; cacheControl: string | null; etag: string | null }> {
  const res = await fetch(url + urlPath);
  await res.arrayBuffer();
  return { status: res.status, cacheControl: res.headers.get('cache-control'), etag: res.headers.get('etag') };
}

describe('a published repository behind nginx with the rules tufkit publish writes', () => {
  it('sends immutable for versioned metadata and hashed targets, no-cache for timestamp.json and root.json', async () => {
    const snapshot = (await repo.load('snapshot')).signed.version;
    const targets = (await repo.load('targets')).signed.version;
    const tf = (await repo.targets()).signed.targets.get('pkg/a.txt')!;
    for (const p of ['/metadata/1.root.json', `/metadata/${snapshot}.snapshot.json`, `/metadata/${targets}.targets.json`, `/targets/${publishedTargetName('pkg/a.txt', tf.hashes.sha256)}`]) {
      expect(await cacheControl(p), p).toMatchObject({ status: 200, cacheControl: FOREVER });
    }
    for (const p of ['/metadata/timestamp.json', '/metadata/root.json']) {
      const r = await cacheControl(p);
      expect(r, p).toMatchObject({ status: 200, cacheControl: 'no-cache' });
      expect(r.etag, p).toBeTruthy();
      // Revalidation: an unchanged timestamp costs a 304 and no body.
      const again = await fetch(url + p, { headers: { 'if-none-match': r.etag! } });
      expect(again.status, p).toBe(304);
    }
    // A version not published yet: its 404 must not be kept for a year.
    expect(await cacheControl(`/metadata/${snapshot + 1}.snapshot.json`)).toMatchObject({ status: 404, cacheControl: null });
    // The rules files themselves are not served.
    for (const f of [HEADERS_FILE, NGINX_FILE]) expect((await cacheControl(`/${f}`)).status, f).toBe(404);
    expect(await readFile(path.join(out, HEADERS_FILE), 'utf8')).toMatch(/\/metadata\/timestamp\.json\n {2}! Cache-Control\n {2}Cache-Control: no-cache/);
  });

  it("lets tufkit's client update through it, and see a one-file release at once", async () => {
    const client = await tufkitClient(await readFile(path.join(out, 'metadata/1.root.json')), `${url}/metadata/`, `${url}/targets/`);
    await client.refresh();
    expect((await client.download('pkg/a.txt')).toString()).toBe('first target');

    await add({ 'pkg/new.txt': 'released later' });
    await client.refresh();
    expect((await client.download('pkg/new.txt')).toString()).toBe('released later');
  });
});
