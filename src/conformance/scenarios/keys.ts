import { Key } from '../../models/key.js';
import type { Root } from '../../models/root.js';
import { KEY_KINDS, keyOf, type KeyKind } from '../keys.js';
import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath } from '../sim.js';
import { serialize, edited, flipSignature, parse, resigned, type JSONValue } from './helpers.js';

// Key types and signature schemes, rotations of every role's keys, and threshold changes.

const TS = metaPath('timestamp.json');

const KIND_TITLES: Record<KeyKind, string> = {
  ed25519: 'ed25519',
  'ecdsa-p256': 'ECDSA P-256 (ecdsa-sha2-nistp256)',
  'ecdsa-p384': 'ECDSA P-384 (ecdsa-sha2-nistp384)',
  'rsa-pss': 'RSA 2048 with rsassa-pss-sha256',
  'rsa-pkcs1v15': 'RSA 2048 with rsa-pkcs1v15-sha256',
};

// The specification recommends rsassa-pss-sha256, ed25519 and ecdsa-sha2-nistp256 (4.2.2) and
// allows others; ecdsa-sha2-nistp384 and rsa-pkcs1v15-sha256 are the ones securesystemslib
// (python-tuf) also implements.
const EXTENSION_NOTE = (kind: KeyKind): string | undefined =>
  kind === 'ecdsa-p384' || kind === 'rsa-pkcs1v15'
    ? `${KIND_TITLES[kind]} is not one of the three schemes the specification recommends (4.2.2: rsassa-pss-sha256, ed25519, ecdsa-sha2-nistp256), but TUF is not restricted to them and securesystemslib (python-tuf) implements this one. A client that does not support it fails this scenario; it must then not trust metadata such keys sign.`
    : undefined;

const keyTypeScenarios: ScenarioDef[] = KEY_KINDS.flatMap((kind): ScenarioDef[] => [
  {
    name: `keys-${kind}`,
    category: 'keys',
    title: `Every role, a delegated one included, signed with ${KIND_TITLES[kind]} keys: refresh and download succeed`,
    spec: ['4.2.2', '5.3.4', '5.4.2', '5.5.3', '5.6.3'],
    notes: EXTENSION_NOTE(kind),
    async build(s) {
      const sim = await s.repo({ keyKind: kind });
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.addTarget('role-a', 'file.txt', `signed with ${kind}\n`);
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2, { 'role-a': 1 }));
    },
  },
  {
    name: `keys-${kind}-bad-signature`,
    category: 'keys',
    title: `A ${KIND_TITLES[kind]} timestamp signature with one bit changed is refused; the correct one is then accepted`,
    spec: ['5.4.2'],
    notes: EXTENSION_NOTE(kind),
    async build(s) {
      const sim = await s.repo({ keyKind: kind });
      const st1 = s.state({ files: { [TS]: edited(sim.bytes('timestamp'), (d) => flipSignature(d)) } });
      const st2 = s.state();
      s.init();
      s.refresh(st1, fail('UnsignedMetadata'), top(1, null, null, null));
      s.refresh(st2, OK, top(1, 1, 1, 1));
    },
  },
]);

export const keyScenarios: ScenarioDef[] = [
  ...keyTypeScenarios,
  {
    name: 'keys-mixed-types',
    category: 'keys',
    title: 'Roles with different key types of the three recommended schemes (RSA-PSS root and targets, ed25519 timestamp, P-256 snapshot and delegated role)',
    spec: ['4.2.2'],
    async build(s) {
      const sim = await s.repo({ roleKeyKinds: { root: 'rsa-pss', timestamp: 'ed25519', snapshot: 'ecdsa-p256', targets: 'rsa-pss' } });
      sim.delegate('targets', 'role-a', { paths: ['*'], keyKind: 'ecdsa-p256' });
      sim.addTarget('role-a', 'file.txt', 'mixed\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, top(1, 2, 2, 2, { 'role-a': 1 }));
    },
  },
  {
    name: 'keys-root-key-type-change',
    category: 'keys',
    title: 'Root version 2 moves the root key from ed25519 to ECDSA P-256; root version 3 signed by the new key is trusted',
    spec: ['5.3.4'],
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot(() => sim.rotateKeys('root', 'ecdsa-p256'));
      await sim.bumpRoot();
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(3, 1, 1, 1));
    },
  },
  ...(['timestamp', 'snapshot', 'targets'] as const).flatMap((role): ScenarioDef[] => {
    // After the rotation: the roles the client trusts when the new key signs, and when the old one does.
    const ok = top(2, 2, 2, role === 'targets' ? 2 : 1);
    const refused =
      role === 'timestamp'
        ? top(2, null, null, 1) // 5.3.11: the old timestamp and snapshot are deleted
        : role === 'snapshot'
          ? top(2, 2, null, 1)
          : top(2, 2, 2, 1);
    const notes =
      role === 'targets'
        ? undefined
        : `Root version 2 changes the ${role} keys, so the client must delete its trusted timestamp and snapshot (spec 5.3.11: "If the timestamp and / or snapshot keys have been rotated, then delete the trusted timestamp and snapshot metadata files") before fetching the new ones. When the new ${role} is then refused, no ${role === 'timestamp' ? 'timestamp or snapshot' : 'snapshot'} file is left in the metadata dir: keeping the old one, which the new root's keys no longer vouch for, is not conforming.`;
    return [
      {
        name: `keys-rotate-${role}`,
        category: 'keys',
        title: `Root version 2 replaces the ${role} key; ${role} signed by the new key is trusted`,
        spec: ['5.3.11', role === 'timestamp' ? '5.4.2' : role === 'snapshot' ? '5.5.3' : '5.6.3'],
        notes,
        async build(s) {
          const sim = await s.repo();
          const st1 = s.state();
          await sim.bumpRoot(() => sim.rotateKeys(role));
          if (role === 'targets') await sim.release('targets');
          else await sim.updateSnapshot();
          const st2 = s.state();
          s.init();
          s.refresh(st1, OK, top(1, 1, 1, 1));
          s.refresh(st2, OK, ok);
        },
      },
      {
        name: `keys-rotate-${role}-old-key-signs`,
        category: 'keys',
        title: `Root version 2 replaces the ${role} key; ${role} signed by the old key is refused`,
        spec: ['5.3.11', role === 'timestamp' ? '5.4.2' : role === 'snapshot' ? '5.5.3' : '5.6.3'],
        attack: 'key-compromise',
        notes,
        async build(s) {
          const sim = await s.repo();
          const st1 = s.state();
          const old = sim.signers.get(role)!;
          await sim.bumpRoot(() => sim.rotateKeys(role));
          if (role === 'targets') await sim.release('targets');
          else await sim.updateSnapshot();
          const bad = await resigned(sim, role, () => undefined, { signers: old });
          const st2 = s.state({ files: { [sim.rolePath(role)]: bad } });
          s.init();
          s.refresh(st1, OK, top(1, 1, 1, 1));
          s.refresh(st2, fail('UnsignedMetadata'), refused);
        },
      },
    ];
  }),
  ...[true, false].map(
    (met): ScenarioDef => ({
      name: met ? 'keys-targets-threshold-raised' : 'keys-targets-threshold-raised-not-met',
      category: 'keys',
      title: met
        ? 'Root version 2 raises the targets threshold to 2; targets signed by both keys is trusted'
        : 'Root version 2 raises the targets threshold to 2; targets signed by one key is refused',
      spec: ['5.6.3'],
      async build(s) {
        const sim = await s.repo();
        const [a] = sim.signers.get('targets')!;
        const b = sim.keys.next();
        await sim.bumpRoot((r) => {
          r.addKey(keyOf(b), 'targets');
          r.getRole('targets').threshold = 2;
        });
        sim.signers.set('targets', met ? [a!, b] : [a!]);
        await sim.release('targets');
        const st = s.state();
        s.init();
        s.refresh(st, met ? OK : fail('UnsignedMetadata'), top(2, 2, 2, met ? 2 : null));
      },
    }),
  ),
  {
    name: 'keys-snapshot-threshold-2-of-3',
    category: 'keys',
    title: 'A snapshot role with three keys and threshold 2 is satisfied by any two of them',
    spec: ['5.5.3'],
    async build(s) {
      const sim = await s.repo({ thresholds: { snapshot: 2 } });
      const [a] = sim.signers.get('snapshot')!;
      const c = sim.keys.next();
      await sim.bumpRoot((r) => r.addKey(keyOf(c), 'snapshot'));
      sim.signers.set('snapshot', [a!, c]);
      await sim.updateSnapshot();
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 2, 2, 1));
    },
  },
  {
    name: 'keys-one-invalid-signature-among-valid',
    category: 'keys',
    title: 'An invalid signature by an authorised key does not spoil the valid one meeting the threshold',
    spec: ['5.4.2'],
    async build(s) {
      const sim = await s.repo({ thresholds: { timestamp: 2 } });
      sim.root.signed.getRole('timestamp').threshold = 1;
      await sim.publishRoot();
      const st = s.state({ files: { [TS]: edited(sim.bytes('timestamp'), (d) => flipSignature(d, 1)) } });
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
    },
  },
  {
    name: 'keys-signature-by-unknown-keyid',
    category: 'keys',
    title: 'A signature whose keyid root does not know is ignored, next to a valid one',
    spec: ['5.4.2'],
    async build(s) {
      const sim = await s.repo();
      const ts = await resigned(sim, 'timestamp', () => undefined, { signers: [...sim.signers.get('timestamp')!, sim.keys.next()] });
      const st = s.state({ files: { [TS]: ts } });
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
    },
  },
  {
    name: 'keys-same-key-under-two-keyids',
    category: 'keys',
    title: 'One key listed under two keyids and signing twice does not meet a threshold of 2',
    spec: ['5.3.4', '4.2'],
    attack: 'key-compromise',
    notes:
      'Each key contributes at most one signature towards a threshold (spec 5.3.4). A keyid is the sha256 of the key\'s canonical JSON, so the second keyid here is not a keyid of that key at all; either way, a single key must not count twice. Whoever holds one root key could otherwise rotate root alone.',
    async build(s) {
      const sim = await s.repo();
      const [a] = sim.signers.get('root')!;
      const fakeId = 'f'.repeat(64);
      const v2 = await resigned<Root>(
        sim,
        'root',
        (r) => {
          r.version = 2;
          const k = r.keys.get(a!.keyid)!;
          r.keys.set(fakeId, new Key(fakeId, k.keytype, k.scheme, { ...k.keyval }));
          r.getRole('root').keyids.push(fakeId);
          r.getRole('root').threshold = 2;
        },
        { signers: [a!] },
      );
      const doc = parse(v2);
      const sigs = doc.signatures as { keyid: string; sig: string }[];
      sigs.push({ keyid: fakeId, sig: sigs[0]!.sig });
      const st = s.state({ files: { [metaPath('2.root.json')]: serialize(doc as JSONValue) } });
      s.init();
      s.refresh(st, fail('UnsignedMetadata', 'Format'), top(1, null, null, null));
    },
  },
];
