import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, targetPath } from '../sim.js';
import { parse } from './helpers.js';

// The client workflow when nothing is wrong: which files are fetched, in which order, under which
// names, and what ends up trusted and downloaded.

export const basicScenarios: ScenarioDef[] = [
  {
    name: 'basic-refresh',
    category: 'basic',
    title: 'A first refresh fetches root N+1, timestamp, then the versioned snapshot and targets, and trusts version 1 of each',
    spec: ['5.2', '5.3.3', '5.4.1', '5.5.1', '5.6.1'],
    async build(s) {
      await s.repo();
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1), {
        requests: { exact: ['/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/1.snapshot.json', '/metadata/1.targets.json'] },
      });
    },
  },
  {
    name: 'basic-refresh-no-consistent-snapshot',
    category: 'basic',
    title: 'Without consistent snapshots, snapshot and targets are fetched under their plain names',
    spec: ['5.3.12', '5.5.1', '5.6.1'],
    async build(s) {
      await s.repo({ consistentSnapshot: false });
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1), {
        requests: { exact: ['/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/snapshot.json', '/metadata/targets.json'] },
      });
    },
  },
  {
    name: 'basic-implicit-refresh',
    category: 'basic',
    title: 'A download right after init refreshes the metadata first, then reports an unknown target as not found',
    spec: ['5.6.7', '5.7.2'],
    async build(s) {
      await s.repo();
      const st = s.state();
      s.init();
      s.download(st, 'no-such-target.txt', fail('NotFound'), top(1, 1, 1, 1), {
        requests: { include: ['/metadata/timestamp.json', '/metadata/1.targets.json'], exclude: ['/targets/*'] },
      });
    },
  },
  {
    name: 'basic-download',
    category: 'basic',
    title: 'A target is fetched as HASH.NAME under consistent snapshots and stored verified',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'file.txt', 'hello, world\n');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2), { requests: { include: [`/${targetPath('file.txt', f.hashes.sha256)}`] } });
    },
  },
  {
    name: 'basic-download-no-consistent-snapshot',
    category: 'basic',
    title: 'Without consistent snapshots a target is fetched under its plain name',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo({ consistentSnapshot: false });
      sim.addTarget('targets', 'file.txt', 'plain name\n');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2), { requests: { include: ['/targets/file.txt'] } });
    },
  },
  {
    name: 'basic-download-cached',
    category: 'basic',
    title: 'A target already downloaded with matching hashes is not fetched again',
    spec: ['5.7'],
    notes: 'The client protocol asks clients to cache artifacts: a second download of an unchanged target makes no target request.',
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'file.txt', 'cache me\n');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2));
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'basic-download-changed-target',
    category: 'basic',
    title: 'A target whose content changed in a new targets version is downloaded again and replaces the old file',
    spec: ['5.6', '5.7.3'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'file.txt', 'version one\n');
      await sim.release('targets');
      const st1 = s.state();
      const f2 = sim.addTarget('targets', 'file.txt', 'version two, longer\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.download(st1, 'file.txt', OK, top(1, 2, 2, 2), { content: 'version one\n' });
      s.download(st2, 'file.txt', OK, top(1, 3, 3, 3), { requests: { include: [`/${targetPath('file.txt', f2.hashes.sha256)}`] } });
    },
  },
  {
    name: 'basic-refresh-unchanged',
    category: 'basic',
    title: 'Refreshing twice against an unchanged repository succeeds and keeps the same versions',
    spec: ['5.4.3.1'],
    async build(s) {
      await s.repo();
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
      s.refresh(st, OK, top(1, 1, 1, 1), { requests: { include: ['/metadata/2.root.json', '/metadata/timestamp.json'] } });
    },
  },
  {
    name: 'basic-update-every-role',
    category: 'basic',
    title: 'New versions of root, timestamp, snapshot and targets are all picked up by the next refresh',
    spec: ['5.3', '5.4', '5.5', '5.6'],
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      await sim.bumpRoot();
      sim.addTarget('targets', 'new.txt', 'new\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(st2, OK, top(2, 2, 2, 2), { requests: { include: ['/metadata/2.root.json', '/metadata/3.root.json', '/metadata/2.snapshot.json', '/metadata/2.targets.json'] } });
    },
  },
  {
    name: 'basic-target-in-subdirectory',
    category: 'basic',
    title: 'A target path with folders is fetched with the hash prefix on its last segment only',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'a/b/c.txt', 'deep\n');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'a/b/c.txt', OK, top(1, 2, 2, 2), { requests: { include: [`/${targetPath('a/b/c.txt', f.hashes.sha256)}`] } });
    },
  },
  {
    name: 'basic-target-two-hashes',
    category: 'basic',
    title: 'A target listed with sha256 and sha512 is verified against both',
    spec: ['5.7.3', '4.5'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'file.txt', 'two hashes\n', ['sha256', 'sha512']);
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'basic-target-sha512-only',
    category: 'basic',
    title: 'A target listed with only a sha512 hash is fetched as SHA512.NAME and verified',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'file.txt', 'sha512 only\n', ['sha512']);
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2), { requests: { include: [`/${targetPath('file.txt', f.hashes.sha512)}`] } });
    },
  },
  {
    name: 'basic-target-empty',
    category: 'basic',
    title: 'A zero-length target downloads and verifies',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'empty', '');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'empty', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'basic-target-custom',
    category: 'basic',
    title: 'A target with a "custom" object downloads like any other',
    spec: ['4.5'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'file.txt', 'custom\n');
      f.unrecognized.custom = { 'build-id': 42, tags: ['a', 'b'] };
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'basic-several-targets',
    category: 'basic',
    title: 'Several targets downloaded one after the other are all kept',
    spec: ['5.7'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'one.txt', '1\n');
      sim.addTarget('targets', 'two.txt', '2\n');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'one.txt', OK, top(1, 2, 2, 2));
      s.download(st, 'two.txt', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'basic-target-added-later',
    category: 'basic',
    title: 'A target added after the last refresh is found once the new targets version is trusted',
    spec: ['5.6', '5.7'],
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      sim.addTarget('targets', 'later.txt', 'later\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.download(st1, 'later.txt', fail('NotFound'), top(1, 1, 1, 1));
      s.download(st2, 'later.txt', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'basic-pretty-printed-metadata',
    category: 'basic',
    title: 'Metadata served indented (not canonical JSON) verifies: signatures are over the canonical form of "signed"',
    spec: ['4.2', '5.4.2'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'file.txt', 'pretty\n');
      await sim.release('targets');
      const pretty = (b: Uint8Array): string => `${JSON.stringify(parse(b), null, 2)}\n`;
      const st = s.state({
        files: {
          [metaPath('timestamp.json')]: pretty(sim.bytes('timestamp')),
          [metaPath('2.snapshot.json')]: pretty(sim.bytes('snapshot')),
          [metaPath('2.targets.json')]: pretty(sim.bytes('targets')),
        },
      });
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2));
    },
  },
];
