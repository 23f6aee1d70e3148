import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { InMemorySigner } from '../../src/crypto/signer.js';
import { Key } from '../../src/models/key.js';
import { Repository } from '../../src/repository/repository.js';
import { generateFiles } from './repository.js';

// Re-binning at PyPI scale (issue 13): a repository of TUFKIT_BENCH_FILES (default 100,000)
// targets in 1,024 succinct bins, complete and signed, re-binned to 16,384 bins by one CLI command
// that also signs the new bins (`tufkit delegate rebin --key`), timed with its peak RSS
// (/usr/bin/time). Run: node dist/test/bench/rebin.js

const FILES = Number(process.env.TUFKIT_BENCH_FILES ?? 100_000);
const cli = fileURLToPath(new URL('../../cli/tufkit.js', import.meta.url));

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'tufkit-bench-rebin-'));
  try {
    const setup = performance.now();
    const { inputs } = await generateFiles(join(work, 'files'), FILES);
    const online = InMemorySigner.generate('ed25519');
    const bins = InMemorySigner.generate('ed25519');
    const pub = (s: InMemorySigner): Key => Key.fromPublicJSON(s.publicKey);
    const dir = join(work, 'repo');
    const repo = await Repository.init(dir, {
      roles: { root: { keys: [pub(online)] }, targets: { keys: [pub(online)] }, snapshot: { keys: [pub(online)] }, timestamp: { keys: [pub(online)] } },
    });
    const old = await repo.delegate('targets', { name: 'bins', keys: [pub(bins)], threshold: 1, bins: 1024 });
    await repo.addTargets(inputs);
    await repo.sign(old, bins);
    await repo.sign(['root', 'targets'], online);
    await repo.updateSnapshot(online);
    await repo.updateTimestamp(online);
    await writeFile(join(work, 'bins.pem'), bins.toPem());
    console.log(`rebin: ${FILES.toLocaleString('en')} targets in 1,024 bins set up in ${((performance.now() - setup) / 1000).toFixed(1)} s`);

    const args = [cli, 'delegate', 'rebin', dir, '--from', 'targets', '--prefix', 'bins', '--bins', '16384', '--key', join(work, 'bins.pem')];
    const r = spawnSync('/usr/bin/time', ['-f', '%e %M', process.execPath, ...args], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`tufkit delegate rebin failed: ${r.stderr}`);
    const [seconds, kb] = r.stderr.trim().split('\n').at(-1)!.split(' ').map(Number) as [number, number];
    console.log(`  ${r.stdout.trim().split('\n')[0]}`);
    console.log(`  tufkit delegate rebin 1,024 -> 16,384 bins (signing the new bins): ${seconds.toFixed(2)} s, peak RSS ${(kb / 1000).toFixed(0)} MB`);
    for (const [label, fn] of [
      ['sign targets', () => repo.sign('targets', online)],
      ['snapshot (16,384 bins + 1,024 retired)', () => repo.updateSnapshot(online)],
      ['timestamp', () => repo.updateTimestamp(online)],
    ] as const) {
      const t = performance.now();
      await fn();
      console.log(`  then ${label}: ${((performance.now() - t) / 1000).toFixed(2)} s (library)`);
    }
    const status = await repo.status();
    if (!status.ready) throw new Error(`not ready after re-binning: ${status.problems[0]!.message}`);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
