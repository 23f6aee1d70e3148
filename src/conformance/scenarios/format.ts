import { TargetFile } from '../../models/files.js';
import type { Root } from '../../models/root.js';
import type { Timestamp } from '../../models/timestamp.js';
import type { Outcome } from '../format.js';
import { OK, fail, top, type ScenarioDef } from '../scenario.js';
import { metaPath, type RepoSim } from '../sim.js';
import { bytes, canonical, serialize, parse, replaced, resigned, signDoc, type JSONDoc, type JSONValue } from './helpers.js';

// Document formats (spec 4): unknown fields are kept and signed; JSON that is malformed, or that
// two parsers could read differently (repeated names, floats, huge integers), is refused.

const TS = metaPath('timestamp.json');

/** A first refresh against a repository whose timestamp.json is `make(sim)`. */
function badTimestamp(name: string, title: string, spec: string[], make: (sim: RepoSim) => Promise<Uint8Array> | Uint8Array, expect: Outcome = fail('Format'), notes?: string): ScenarioDef {
  return {
    name,
    category: 'format',
    title,
    spec,
    notes,
    async build(s) {
      const sim = await s.repo();
      const st = s.state({ files: { [TS]: await make(sim) } });
      s.init();
      s.refresh(st, expect, top(1, null, null, null));
    },
  };
}

/** timestamp.json whose signed part is `edit`ed as JSON and then correctly signed. */
async function signedTimestampDoc(sim: RepoSim, edit: (signed: Record<string, JSONValue>) => void): Promise<Uint8Array> {
  const doc = parse(sim.bytes('timestamp'));
  edit(doc.signed as Record<string, JSONValue>);
  return serialize(await signDoc(doc, sim.signers.get('timestamp')!));
}

const PARSER_NOTE =
  'JSON parsers disagree on such input (JSON.parse keeps the last of repeated names, others the first; some turn 1.0 into 1 or round large integers). ' +
  'Canonical JSON, which signatures are computed over, has neither repeated names nor floats, so a client must refuse the file rather than guess which reading was signed.';

const VERSION_NOTE = 'Spec 4.3: VERSION is "an integer that is greater than 0". Metadata that breaks the format is refused as a whole, however it is signed.';
const DATE_NOTE =
  'Spec 4.2.3: expiry dates have exactly the form "YYYY-MM-DDTHH:MM:SSZ". A lenient date parser reads other strings in its own way (2100-02-30 becomes 2100-03-02, a date-only string midnight in some zone), so the expiry a client checks may not be the one that was meant.';

export const formatScenarios: ScenarioDef[] = [
  // ---- unknown fields ---------------------------------------------------------------------
  {
    name: 'unknown-fields-root',
    category: 'format',
    title: 'A root with unknown fields in signed, in a key, in a role and next to signed is trusted: unknown fields are signed like the rest',
    spec: ['4.2', '5.3.4'],
    async build(s) {
      const sim = await s.repo();
      sim.root.unrecognized['x-outside-signed'] = 'not signed, and that is fine';
      await sim.bumpRoot((r) => {
        r.unrecognized['x-custom-field'] = { nested: [1, 'two', null, true] };
        const k = r.keys.get(r.getRole('root').keyids[0]!)!;
        (k.unrecognized as Record<string, unknown>)['x-key-note'] = 'extra';
        r.getRole('snapshot').unrecognized['x-role-note'] = 'extra';
      });
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(2, 1, 1, 1));
    },
  },
  {
    name: 'unknown-fields-timestamp-snapshot',
    category: 'format',
    title: 'Timestamp and snapshot with unknown fields in signed and in their meta entries are trusted',
    spec: ['4.2', '4.4', '4.6'],
    async build(s) {
      const sim = await s.repo();
      const snap = sim.snapshot.signed;
      snap.unrecognized['x-snapshot-note'] = 'extra';
      snap.meta.get('targets.json')!.unrecognized['x-meta-note'] = 'extra';
      snap.version++;
      const snapBytes = await sim.publish('snapshot');
      const ts = sim.timestamp.signed;
      ts.unrecognized['x-timestamp-note'] = 42;
      ts.snapshotMeta = sim.metaFile(snap.version, snapBytes);
      ts.snapshotMeta.unrecognized['x-meta-note'] = 'extra';
      ts.version++;
      await sim.publish('timestamp');
      const st = s.state();
      s.init();
      s.refresh(st, OK, top(1, 2, 2, 1));
    },
  },
  {
    name: 'unknown-fields-targets-delegations',
    category: 'format',
    title: 'Targets with unknown fields in signed, in a target entry, in delegations and in a delegated role entry are trusted',
    spec: ['4.2', '4.5'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['a/*'] });
      const f = sim.addTarget('role-a', 'a/file.txt', 'unknown fields around me\n');
      f.unrecognized['x-target-note'] = 'extra';
      const t = sim.targets();
      t.unrecognized['x-targets-note'] = 'extra';
      t.delegations!.unrecognized['x-delegations-note'] = 'extra';
      t.delegations!.roles!.get('role-a')!.unrecognized['x-role-note'] = 'extra';
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'a/file.txt', OK, top(1, 2, 2, 2, { 'role-a': 1 }));
    },
  },
  {
    name: 'unknown-fields-signature',
    category: 'format',
    title: 'A signature object with an unknown field besides keyid and sig still counts',
    spec: ['4.2'],
    async build(s) {
      const sim = await s.repo();
      const doc = parse(sim.bytes('timestamp'));
      (doc.signatures as Record<string, JSONValue>[])[0]!['x-signature-note'] = 'extra';
      const st = s.state({ files: { [TS]: serialize(doc) } });
      s.init();
      s.refresh(st, OK, top(1, 1, 1, 1));
    },
  },
  badTimestamp(
    'unknown-field-added-after-signing',
    'A timestamp with an unknown field added to signed after signing is refused: unknown fields are covered by the signature',
    ['4.2', '5.4.2'],
    (sim) => {
      const doc = parse(sim.bytes('timestamp'));
      (doc.signed as Record<string, JSONValue>)['x-injected'] = 'not signed';
      return serialize(doc);
    },
    fail('UnsignedMetadata'),
  ),
  // ---- JSON two parsers read differently ------------------------------------------------------
  badTimestamp(
    'duplicate-name-timestamp-version',
    'A timestamp whose signed part has "version" twice (signed as the last one) is refused',
    ['4.2'],
    async (sim) => {
      const v2 = await resigned<Timestamp>(sim, 'timestamp', (t) => (t.version = 2));
      return replaced(v2, /"version":2\}\}$/, '"version":1,"version":2}}');
    },
    fail('Format'),
    PARSER_NOTE,
  ),
  {
    name: 'duplicate-name-target-path',
    category: 'format',
    title: 'A targets role listing the same target path twice (a harmless entry first, the signed one last) is refused',
    spec: ['4.2', '4.5'],
    attack: 'wrong-software',
    notes: PARSER_NOTE,
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'app.tgz', 'what the signature covers when the last entry wins\n');
      await sim.release('targets');
      const harmless = serialize(TargetFile.fromData('app.tgz', bytes('what a reviewer reading the first entry sees\n')).toJSON() as JSONValue);
      const bad = replaced(sim.bytes('targets'), '"targets":{"app.tgz":', `"targets":{"app.tgz":${Buffer.from(harmless).toString()},"app.tgz":`);
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.download(st, 'app.tgz', fail('Format'), top(1, 2, 2, null), { requests: { exclude: ['/targets/*'] } });
    },
  },
  badTimestamp('float-version', 'A timestamp with "version": 1.0 is refused: canonical JSON has no floats', ['4.2'], (sim) => replaced(sim.bytes('timestamp'), /"version":1\}\}$/, '"version":1.0}}'), fail('Format'), PARSER_NOTE),
  badTimestamp('exponent-version', 'A timestamp with "version": 1e0 is refused: canonical JSON has no exponents', ['4.2'], (sim) => replaced(sim.bytes('timestamp'), /"version":1\}\}$/, '"version":1e0}}'), fail('Format'), PARSER_NOTE),
  {
    name: 'float-target-length',
    category: 'format',
    title: 'A targets role with a target length written as a float is refused',
    spec: ['4.2', '4.5'],
    notes: PARSER_NOTE,
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'app.tgz', '12345678901\n');
      await sim.release('targets');
      const bad = replaced(sim.bytes('targets'), '"length":12', '"length":12.0');
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.download(st, 'app.tgz', fail('Format'), top(1, 2, 2, null), { requests: { exclude: ['/targets/*'] } });
    },
  },
  badTimestamp(
    'integer-beyond-2-53',
    'A timestamp with version 2^53+1, validly signed as written, is refused: such integers do not survive most JSON parsers',
    ['4.2'],
    async (sim) => {
      // Signed as written: the canonical text with the big integer in place of the version.
      const signedText = Buffer.from(canonical(parse(sim.bytes('timestamp')).signed!)).toString().replace(/"version":1}$/, '"version":9007199254740993}');
      const [signer] = sim.signers.get('timestamp')!;
      const sig = Buffer.from(await signer!.sign(bytes(signedText))).toString('hex');
      return bytes(`{"signatures":[{"keyid":"${signer!.keyid}","sig":"${sig}"}],"signed":${signedText}}`);
    },
    fail('Format', 'UnsignedMetadata'),
    PARSER_NOTE,
  ),
  badTimestamp('nan-version', 'A timestamp with "version": NaN (not JSON) is refused', ['4.2'], (sim) => replaced(sim.bytes('timestamp'), /"version":1\}\}$/, '"version":NaN}}')),
  // ---- malformed JSON and wrong shapes ----------------------------------------------------------
  badTimestamp('truncated-timestamp', 'A timestamp cut in the middle is refused', ['4.2'], (sim) => sim.bytes('timestamp').slice(0, Math.floor(sim.bytes('timestamp').length / 2))),
  badTimestamp('empty-timestamp', 'An empty timestamp.json is refused', ['4.2'], () => new Uint8Array(0)),
  badTimestamp('json-array-timestamp', 'A timestamp.json that is a JSON array is refused', ['4.2'], () => bytes('[]')),
  badTimestamp('trailing-garbage-timestamp', 'A timestamp with bytes after the JSON document is refused', ['4.2'], (sim) => bytes(`${Buffer.from(sim.bytes('timestamp')).toString()}x`)),
  badTimestamp('missing-signatures', 'A timestamp without a "signatures" field is refused', ['4.2'], (sim) => {
    const doc = parse(sim.bytes('timestamp'));
    delete doc.signatures;
    return serialize(doc);
  }, fail('Format', 'UnsignedMetadata')),
  badTimestamp('signatures-not-a-list', 'A timestamp whose "signatures" is an object is refused', ['4.2'], (sim) => {
    const doc = parse(sim.bytes('timestamp'));
    const [first] = doc.signatures as JSONValue[];
    doc.signatures = { 0: first! };
    return serialize(doc);
  }),
  badTimestamp('signed-not-an-object', 'A timestamp whose "signed" is a string is refused', ['4.2'], (sim) => {
    const doc = parse(sim.bytes('timestamp'));
    doc.signed = Buffer.from(serialize(doc.signed!)).toString();
    return serialize(doc);
  }, fail('Format', 'UnsignedMetadata')),
  badTimestamp('missing-type', 'A signed timestamp without "_type" is refused', ['4.2'], (sim) => signedTimestampDoc(sim, (sg) => delete sg._type)),
  badTimestamp('version-as-string', 'A signed timestamp with "version": "1" is refused', ['4.3'], (sim) => signedTimestampDoc(sim, (sg) => (sg.version = '1'))),
  badTimestamp('negative-version', 'A signed timestamp with a negative version is refused', ['4.3'], (sim) => signedTimestampDoc(sim, (sg) => (sg.version = -1)), fail('Format'), VERSION_NOTE),
  badTimestamp('expires-date-only', 'A signed timestamp with "expires": "2100-01-01" (no time) is refused', ['4.2.3'], (sim) => signedTimestampDoc(sim, (sg) => (sg.expires = '2100-01-01')), fail('Format'), DATE_NOTE),
  badTimestamp('expires-not-a-date', 'A signed timestamp expiring on 2100-02-30 (no such day) is refused', ['4.2.3'], (sim) => signedTimestampDoc(sim, (sg) => (sg.expires = '2100-02-30T00:00:00Z')), fail('Format'), DATE_NOTE),
  badTimestamp('missing-spec-version', 'A signed timestamp without "spec_version" is refused', ['4.3'], (sim) => signedTimestampDoc(sim, (sg) => delete sg.spec_version)),
  badTimestamp('invalid-utf8', 'A timestamp containing bytes that are not UTF-8 is refused', ['4.2'], (sim) => {
    const text = Buffer.from(replaced(sim.bytes('timestamp'), '"_type":"timestamp"', '"_type":"timestamp","x":"@@"'));
    const at = text.indexOf('@@');
    text[at] = 0xff;
    text[at + 1] = 0xfe;
    return new Uint8Array(text);
  }, fail('Format', 'UnsignedMetadata')),
  {
    name: 'truncated-snapshot',
    category: 'format',
    title: 'A snapshot cut in the middle is refused',
    spec: ['4.2'],
    async build(s) {
      const sim = await s.repo();
      const b = sim.bytes('snapshot');
      const st = s.state({ files: { [sim.rolePath('snapshot')]: b.slice(0, b.length - 20) } });
      s.init();
      s.refresh(st, fail('Format'), top(1, 1, null, null));
    },
  },
  {
    name: 'truncated-targets',
    category: 'format',
    title: 'A targets role cut in the middle is refused',
    spec: ['4.2'],
    async build(s) {
      const sim = await s.repo();
      const b = sim.bytes('targets');
      const st = s.state({ files: { [sim.rolePath('targets')]: b.slice(0, b.length - 20) } });
      s.init();
      s.refresh(st, fail('Format'), top(1, 1, 1, null));
    },
  },
  {
    name: 'truncated-root',
    category: 'format',
    title: 'A new root version cut in the middle is refused and the trusted root kept',
    spec: ['4.2', '5.3.4'],
    async build(s) {
      const sim = await s.repo();
      await sim.bumpRoot();
      const b = sim.bytes('root', 2);
      const st = s.state({ files: { [metaPath('2.root.json')]: b.slice(0, b.length - 20) } });
      s.init();
      s.refresh(st, fail('Format'), top(1, null, null, null));
    },
  },
  {
    name: 'target-hash-not-hex',
    category: 'format',
    title: 'A target whose sha256 is not hexadecimal is never downloaded',
    spec: ['4.5'],
    async build(s) {
      const sim = await s.repo();
      const f = sim.addTarget('targets', 'app.tgz', 'content\n');
      f.hashes = { sha256: 'z'.repeat(64) };
      await sim.release('targets');
      const st = s.state();
      s.init();
      s.download(st, 'app.tgz', fail('Format', 'LengthOrHashMismatch', 'NotFound'), { root: 1, timestamp: 2, snapshot: 2 }, { noFileCount: true });
    },
  },
  {
    name: 'target-negative-length',
    category: 'format',
    title: 'A signed targets role with a negative target length is refused',
    spec: ['4.5'],
    async build(s) {
      const sim = await s.repo();
      sim.addTarget('targets', 'app.tgz', 'content\n');
      await sim.release('targets');
      const doc = parse(sim.bytes('targets'));
      ((doc.signed as { targets: Record<string, Record<string, JSONValue>> }).targets['app.tgz']!).length = -8;
      const st = s.state({ files: { [sim.rolePath('targets')]: serialize(await signDoc(doc, sim.signers.get('targets')!)) } });
      s.init();
      s.download(st, 'app.tgz', fail('Format'), top(1, 2, 2, null), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'root-threshold-zero',
    category: 'format',
    title: 'A new root giving timestamp a threshold of 0 is refused: thresholds are at least 1, or unsigned metadata would pass',
    spec: ['4.3'],
    attack: 'arbitrary-installation',
    async build(s) {
      const sim = await s.repo();
      const doc = parse(await resigned<Root>(sim, 'root', (r) => (r.version = 2)));
      ((doc.signed as { roles: Record<string, Record<string, JSONValue>> }).roles.timestamp!).threshold = 0;
      const root2 = serialize(await signDoc(doc as JSONDoc, sim.signers.get('root')!));
      const unsigned = parse(sim.bytes('timestamp'));
      unsigned.signatures = [];
      const st = s.state({ files: { [metaPath('2.root.json')]: root2, [TS]: serialize(unsigned) } });
      s.init();
      s.refresh(st, fail('Format', 'UnsignedMetadata'), { root: 1, timestamp: null, snapshot: null, targets: null });
    },
  },
  {
    name: 'root-duplicate-keyid-in-role',
    category: 'format',
    title: 'A new root listing one keyid twice for a threshold-2 role does not let one key meet it',
    spec: ['4.3', '5.3.4'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const doc = parse(await resigned<Root>(sim, 'root', (r) => (r.version = 2)));
      const role = (doc.signed as { roles: Record<string, { keyids: string[]; threshold: number }> }).roles.root!;
      role.keyids = [role.keyids[0]!, role.keyids[0]!];
      role.threshold = 2;
      const root2 = serialize(await signDoc(doc, sim.signers.get('root')!));
      const st = s.state({ files: { [metaPath('2.root.json')]: root2 } });
      s.init();
      s.refresh(st, fail('Format', 'UnsignedMetadata'), top(1, null, null, null));
    },
  },
];

