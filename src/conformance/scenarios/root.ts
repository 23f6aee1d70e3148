import { Metadata } from '../../models/metadata.js';
import { Timestamp } from '../../models/timestamp.js';
import type { Outcome } from '../format.js';
import { ANY, OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, VALID } from '../sim.js';
import { keyOf } from '../keys.js';
import { edited, EXPIRED, flipSignature, parse, resigned, serialize, signDoc, type JSONValue } from './helpers.js';

// Spec 5.2 and 5.3: the trusted root, the chain of new root versions, and the final root's expiry.

const NEXT_ROOTS = ['/metadata/2.root.json', '/metadata/3.root.json'];

export const rootScenarios: ScenarioDef[] = [
  ...[
    ['unsigned', 'whose signature does not verify', (b: Uint8Array) => edited(b, (d) => flipSignature(d)), fail('UnsignedMetadata', 'NotFound')],
    ['malformed', 'without a "version"', (b: Uint8Array) => edited(b, (d) => delete (d.signed as Record<string, unknown>).version), fail('Format', 'NotFound')],
  ].map(
    ([slug, what, make, expect]): ScenarioDef => ({
      name: `root-initial-${slug as string}`,
      category: 'root',
      title: `A client initialised with a root ${what as string} refuses to refresh, without making any request`,
      spec: ['5.2'],
      notes: 'The trusted root is loaded and checked before anything is fetched (spec 5.2). Refusing it already at init is fine too (the init step accepts either outcome).',
      async build(s) {
        const sim = await s.repo();
        const st = s.state();
        s.setInitialRoot((make as (b: Uint8Array) => Uint8Array)(sim.bytes('root', 1)));
        s.init(ANY);
        s.refresh(st, expect as Outcome, { timestamp: null, snapshot: null, targets: null }, { noFileCount: true, requests: { exact: [] } });
      },
    }),
  ),
  {
    name: 'root-rotation',
    category: 'root',
    title: 'A new root version signed by the old and the new root keys is trusted, and the next version is then looked for',
    spec: ['5.3.3', '5.3.4', '5.3.7', '5.3.8', '5.3.9'],
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot(() => sim.rotateKeys('root'));
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 1, 1, 1), { requests: { include: NEXT_ROOTS } });
    },
  },
  {
    name: 'root-rotation-chain',
    category: 'root',
    title: 'Four root versions, each rotating the root key, are walked one by one up to version 5',
    spec: ['5.3.3', '5.3.9'],
    async build(s) {
      const sim = await s.repo();
      for (let i = 0; i < 4; i++) await sim.bumpRoot(() => sim.rotateKeys('root'));
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(5, 1, 1, 1), {
        requests: { include: ['/metadata/2.root.json', '/metadata/3.root.json', '/metadata/4.root.json', '/metadata/5.root.json', '/metadata/6.root.json'] },
      });
    },
  },
  {
    name: 'root-not-signed-by-old-keys',
    category: 'root',
    title: 'A new root signed only by its own new keys is refused: the trusted root\'s keys must sign it',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo();
      sim.root.signed.version++;
      sim.rotateKeys('root');
      await sim.publishRoot();
      const st = s.state();
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null), { requests: { exclude: ['/metadata/timestamp.json'] } });
    },
  },
  {
    name: 'root-not-signed-by-new-keys',
    category: 'root',
    title: 'A new root signed only by the old keys is refused: a threshold of its own keys must sign it too',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo();
      const old = sim.signers.get('root')!;
      sim.root.signed.version++;
      sim.rotateKeys('root');
      await sim.publishRoot(old);
      const st = s.state();
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'root-old-threshold-not-met',
    category: 'root',
    title: 'A new root signed by one of two keys of a threshold-2 trusted root is refused, even if its own threshold is met',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo({ thresholds: { root: 2 } });
      const [a] = sim.signers.get('root')!;
      sim.root.signed.version++;
      sim.root.signed.getRole('root').threshold = 1;
      sim.rotateKeys('root', 'ed25519', 1);
      await sim.publishRoot(undefined, [a!]);
      const st = s.state();
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'root-new-threshold-not-met',
    category: 'root',
    title: 'A new root with threshold 2 signed by only one of its own keys is refused, even if the old root\'s threshold is met',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo();
      const [a] = sim.signers.get('root')!;
      sim.root.signed.version++;
      sim.root.signed.getRole('root').threshold = 2;
      const [c] = sim.rotateKeys('root', 'ed25519', 2);
      await sim.publishRoot([c!], [a!]);
      const st = s.state();
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'root-extra-signature-ignored',
    category: 'root',
    title: 'A signature by a key the root does not list is ignored when the threshold is met',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo();
      const stranger = sim.keys.next();
      sim.root.signed.version++;
      await sim.publishRoot(undefined, [stranger]);
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 1, 1, 1));
    },
  },
  {
    name: 'root-version-not-n-plus-1',
    category: 'root',
    title: '2.root.json holding a correctly signed version 3 is refused: its version must be exactly N+1',
    spec: ['5.3.5'],
    async build(s) {
      const sim = await s.repo();
      const v3 = await resigned(sim, 'root', (r) => (r.version = 3));
      const st = s.state({ files: { [metaPath('2.root.json')]: v3 } });
      s.init();
      s.refresh(st, fail('BadVersion'), top(1, null, null, null));
    },
  },
  {
    name: 'root-version-rollback',
    category: 'root',
    title: '2.root.json holding version 1 again is refused as a rollback',
    spec: ['5.3.5'],
    attack: 'rollback',
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [metaPath('2.root.json')]: sim.bytes('root', 1) } });
      s.init();
      s.refresh(st, fail('BadVersion'), top(1, null, null, null));
    },
  },
  {
    name: 'root-intermediate-expired',
    category: 'root',
    title: 'An expired intermediate root does not matter: only the final root\'s expiry is checked',
    spec: ['5.3.6', '5.3.10'],
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot((r) => (r.expires = new Date(EXPIRED)));
      await sim.bumpRoot((r) => (r.expires = new Date(VALID)));
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(3, 1, 1, 1));
    },
  },
  {
    name: 'root-final-expired',
    category: 'root',
    title: 'An expired final root is persisted (it was verified) but the refresh stops before timestamp',
    spec: ['5.3.8', '5.3.10'],
    attack: 'indefinite-freeze',
    notes: 'Spec 5.3.10: if the final root has expired, "abort the update cycle" — before step 5.4, so timestamp.json is not even requested from a repository that may be freezing the client.',
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot((r) => (r.expires = new Date(EXPIRED)));
      const st = s.state();
      s.init();
      s.refresh(st, fail('Expired'), top(2, null, null, null), { requests: { exclude: ['/metadata/timestamp.json'] } });
    },
  },
  {
    name: 'root-initial-expired',
    category: 'root',
    title: 'An expired trusted root with no newer version stops the refresh before timestamp',
    spec: ['5.2', '5.3.10'],
    attack: 'indefinite-freeze',
    notes: 'Spec 5.3.10: if the final root has expired, "abort the update cycle" — before step 5.4, so timestamp.json is not even requested.',
    async build(s) {
      const sim = await s.repo();
      sim.root.signed.expires = new Date(EXPIRED);
      await sim.publishRoot();
      const st = s.state();
      s.init();
      s.refresh(st, fail('Expired'), top(1, null, null, null), { requests: { exclude: ['/metadata/timestamp.json'] } });
    },
  },
  {
    name: 'root-initial-expired-then-updated',
    category: 'root',
    title: 'An expired trusted root is fine when a valid newer root is available: the trust anchor\'s expiry does not matter',
    spec: ['5.2', '5.3.10'],
    async build(s) {
      const sim = await s.repo();
      sim.root.signed.expires = new Date(EXPIRED);
      await sim.publishRoot();
      await sim.bumpRoot((r) => (r.expires = new Date(VALID)));
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 1, 1, 1));
    },
  },
  {
    name: 'root-wrong-type',
    category: 'root',
    title: '2.root.json that is a timestamp signed by the root key is refused: its _type must be "root"',
    spec: ['5.3.4', '4.3'],
    async build(s) {
      const sim = await s.repo();
      const fake = new Metadata(new Timestamp({ version: 2, expires: new Date(VALID) }));
      await sim.sign(fake, sim.signers.get('root')!);
      const st = s.state({ files: { [metaPath('2.root.json')]: fake.toBytes() } });
      s.init();
      s.refresh(st, fail('Format', 'UnsignedMetadata'), top(1, null, null, null));
    },
  },
  {
    name: 'root-duplicate-signature',
    category: 'root',
    title: 'One key\'s signature listed twice does not meet a threshold of 2',
    spec: ['5.3.4'],
    attack: 'key-compromise',
    notes: 'Each key counts once towards a threshold, however many times its signature is listed. Refusing such a file as malformed is also correct.',
    async build(s) {
      const sim = await s.repo({ thresholds: { root: 2 } });
      const [a] = sim.signers.get('root')!;
      const v2 = await resigned(sim, 'root', (r) => (r.version = 2), { signers: [a!] });
      const doc = parse(v2);
      const sigs = doc.signatures as JSONValue[];
      doc.signatures = [sigs[0]!, sigs[0]!];
      const st = s.state({ files: { [metaPath('2.root.json')]: serialize(doc) } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata', 'Format'), top(1, null, null, null));
    },
  },
  {
    name: 'root-missing-role',
    category: 'root',
    title: 'A signed root without a "snapshot" role is refused as malformed',
    spec: ['4.3'],
    async build(s) {
      const sim = await s.repo();
      const doc = parse(await resigned(sim, 'root', (r) => (r.version = 2)));
      delete (doc.signed as { roles: Record<string, unknown> }).roles.snapshot;
      const st = s.state({ files: { [metaPath('2.root.json')]: serialize(await signDoc(doc, sim.signers.get('root')!)) } });
      s.init();
      s.refresh(st, fail('Format'), top(1, null, null, null));
    },
  },
  {
    name: 'root-enables-consistent-snapshot',
    category: 'root',
    title: 'When root version 2 turns consistent snapshots on, snapshot and targets are fetched as VERSION.NAME',
    spec: ['5.3.12', '5.5.1'],
    async build(s) {
      const sim = await s.repo({ consistentSnapshot: false });
      await sim.bumpRoot((r) => (r.consistentSnapshot = true));
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 1, 1, 1), { requests: { include: ['/metadata/1.snapshot.json', '/metadata/1.targets.json'], exclude: ['/metadata/snapshot.json'] } });
    },
  },
  {
    name: 'root-disables-consistent-snapshot',
    category: 'root',
    title: 'When root version 2 turns consistent snapshots off, snapshot and targets are fetched under plain names',
    spec: ['5.3.12', '5.5.1'],
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot((r) => (r.consistentSnapshot = false));
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 1, 1, 1), { requests: { include: ['/metadata/snapshot.json', '/metadata/targets.json'] } });
    },
  },
  {
    name: 'root-chain-breaks-at-version-3',
    category: 'root',
    title: 'Root 2 is trusted and kept when root 3 is not signed by root 2\'s keys',
    spec: ['5.3.4', '5.3.8'],
    async build(s) {
      const sim = await s.repo();
      const [a] = sim.signers.get('root')!;
      await sim.bumpRoot(() => sim.rotateKeys('root'));
      sim.root.signed.version++;
      sim.rotateKeys('root');
      await sim.publishRoot(undefined, [a!]);
      const st = s.state();
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(2, null, null, null));
    },
  },
  {
    name: 'root-revoked-key-cannot-sign',
    category: 'root',
    title: 'After root 2 replaces key A, a root 3 signed by A alone is refused',
    spec: ['5.3.4'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const [a] = sim.signers.get('root')!;
      await sim.bumpRoot(() => sim.rotateKeys('root'));
      const v3 = await resigned(sim, 'root', (r) => (r.version = 3), { signers: [a!] });
      const st = s.state({ files: { [metaPath('3.root.json')]: v3 } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(2, null, null, null));
    },
  },
  {
    name: 'root-threshold-raised',
    category: 'root',
    title: 'After root 2 raises the root threshold to 2, a root 3 signed by one key is refused',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo();
      const [a] = sim.signers.get('root')!;
      const b = sim.keys.next();
      await sim.bumpRoot((r) => {
        r.addKey(keyOf(b), 'root');
        r.getRole('root').threshold = 2;
        sim.signers.set('root', [a!, b]);
      });
      const v3 = await resigned(sim, 'root', (r) => (r.version = 3), { signers: [a!] });
      const st = s.state({ files: { [metaPath('3.root.json')]: v3 } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata'), top(2, null, null, null));
    },
  },
  {
    name: 'root-threshold-lowered',
    category: 'root',
    title: 'Root 2 lowers the threshold from 2 to 1 (signed by both keys); root 3 signed by one key is then trusted',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo({ thresholds: { root: 2 } });
      const [a, b] = sim.signers.get('root')!;
      await sim.bumpRoot((r) => {
        r.revokeKey(b!.keyid, 'root');
        r.getRole('root').threshold = 1;
        sim.signers.set('root', [a!]);
      });
      await sim.bumpRoot();
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(3, 1, 1, 1));
    },
  },
  {
    name: 'root-2-of-3-keys',
    category: 'root',
    title: 'A root with three keys and threshold 2 is trusted with signatures from two of them',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo({ thresholds: { root: 2 } });
      const [a] = sim.signers.get('root')!;
      const c = sim.keys.next();
      await sim.bumpRoot((r) => r.addKey(keyOf(c), 'root'));
      sim.root.signed.version++;
      await sim.publishRoot([a!, c]);
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(3, 1, 1, 1));
    },
  },
  {
    name: 'root-403-means-no-new-version',
    category: 'root',
    title: 'A 403 answer for N+1.root.json (as object stores give) means there is no newer root',
    spec: ['5.3.3'],
    async build(s) {
      await s.repo();
      const st = s.state({ behaviours: [{ path: '/metadata/2.root.json', kind: 'status', status: 403 }] });
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
    },
  },
  {
    name: 'root-same-role-keys-replaced',
    category: 'root',
    title: 'A root version that replaces every top-level key at once is trusted and its new keys verify the other roles',
    spec: ['5.3.4', '5.3.11'],
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot(() => {
        for (const r of ['root', 'timestamp', 'snapshot', 'targets'] as const) sim.rotateKeys(r);
      });
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 2, 2, 2));
    },
  },
];

