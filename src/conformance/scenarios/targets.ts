import { Metadata } from '../../models/metadata.js';
import { Timestamp } from '../../models/timestamp.js';
import type { Snapshot } from '../../models/snapshot.js';
import type { Targets } from '../../models/targets.js';
import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, targetPath, VALID } from '../sim.js';
import { edited, flipSignature, resigned } from './helpers.js';

// Spec 5.6.1-5.6.6 for the top-level targets role, and 5.7 for target files.

export const targetsScenarios: ScenarioDef[] = [
  {
    name: 'targets-bad-signature',
    category: 'targets',
    title: 'A targets role whose signature has one bit changed is refused; timestamp and snapshot are kept',
    spec: ['5.6.3'],
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [sim.rolePath('targets')]: edited(sim.bytes('targets'), (d) => flipSignature(d)) } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, 1, 1, null));
    },
  },
  {
    name: 'targets-signed-by-snapshot-key',
    category: 'targets',
    title: 'A targets role signed by the snapshot key is refused',
    spec: ['5.6.3'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const bad = await resigned(sim, 'targets', () => undefined, { signers: sim.signers.get('snapshot') });
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, 1, 1, null));
    },
  },
  {
    name: 'targets-threshold-not-met',
    category: 'targets',
    title: 'A targets role signed by one of the two keys of a threshold-2 targets role is refused',
    spec: ['5.6.3'],
    async build(s) {
      const sim = await s.repo({ thresholds: { targets: 2 } });
      const bad = await resigned(sim, 'targets', () => undefined, { signers: sim.signers.get('targets')!.slice(0, 1) });
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, 1, 1, null));
    },
  },
  {
    name: 'targets-version-differs-from-snapshot',
    category: 'targets',
    title: '1.targets.json holding a correctly signed version 2 is refused: it must be the version snapshot names',
    spec: ['5.6.4'],
    async build(s) {
      const sim = await s.repo();
      const v2 = await resigned<Targets>(sim, 'targets', (t) => (t.version = 2));
      const st = s.state({ files: { [sim.rolePath('targets')]: v2 } });
      s.init();
      s.refresh(st, fail('BadVersion'), top(1, 1, 1, null));
    },
  },
  {
    name: 'targets-hash-mismatch',
    category: 'targets',
    title: 'A validly signed targets role whose hash differs from the one snapshot lists is refused',
    spec: ['5.6.2'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await s.repo({ metaHashes: true });
      await sim.release('targets');
      // Same length, other bytes: only the hash can tell.
      const other = await resigned<Targets>(sim, 'targets', (t) => (t.expires = new Date(VALID.getTime() + 86400_000)));
      const st = s.state({ files: { [sim.rolePath('targets')]: other } });
      s.init();
      s.refresh(st, fail('LengthOrHashMismatch'), top(1, 2, 2, null));
    },
  },
  {
    name: 'targets-length-mismatch',
    category: 'targets',
    title: 'A targets role longer than the length snapshot lists is refused',
    spec: ['5.6.1', '5.6.2'],
    async build(s) {
      const sim = await s.repo({ metaHashes: true });
      const snap = await resigned<Snapshot>(sim, 'snapshot', (sn) => {
        const m = sn.meta.get('targets.json')!;
        m.length = m.length! - 10;
      });
      const ts = new Metadata(new Timestamp({ version: 2, expires: new Date(VALID), snapshotMeta: sim.metaFile(1, snap) }));
      await sim.sign(ts, sim.signers.get('timestamp')!);
      const st = s.state({ files: { [sim.rolePath('snapshot')]: snap, [metaPath('timestamp.json')]: ts.toBytes() } });
      s.init();
      s.refresh(st, fail('LengthOrHashMismatch', 'DownloadLength'), top(1, 2, 1, null));
    },
  },
  {
    name: 'targets-missing',
    category: 'targets',
    title: 'A repository without the targets version snapshot names cannot be refreshed',
    spec: ['5.6.1'],
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [sim.rolePath('targets')]: null } });
      s.init();
      s.refresh(st, fail('NotFound'), top(1, 1, 1, null));
    },
  },
  {
    name: 'targets-wrong-type',
    category: 'targets',
    title: '1.targets.json holding a timestamp signed by the targets key is refused: its _type must be "targets"',
    spec: ['5.6.3', '4.5'],
    async build(s) {
      const sim = await s.repo();
      const fake = new Metadata(new Timestamp({ version: 1, expires: new Date(VALID) }));
      await sim.sign(fake, sim.signers.get('targets')!);
      const st = s.state({ files: { [sim.rolePath('targets')]: fake.toBytes() } });
      s.init();
      s.refresh(st, fail('Format', 'UnsignedMetadata'), top(1, 1, 1, null));
    },
  },
  {
    name: 'targets-refused-keeps-trusted',
    category: 'targets',
    title: 'After a refused targets role the trusted one still serves lookups: the old target is found, the new one is not',
    spec: ['5.6.3', '5.6.6'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'old.txt', 'old\n');
      await sim.release('targets');
      const st1 = s.state();
      sim.addTarget('targets', 'new.txt', 'new\n');
      await sim.release('targets');
      const st2 = s.state({ files: { [sim.rolePath('targets')]: edited(sim.bytes('targets'), (d) => flipSignature(d)) } });
      s.init();
      s.download(st1, 'old.txt', OK, top(1, 2, 2, 2));
      s.download(st2, 'new.txt', fail('UnsignedMetadata'), top(1, 3, 3, 2), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'target-missing-on-server',
    category: 'targets',
    title: 'A target listed by trusted metadata but absent from the server fails to download and leaves nothing behind',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'file.txt', 'gone\n');
      await sim.release('targets');
      const st = s.state({ files: { [targetPath('file.txt', f.hashes.sha256)]: null } });
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), top(1, 2, 2, 2));
    },
  },
  {
    name: 'target-shorter-than-listed',
    category: 'targets',
    title: 'A target served shorter than its listed length is refused',
    spec: ['5.7.3'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'file.txt', 'the whole file, as signed\n');
      await sim.release('targets');
      const st = s.state({ files: { [targetPath('file.txt', f.hashes.sha256)]: 'the whole' } });
      s.init();
      s.download(st, 'file.txt', fail('LengthOrHashMismatch', 'DownloadLength'), top(1, 2, 2, 2));
    },
  },
  {
    name: 'target-longer-than-listed',
    category: 'targets',
    title: 'A target served longer than its listed length (valid prefix, extra bytes) is refused',
    spec: ['5.7.3'],
    attack: 'endless-data',
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'file.txt', 'signed part\n');
      await sim.release('targets');
      const st = s.state({ files: { [targetPath('file.txt', f.hashes.sha256)]: 'signed part\nand a payload appended by the mirror\n' } });
      s.init();
      s.download(st, 'file.txt', fail('DownloadLength', 'LengthOrHashMismatch'), top(1, 2, 2, 2));
    },
  },
];
