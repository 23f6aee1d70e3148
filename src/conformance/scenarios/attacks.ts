import { Metadata } from '../../models/metadata.js';
import { MetaFile } from '../../models/files.js';
import type { Root } from '../../models/root.js';
import type { Snapshot } from '../../models/snapshot.js';
import { Timestamp } from '../../models/timestamp.js';
import { keyOf } from '../keys.js';
import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, targetPath, VALID } from '../sim.js';
import { EXPIRED, flipped, resigned } from './helpers.js';

// The attacks of spec section 1.5.2, each played against a client that first trusted a good state.

const TS = metaPath('timestamp.json');
const ENDLESS_LIMIT = 32 * 1024 * 1024;
const SLOW_NOTE =
  'Spec 1.5.2, slow retrieval: an attacker must not be able to keep a client from updating by sending data too slowly, or not at all. The server here never finishes; a client must notice the low transfer rate itself and give up. The runner kills a client step still running after its timeout (60 s by default), which fails the scenario: a client whose own limit is longer does not protect its user in practice.';

export const attackScenarios: ScenarioDef[] = [
  // ---- arbitrary installation --------------------------------------------------------------
  {
    name: 'attack-tampered-target',
    category: 'attacks',
    title: 'A target replaced on the server by other bytes of the same length is refused and not stored',
    spec: ['1.5.2', '5.7.3'],
    attack: 'arbitrary-installation',
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'app.tgz', 'the real application\n');
      await sim.release('targets');
      const st = s.state({ files: { [targetPath('app.tgz', f.hashes.sha256)]: flipped('the real application\n', 4) } });
      s.init();
      s.download(st, 'app.tgz', fail('LengthOrHashMismatch'), top(1, 2, 2, 2));
    },
  },
  {
    name: 'attack-forged-repository',
    category: 'attacks',
    title: 'A repository whose timestamp, snapshot and targets are all re-signed with the attacker\'s key installs nothing',
    spec: ['1.5.2', '5.4.2'],
    attack: 'arbitrary-installation',
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      const evil = sim.keys.next();
      for (const r of ['timestamp', 'snapshot', 'targets']) sim.signers.set(r, [evil]);
      sim.addTarget('targets', 'app.tgz', 'malware\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.download(st2, 'app.tgz', fail('UnsignedMetadata'), top(1, 1, 1, 1), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'attack-forged-targets',
    category: 'attacks',
    title: 'A targets role listing malware, signed by a key that is not the targets key, installs nothing',
    spec: ['1.5.2', '5.6.3'],
    attack: 'arbitrary-installation',
    async build(s) {
      const sim = await s.repo();
      const evil = sim.keys.next();
      sim.addTarget('targets', 'app.tgz', 'malware\n');
      await sim.release('targets');
      const bad = await resigned(sim, 'targets', () => undefined, { signers: [evil] });
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.download(st, 'app.tgz', fail('UnsignedMetadata'), top(1, 2, 2, null), { requests: { exclude: ['/targets/*'] } });
    },
  },
  // ---- rollback ------------------------------------------------------------------------------
  {
    name: 'attack-rollback-timestamp',
    category: 'attacks',
    title: 'An older timestamp replayed after a newer one was trusted is refused',
    spec: ['1.5.2', '5.4.3.1'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      const oldTs = sim.bytes('timestamp');
      await sim.release('targets');
      const st1 = s.state();
      const st2 = s.state({ files: { [TS]: oldTs } });
      s.init();
      s.refresh(st1, OK, top(1, 2, 2, 2));
      s.refresh(st2, fail('BadVersion'), top(1, 2, 2, 2));
    },
  },
  {
    name: 'attack-rollback-whole-repository',
    category: 'attacks',
    title: 'An old, once valid repository state replayed in full does not bring back the old version of a target',
    spec: ['1.5.2', '5.4.3'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'app.tgz', 'version 1, vulnerable\n');
      await sim.release('targets');
      const old = s.state();
      sim.addTarget('targets', 'app.tgz', 'version 2, fixed\n');
      await sim.release('targets');
      const current = s.state();
      s.init();
      s.download(current, 'app.tgz', OK, top(1, 3, 3, 3));
      s.download(old, 'app.tgz', fail('BadVersion'), top(1, 3, 3, 3), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'attack-rollback-snapshot-with-timestamp-key',
    category: 'attacks',
    title: 'With the timestamp key, an attacker names an older snapshot in a newer timestamp: refused',
    spec: ['1.5.2', '5.4.3.2'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      await sim.release('targets');
      await sim.release('targets');
      const st1 = s.state();
      const ts = await resigned<Timestamp>(sim, 'timestamp', (t) => {
        t.version = 10;
        t.snapshotMeta.version = 2;
      });
      const st2 = s.state({ files: { [TS]: ts } });
      s.init();
      s.refresh(st1, OK, top(1, 3, 3, 3));
      s.refresh(st2, fail('BadVersion'), top(1, 3, 3, 3), { requests: { exclude: ['/metadata/2.snapshot.json'] } });
    },
  },
  // ---- fast-forward --------------------------------------------------------------------------
  {
    name: 'attack-fast-forward-timestamp-recovery',
    category: 'attacks',
    title: 'After a compromised timestamp key pushed timestamp version 1000, rotating the timestamp key in root lets version 2 in',
    spec: ['1.5.2', '5.3.11', '5.4.3.1'],
    attack: 'fast-forward',
    notes: 'Spec 5.3.11: when root changes the timestamp (or snapshot) keys, the client deletes its trusted timestamp and snapshot, so the inflated version no longer blocks updates.',
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      const ff = await resigned<Timestamp>(sim, 'timestamp', (t) => (t.version = 1000));
      const st2 = s.state({ files: { [TS]: ff } });
      await sim.bumpRoot(() => sim.rotateKeys('timestamp'));
      await sim.updateTimestamp();
      const st3 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(st2, OK, top(1, 1000, 1, 1));
      s.refresh(st3, OK, top(2, 2, 1, 1));
    },
  },
  {
    name: 'attack-fast-forward-timestamp-without-rotation',
    category: 'attacks',
    title: 'After a timestamp version 1000 was trusted, the repository\'s timestamp version 2 is refused until the key is rotated',
    spec: ['1.5.2', '5.4.3.1'],
    attack: 'fast-forward',
    async build(s) {
      const sim = await s.repo();
      const ff = await resigned<Timestamp>(sim, 'timestamp', (t) => (t.version = 1000));
      const st1 = s.state({ files: { [TS]: ff } });
      await sim.updateTimestamp();
      const st2 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1000, 1, 1));
      s.refresh(st2, fail('BadVersion'), top(1, 1000, 1, 1));
    },
  },
  {
    name: 'attack-fast-forward-snapshot-recovery',
    category: 'attacks',
    title: 'After compromised online keys pushed snapshot version 1000, rotating the timestamp and snapshot keys lets version 2 in',
    spec: ['1.5.2', '5.3.11', '5.5.5'],
    attack: 'fast-forward',
    async build(s) {
      const sim = await s.repo();
      const snap = await resigned<Snapshot>(sim, 'snapshot', (sn) => (sn.version = 1000));
      const ts = new Metadata(new Timestamp({ version: 1000, expires: new Date(VALID), snapshotMeta: new MetaFile(1000) }));
      await sim.sign(ts, sim.signers.get('timestamp')!);
      const st1 = s.state({ files: { [TS]: ts.toBytes(), [metaPath('1000.snapshot.json')]: snap } });
      await sim.bumpRoot(() => {
        sim.rotateKeys('timestamp');
        sim.rotateKeys('snapshot');
      });
      await sim.updateSnapshot();
      const st2 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1000, 1000, 1));
      s.refresh(st2, OK, top(2, 2, 2, 1));
    },
  },
  {
    name: 'attack-fast-forward-targets-recovery',
    category: 'attacks',
    title: 'After compromised online keys listed targets version 1000 in snapshot, rotating the snapshot key lets the real targets in',
    spec: ['1.5.2', '5.3.11', '5.5.5'],
    attack: 'fast-forward',
    async build(s) {
      const sim = await s.repo();
      const snap = await resigned<Snapshot>(sim, 'snapshot', (sn) => {
        sn.version = 2;
        sn.meta.get('targets.json')!.version = 1000;
      });
      const ts = await resigned<Timestamp>(sim, 'timestamp', (t) => {
        t.version = 2;
        t.snapshotMeta.version = 2;
      });
      const st1 = s.state({ files: { [TS]: ts, [metaPath('2.snapshot.json')]: snap } });
      await sim.bumpRoot(() => {
        sim.rotateKeys('timestamp');
        sim.rotateKeys('snapshot');
      });
      sim.snapshot.signed.version = 2;
      sim.timestamp.signed.version = 2;
      sim.addTarget('targets', 'app.tgz', 'the real thing\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.refresh(st1, fail('NotFound'), top(1, 2, 2, null));
      s.download(st2, 'app.tgz', OK, top(2, 3, 3, 2));
    },
  },
  // ---- indefinite freeze ---------------------------------------------------------------------
  ...(['timestamp', 'snapshot', 'targets'] as const).map(
    (role): ScenarioDef => ({
      name: `attack-freeze-expired-${role}`,
      category: 'attacks',
      title: `A validly signed but expired ${role} is refused`,
      spec: ['1.5.2', role === 'timestamp' ? '5.4.4' : role === 'snapshot' ? '5.5.6' : '5.6.5'],
      attack: 'indefinite-freeze',
      async build(s) {
        const sim = await s.repo();
        const bad = await resigned(sim, role, (x) => (x.expires = new Date(EXPIRED)));
        const st = s.state({ files: { [sim.rolePath(role)]: bad } });
        s.init();
        const trusted = role === 'timestamp' ? top(1, null, null, null) : role === 'snapshot' ? top(1, 1, null, null) : top(1, 1, 1, null);
        s.refresh(st, fail('Expired'), trusted);
      },
    }),
  ),
  {
    name: 'attack-freeze-then-fresh',
    category: 'attacks',
    title: 'A mirror stuck on an expired timestamp is refused, and the client updates once fresh metadata is served',
    spec: ['1.5.2', '5.4.4'],
    attack: 'indefinite-freeze',
    async build(s) {
      const sim = await s.repo();
      sim.timestamp.signed.expires = new Date(EXPIRED);
      await sim.publish('timestamp');
      const st1 = s.state();
      sim.timestamp.signed.expires = new Date(VALID);
      await sim.updateTimestamp();
      const st2 = s.state();
      s.init();
      s.refresh(st1, fail('Expired'), top(1, null, null, null));
      s.refresh(st2, OK, top(1, 2, 1, 1));
    },
  },
  // ---- endless data --------------------------------------------------------------------------
  ...(
    [
      ['timestamp', 'timestamp.json', top(1, null, null, null)],
      ['root', '2.root.json', top(1, null, null, null)],
      ['snapshot', '1.snapshot.json', top(1, 1, null, null)],
      ['targets', '1.targets.json', top(1, 1, 1, null)],
    ] as const
  ).map(
    ([role, file, trusted]): ScenarioDef => ({
      name: `attack-endless-${role}`,
      category: 'attacks',
      title: `A server that sends ${file} and then data without end: the client stops reading and fails`,
      spec: ['1.5.2', role === 'root' ? '5.3.3' : role === 'timestamp' ? '5.4.1' : role === 'snapshot' ? '5.5.1' : '5.6.1'],
      attack: 'endless-data',
      notes: `The server counts what it manages to send; more than ${ENDLESS_LIMIT} bytes means the client did not cap the download.`,
      async build(s) {
        const sim = await s.repo();
        if (role === 'root') await sim.bumpRoot();
        const st = s.state({ behaviours: [{ path: `/metadata/${file}`, kind: 'endless', client_max_bytes: ENDLESS_LIMIT }] });
        s.init();
        s.refresh(st, fail('DownloadLength', 'Format', 'SlowRetrieval'), trusted);
      },
    }),
  ),
  {
    name: 'attack-endless-target',
    category: 'attacks',
    title: 'A server that sends a target and then data without end: the client stops at the listed length and stores nothing',
    spec: ['1.5.2', '5.7.3'],
    attack: 'endless-data',
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'app.tgz', 'a short file\n');
      await sim.release('targets');
      const st = s.state({ behaviours: [{ path: `/${targetPath('app.tgz', f.hashes.sha256)}`, kind: 'endless', client_max_bytes: ENDLESS_LIMIT }] });
      s.init();
      s.download(st, 'app.tgz', fail('DownloadLength', 'LengthOrHashMismatch'), top(1, 2, 2, 2));
    },
  },
  // ---- mix-and-match -------------------------------------------------------------------------
  {
    name: 'attack-mix-and-match-old-snapshot',
    category: 'attacks',
    title: 'An older snapshot served under the name of the one timestamp lists (with its hash) is refused',
    spec: ['1.5.2', '5.5.2', '5.5.4'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await s.repo({ metaHashes: true });
      await sim.release('targets');
      const st = s.state({ files: { [metaPath('2.snapshot.json')]: sim.bytes('snapshot', 1) } });
      s.init();
      s.refresh(st, fail('LengthOrHashMismatch', 'BadVersion'), top(1, 2, null, null));
    },
  },
  {
    name: 'attack-mix-and-match-old-targets',
    category: 'attacks',
    title: 'Without consistent snapshots, an older targets.json served with a newer snapshot is refused',
    spec: ['1.5.2', '5.6.4'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await s.repo({ consistentSnapshot: false });
      sim.addTarget('targets', 'app.tgz', 'old\n');
      await sim.release('targets');
      const oldTargets = sim.bytes('targets');
      sim.addTarget('targets', 'app.tgz', 'new\n');
      await sim.release('targets');
      const st = s.state({ files: { [metaPath('targets.json')]: oldTargets } });
      s.init();
      s.download(st, 'app.tgz', fail('BadVersion'), top(1, 3, 3, null), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'attack-mix-and-match-old-target-file',
    category: 'attacks',
    title: 'Without consistent snapshots, the previous content of a target served with the new metadata is refused',
    spec: ['1.5.2', '5.7.3'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await s.repo({ consistentSnapshot: false });
      sim.addTarget('targets', 'app.tgz', 'old release\n');
      await sim.release('targets');
      sim.addTarget('targets', 'app.tgz', 'new release\n');
      await sim.release('targets');
      const st = s.state({ files: { [targetPath('app.tgz')]: 'old release\n' } });
      s.init();
      s.download(st, 'app.tgz', fail('LengthOrHashMismatch'), top(1, 3, 3, 3));
    },
  },
  // ---- malicious mirrors ---------------------------------------------------------------------
  {
    name: 'attack-mirror-tampered-target-then-good',
    category: 'attacks',
    title: 'A mirror serving a tampered target does not keep the client from getting the real one from a good mirror',
    spec: ['1.5.2', '5.7.3'],
    attack: 'malicious-mirrors',
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'app.tgz', 'genuine\n');
      await sim.release('targets');
      const bad = s.state({ files: { [targetPath('app.tgz', f.hashes.sha256)]: 'GENUINE\n' } });
      const good = s.state();
      s.init();
      s.download(bad, 'app.tgz', fail('LengthOrHashMismatch'), top(1, 2, 2, 2));
      s.download(good, 'app.tgz', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'attack-mirror-garbage-then-good',
    category: 'attacks',
    title: 'A mirror serving garbage as timestamp.json does not keep the client from updating from a good mirror',
    spec: ['1.5.2', '5'],
    attack: 'malicious-mirrors',
    async build(s) {
      await s.repo();
      const bad = s.state({ files: { [TS]: '<html><body>503 Service Unavailable</body></html>\n' } });
      const good = s.state();
      s.init();
      s.refresh(bad, fail('Format'), top(1, null, null, null));
      s.refresh(good, OK, top(1, 1, 1, 1));
    },
  },
  {
    name: 'attack-mirror-huge-unsigned-version',
    category: 'attacks',
    title: 'An unsigned timestamp with version 2^53-1 from a mirror is refused and does not block the real version 2',
    spec: ['1.5.2', '5.4.2'],
    attack: 'malicious-mirrors',
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      const huge = await resigned<Timestamp>(sim, 'timestamp', (t) => (t.version = Number.MAX_SAFE_INTEGER), { signers: [sim.keys.next()] });
      const bad = s.state({ files: { [TS]: huge } });
      await sim.updateTimestamp();
      const good = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.refresh(bad, fail('UnsignedMetadata'), top(1, 1, 1, 1));
      s.refresh(good, OK, top(1, 2, 1, 1));
    },
  },
  // ---- slow retrieval ------------------------------------------------------------------------
  {
    name: 'attack-slow-timestamp',
    category: 'attacks',
    title: 'A server sending timestamp.json at 2 bytes a second: the client gives up instead of hanging',
    spec: ['1.5.2', '5.4.1'],
    attack: 'slow-retrieval',
    notes: SLOW_NOTE,
    async build(s) {
      await s.repo();
      const st = s.state({ behaviours: [{ path: '/metadata/timestamp.json', kind: 'slow', bytes_per_second: 2 }] });
      s.init();
      s.refresh(st, fail('SlowRetrieval'), top(1, null, null, null));
    },
  },
  {
    name: 'attack-stalled-target-then-good',
    category: 'attacks',
    title: 'A server that sends a target\'s headers and then nothing: the client gives up, and downloads it when it is served',
    spec: ['1.5.2', '5.7.3'],
    attack: 'slow-retrieval',
    notes: SLOW_NOTE,
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'app.tgz', 'eventually\n');
      await sim.release('targets');
      const slow = s.state({ behaviours: [{ path: `/${targetPath('app.tgz', f.hashes.sha256)}`, kind: 'stall' }] });
      const good = s.state();
      s.init();
      s.download(slow, 'app.tgz', fail('SlowRetrieval'), top(1, 2, 2, 2));
      s.download(good, 'app.tgz', OK, top(1, 2, 2, 2));
    },
  },
  {
    name: 'attack-slow-target',
    category: 'attacks',
    title: 'A server trickling a target at 4 bytes a second: the client gives up and stores nothing',
    spec: ['1.5.2', '5.7.3'],
    attack: 'slow-retrieval',
    notes: SLOW_NOTE,
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'app.tgz', 'x'.repeat(4096));
      await sim.release('targets');
      const st = s.state({ behaviours: [{ path: `/${targetPath('app.tgz', f.hashes.sha256)}`, kind: 'slow', bytes_per_second: 4 }] });
      s.init();
      s.download(st, 'app.tgz', fail('SlowRetrieval'), top(1, 2, 2, 2));
    },
  },
  // ---- key compromise below threshold ----------------------------------------------------------
  {
    name: 'attack-one-of-two-root-keys',
    category: 'attacks',
    title: 'An attacker holding one of two root keys cannot make a new root that hands root to their own key',
    spec: ['1.5.2', '5.3.4'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo({ thresholds: { root: 2 } });
      const [a] = sim.signers.get('root')!;
      const evil = sim.keys.next();
      const v2 = await resigned<Root>(
        sim,
        'root',
        (r) => {
          r.version = 2;
          const role = r.getRole('root');
          for (const k of [...role.keyids]) r.revokeKey(k, 'root');
          role.threshold = 1;
          r.addKey(keyOf(evil), 'root');
        },
        { signers: [a!, evil] },
      );
      const st = s.state({ files: { [metaPath('2.root.json')]: v2 } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'attack-one-of-two-targets-keys',
    category: 'attacks',
    title: 'An attacker holding the online keys and one of two targets keys cannot publish a malicious target',
    spec: ['1.5.2', '5.6.3'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo({ thresholds: { targets: 2 } });
      sim.addTarget('targets', 'app.tgz', 'genuine\n');
      await sim.release('targets');
      const st1 = s.state();
      sim.signers.set('targets', sim.signers.get('targets')!.slice(0, 1));
      sim.addTarget('targets', 'app.tgz', 'malware\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.download(st1, 'app.tgz', OK, top(1, 2, 2, 2), { content: 'genuine\n' });
      s.download(st2, 'app.tgz', fail('UnsignedMetadata'), top(1, 3, 3, 2));
    },
  },
  {
    name: 'attack-timestamp-key-alone',
    category: 'attacks',
    title: 'An attacker holding only the timestamp key cannot get a new snapshot trusted',
    spec: ['1.5.2', '5.5.3'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const st1 = s.state();
      sim.signers.set('snapshot', sim.signers.get('timestamp')!);
      sim.addTarget('targets', 'app.tgz', 'malware\n');
      await sim.release('targets');
      const st2 = s.state();
      s.init();
      s.refresh(st1, OK, top(1, 1, 1, 1));
      s.download(st2, 'app.tgz', fail('UnsignedMetadata'), top(1, 2, 1, 1), { requests: { exclude: ['/targets/*'] } });
    },
  },
  // ---- wrong software --------------------------------------------------------------------------
  {
    name: 'attack-wrong-target-served',
    category: 'attacks',
    title: 'A server answering a request for one target with another genuine target is refused',
    spec: ['1.5.2', '5.7.3'],
    attack: 'wrong-software',
    async build(s) {
      const sim = await s.repo({ consistentSnapshot: false });
      sim.addTarget('targets', 'app.tgz', 'the application\n');
      sim.addTarget('targets', 'tool.tgz', 'another genuine file\n');
      await sim.release('targets');
      const st = s.state({ files: { [targetPath('app.tgz')]: 'another genuine file\n' } });
      s.init();
      s.download(st, 'app.tgz', fail('LengthOrHashMismatch', 'DownloadLength'), top(1, 2, 2, 2));
    },
  },
  {
    name: 'attack-wrong-target-from-delegation',
    category: 'attacks',
    title: 'A delegated role cannot override a target the top-level targets role lists: the client downloads the top-level one',
    spec: ['1.5.2', '5.6.7'],
    attack: 'wrong-software',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.addTarget('role-a', 'app.tgz', 'from the delegated role\n');
      sim.addTarget('targets', 'app.tgz', 'from targets\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'app.tgz', OK, top(1, 2, 2, 2, { 'role-a': null }), { content: 'from targets\n' });
    },
  },
];

