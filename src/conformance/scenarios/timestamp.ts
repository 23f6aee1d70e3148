import { Metadata } from '../../models/metadata.js';
import { Snapshot } from '../../models/snapshot.js';
import type { Timestamp } from '../../models/timestamp.js';
import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, VALID } from '../sim.js';
import { serialize, edited, flipSignature, parse, resigned, signDoc } from './helpers.js';

// Spec 5.4: timestamp signatures, versions, the snapshot version it names, and expiry.

const TS = metaPath('timestamp.json');

export const timestampScenarios: ScenarioDef[] = [
  {
    name: 'timestamp-signed-by-other-key',
    category: 'timestamp',
    title: 'A timestamp signed by a key root does not authorise for timestamp is refused',
    spec: ['5.4.2'],
    async build(s) {
      const sim = await s.repo();
      const bad = await resigned(sim, 'timestamp', () => undefined, { signers: [sim.keys.next()] });
      const st = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-signed-by-snapshot-key',
    category: 'timestamp',
    title: 'A timestamp signed by the snapshot role\'s key is refused: keys are authorised per role',
    spec: ['5.4.2'],
    async build(s) {
      const sim = await s.repo();
      const bad = await resigned(sim, 'timestamp', () => undefined, { signers: sim.signers.get('snapshot') });
      const st = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-bad-signature',
    category: 'timestamp',
    title: 'A timestamp whose signature has one bit changed is refused',
    spec: ['5.4.2'],
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [TS]: edited(sim.bytes('timestamp'), (d) => flipSignature(d)) } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-no-signatures',
    category: 'timestamp',
    title: 'A timestamp with an empty signature list is refused',
    spec: ['5.4.2'],
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [TS]: edited(sim.bytes('timestamp'), (d) => (d.signatures = [])) } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-changed-after-signing',
    category: 'timestamp',
    title: 'A timestamp whose signed part was changed after signing (snapshot version 2 instead of 1) is refused',
    spec: ['5.4.2'],
    attack: 'arbitrary-installation',
    async build(s) {
      const sim = await s.repo();
      const bad = edited(sim.bytes('timestamp'), (d) => {
        ((d.signed as { meta: Record<string, { version: number }> }).meta['snapshot.json']!).version = 2;
      });
      const st = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-threshold-not-met',
    category: 'timestamp',
    title: 'A timestamp signed by one of the two keys of a threshold-2 timestamp role is refused',
    spec: ['5.4.2'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo({ thresholds: { timestamp: 2 } });
      const bad = await resigned(sim, 'timestamp', () => undefined, { signers: sim.signers.get('timestamp')!.slice(0, 1) });
      const st = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-threshold-met',
    category: 'timestamp',
    title: 'A timestamp signed by both keys of a threshold-2 timestamp role is trusted',
    spec: ['5.4.2'],
    async build(s) {
      await s.repo({ thresholds: { timestamp: 2 } });
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
    },
  },
  {
    name: 'timestamp-same-version-new-content',
    category: 'timestamp',
    title: 'A timestamp with the trusted version but other content is not taken: the trusted one is kept, and that is not an error',
    spec: ['5.4.3.1'],
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      const same = await resigned<Timestamp>(sim, 'timestamp', (t) => (t.snapshotMeta.version = 100));
      const st2 = s.state({ files: { [TS]: same } });
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(st2, OK, top(1, 1, 1, 1), { requests: { exclude: ['/metadata/100.snapshot.json'] } });
    },
  },
  {
    name: 'timestamp-snapshot-version-goes-back',
    category: 'timestamp',
    title: 'A newer timestamp naming an older snapshot version than the trusted timestamp did is refused',
    spec: ['5.4.3.2'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      await sim.release('targets');
      const st1 = s.state();
      const bad = await resigned<Timestamp>(sim, 'timestamp', (t) => {
        t.version = 3;
        t.snapshotMeta.version = 1;
      });
      const st2 = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st1, OK, top(1, 2, 2, 2));
      s.refresh(st2, fail('BadVersion'), top(1, 2, 2, 2));
    },
  },
  {
    name: 'timestamp-missing',
    category: 'timestamp',
    title: 'A repository without timestamp.json cannot be refreshed',
    spec: ['5.4.1'],
    async build(s) {
      await s.repo();
      const st = s.state({ files: { [TS]: null } });
      s.init();
      s.refresh(st, fail('NotFound'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-wrong-type',
    category: 'timestamp',
    title: 'timestamp.json holding a snapshot signed by the timestamp key is refused: its _type must be "timestamp"',
    spec: ['5.4.2', '4.6'],
    async build(s) {
      const sim = await s.repo();
      const fake = new Metadata(new Snapshot({ version: 2, expires: new Date(VALID) }));
      await sim.sign(fake, sim.signers.get('timestamp')!);
      const st = s.state({ files: { [TS]: fake.toBytes() } });
      s.init();
      s.refresh(st, fail('Format', 'UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-meta-wrong-file',
    category: 'timestamp',
    title: 'A signed timestamp whose meta names "snapshot2.json" instead of "snapshot.json" is refused as malformed',
    spec: ['4.6'],
    async build(s) {
      const sim = await s.repo();
      const doc = parse(sim.bytes('timestamp'));
      const signed = doc.signed as { meta: Record<string, unknown> };
      signed.meta = { 'snapshot2.json': signed.meta['snapshot.json'] };
      const st = s.state({ files: { [TS]: serialize(await signDoc(doc, sim.signers.get('timestamp')!)) } });
      s.init();
      s.refresh(st, fail('Format'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-version-zero',
    category: 'timestamp',
    title: 'A signed timestamp with version 0 is refused: versions are integers of at least 1',
    spec: ['4.3'],
    notes: 'Spec 4.3: VERSION is "an integer that is greater than 0". Metadata that breaks the format is refused as a whole, however it is signed.',
    async build(s) {
      const sim = await s.repo();
      const doc = parse(sim.bytes('timestamp'));
      (doc.signed as { version: number }).version = 0;
      const st = s.state({ files: { [TS]: serialize(await signDoc(doc, sim.signers.get('timestamp')!)) } });
      s.init();
      s.refresh(st, fail('Format'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-spec-version-2',
    category: 'timestamp',
    title: 'A signed timestamp declaring spec_version 2.0.0 is refused: a client supports one major version',
    spec: ['4.3'],
    async build(s) {
      const sim = await s.repo();
      const bad = await resigned(sim, 'timestamp', (t) => (t.specVersion = '2.0.0'));
      const st = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st, fail('Format'), top(1, null, null, null));
    },
  },
  {
    name: 'timestamp-snapshot-hashes',
    category: 'timestamp',
    title: 'A timestamp listing the snapshot\'s length and hashes: the matching snapshot is trusted',
    spec: ['5.5.2'],
    async build(s) {
      await s.repo({ metaHashes: true });
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
    },
  },
  {
    name: 'timestamp-snapshot-hash-mismatch',
    category: 'timestamp',
    title: 'A validly signed snapshot whose hash differs from the one timestamp lists is refused',
    spec: ['5.5.2'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await s.repo({ metaHashes: true });
      // Same length, other bytes: only the hash can tell.
      const other = await resigned(sim, 'snapshot', (sn) => (sn.expires = new Date(VALID.getTime() + 86400_000)));
      const st = s.state({ files: { [sim.rolePath('snapshot')]: other } });
      s.init();
      s.refresh(st, fail('LengthOrHashMismatch'), top(1, 1, null, null));
    },
  },
  {
    name: 'timestamp-snapshot-length-mismatch',
    category: 'timestamp',
    title: 'A snapshot longer than the length timestamp lists is refused',
    spec: ['5.5.1', '5.5.2'],
    async build(s) {
      const sim = await s.repo({ metaHashes: true });
      const bad = await resigned<Timestamp>(sim, 'timestamp', (t) => (t.snapshotMeta.length = t.snapshotMeta.length! - 10));
      const st = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st, fail('LengthOrHashMismatch', 'DownloadLength'), top(1, 1, null, null));
    },
  },
  {
    name: 'timestamp-refused-keeps-trusted',
    category: 'timestamp',
    title: 'After a refused timestamp the previously trusted timestamp is still the one in the metadata dir',
    spec: ['5.4.2', '5.4.5'],
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      await sim.release('targets');
      const bad = edited(sim.bytes('timestamp'), (d) => flipSignature(d));
      const st2 = s.state({ files: { [TS]: bad } });
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(st2, fail('UnsignedMetadata'), top(1, 1, 1, 1));
    },
  },
  {
    name: 'timestamp-recovers-after-refusal',
    category: 'timestamp',
    title: 'A refused timestamp leaves the client able to update once the repository serves a good one',
    spec: ['5'],
    async build(s) {
      const sim = await s.repo();
      const bad = edited(sim.bytes('timestamp'), (d) => flipSignature(d));
      const st1 = s.state({ files: { [TS]: bad } });
      const st2 = s.state();
      s.init();
      s.refresh(st1, fail('UnsignedMetadata'), top(1, null, null, null));
      s.refresh(st2, OK, top(1, 1, 1, 1));
    },
  },
];
