import { Metadata } from '../../models/metadata.js';
import type { Snapshot } from '../../models/snapshot.js';
import { Targets } from '../../models/targets.js';
import type { Timestamp } from '../../models/timestamp.js';
import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, VALID } from '../sim.js';
import { edited, flipSignature, resigned } from './helpers.js';

// Spec 5.5: snapshot signatures, its version against timestamp's, the roles it lists, and expiry.

const TS = metaPath('timestamp.json');

export const snapshotScenarios: ScenarioDef[] = [
  {
    name: 'snapshot-bad-signature',
    category: 'snapshot',
    title: 'A snapshot whose signature has one bit changed is refused; the new timestamp is kept',
    spec: ['5.5.3'],
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [sim.rolePath('snapshot')]: edited(sim.bytes('snapshot'), (d) => flipSignature(d)) } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, 1, null, null));
    },
  },
  {
    name: 'snapshot-signed-by-timestamp-key',
    category: 'snapshot',
    title: 'A snapshot signed by the timestamp key is refused: an online timestamp key alone cannot change the snapshot',
    spec: ['5.5.3'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const bad = await resigned(sim, 'snapshot', () => undefined, { signers: sim.signers.get('timestamp') });
      const st = s.state({ files: { [sim.rolePath('snapshot')]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, 1, null, null));
    },
  },
  {
    name: 'snapshot-threshold-not-met',
    category: 'snapshot',
    title: 'A snapshot signed by one of the two keys of a threshold-2 snapshot role is refused',
    spec: ['5.5.3'],
    async build(s) {
      const sim = await s.repo({ thresholds: { snapshot: 2 } });
      const bad = await resigned(sim, 'snapshot', () => undefined, { signers: sim.signers.get('snapshot')!.slice(1) });
      const st = s.state({ files: { [sim.rolePath('snapshot')]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, 1, null, null));
    },
  },
  {
    name: 'snapshot-version-differs-from-timestamp',
    category: 'snapshot',
    title: '2.snapshot.json holding a correctly signed version 3 is refused: it must be the version timestamp names',
    spec: ['5.5.4'],
    async build(s) {
      const sim = await s.repo();
      await sim.release('targets');
      const v3 = await resigned<Snapshot>(sim, 'snapshot', (sn) => (sn.version = 3));
      const st = s.state({ files: { [metaPath('2.snapshot.json')]: v3 } });
      s.init();
      s.refresh(st, fail('BadVersion'), top(1, 2, null, null));
    },
  },
  {
    name: 'snapshot-version-differs-no-consistent-snapshot',
    category: 'snapshot',
    title: 'Without consistent snapshots, a snapshot.json of an older version than timestamp names is refused',
    spec: ['5.5.4'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await s.repo({ consistentSnapshot: false });
      await sim.release('targets');
      const st = s.state({ files: { [metaPath('snapshot.json')]: sim.bytes('snapshot', 1) } });
      s.init();
      s.refresh(st, fail('BadVersion'), top(1, 2, null, null));
    },
  },
  {
    name: 'snapshot-targets-version-goes-back',
    category: 'snapshot',
    title: 'A new snapshot listing an older targets version than the trusted snapshot did is refused',
    spec: ['5.5.5'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      await sim.release('targets');
      const st1 = s.state();
      const snap3 = await resigned<Snapshot>(sim, 'snapshot', (sn) => {
        sn.version = 3;
        sn.meta.get('targets.json')!.version = 1;
      });
      const ts3 = await resigned<Timestamp>(sim, 'timestamp', (t) => {
        t.version = 3;
        t.snapshotMeta.version = 3;
      });
      const st2 = s.state({ files: { [metaPath('3.snapshot.json')]: snap3, [TS]: ts3 } });
      s.init();
      s.refresh(st1, OK, top(1, 2, 2, 2));
      s.refresh(st2, fail('BadVersion'), top(1, 3, 2, 2));
    },
  },
  {
    name: 'snapshot-role-removed',
    category: 'snapshot',
    title: 'A new snapshot that no longer lists a role the trusted snapshot listed is refused',
    spec: ['5.5.5'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['a/*'] });
      await sim.release('targets', 'role-a');
      const st1 = s.state();
      const snap3 = await resigned<Snapshot>(sim, 'snapshot', (sn) => {
        sn.version = 3;
        sn.meta.delete('role-a.json');
      });
      const ts3 = await resigned<Timestamp>(sim, 'timestamp', (t) => {
        t.version = 3;
        t.snapshotMeta.version = 3;
      });
      const st2 = s.state({ files: { [metaPath('3.snapshot.json')]: snap3, [TS]: ts3 } });
      s.init();
      s.refresh(st1, OK, top(1, 2, 2, 2));
      s.refresh(st2, fail('BadVersion'), top(1, 3, 2, 2));
    },
  },
  {
    name: 'snapshot-role-added',
    category: 'snapshot',
    title: 'A new snapshot may list roles the trusted one did not',
    spec: ['5.5.5'],
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      sim.delegate('targets', 'role-a', { paths: ['a/*'] });
      await sim.release('targets', 'role-a');
      const st2 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(st2, OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'snapshot-missing',
    category: 'snapshot',
    title: 'A repository without the snapshot timestamp names cannot be refreshed',
    spec: ['5.5.1'],
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [sim.rolePath('snapshot')]: null } });
      s.init();
      s.refresh(st, fail('NotFound'), top(1, 1, null, null));
    },
  },
  {
    name: 'snapshot-without-targets',
    category: 'snapshot',
    title: 'A signed snapshot that does not list targets.json leaves the top-level targets role untrusted',
    spec: ['5.6.1', '5.6.4'],
    async build(s) {
      const sim = await s.repo();
      const bad = await resigned<Snapshot>(sim, 'snapshot', (sn) => sn.meta.clear());
      const st = s.state({ files: { [sim.rolePath('snapshot')]: bad } });
      s.init();
      s.refresh(st, fail('NotFound', 'BadVersion'), top(1, 1, 1, null));
    },
  },
  {
    name: 'snapshot-wrong-type',
    category: 'snapshot',
    title: '1.snapshot.json holding a targets role signed by the snapshot key is refused: its _type must be "snapshot"',
    spec: ['5.5.3', '4.4'],
    async build(s) {
      const sim = await s.repo();
      const fake = new Metadata(new Targets({ version: 1, expires: new Date(VALID) }));
      await sim.sign(fake, sim.signers.get('snapshot')!);
      const st = s.state({ files: { [sim.rolePath('snapshot')]: fake.toBytes() } });
      s.init();
      s.refresh(st, fail('Format', 'UnsignedMetadata'), top(1, 1, null, null));
    },
  },
  {
    name: 'snapshot-targets-hashes',
    category: 'snapshot',
    title: 'A snapshot listing the length and hashes of targets: the matching targets role is trusted',
    spec: ['5.6.2'],
    async build(s) {
      const sim = await s.repo({ metaHashes: true });
      sim.addTarget('targets', 'file.txt', 'hashed\n');
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'snapshot-refused-keeps-trusted',
    category: 'snapshot',
    title: 'After a refused snapshot the previously trusted snapshot and targets are kept',
    spec: ['5.5.3', '5.5.7'],
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      await sim.release('targets');
      const st2 = s.state({ files: { [sim.rolePath('snapshot')]: edited(sim.bytes('snapshot'), (d) => flipSignature(d)) } });
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(st2, fail('UnsignedMetadata'), top(1, 2, 1, 1));
    },
  },
];
