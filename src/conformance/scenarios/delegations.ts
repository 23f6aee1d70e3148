import { Metadata } from '../../models/metadata.js';
import type { Snapshot } from '../../models/snapshot.js';
import { Targets } from '../../models/targets.js';
import { Key } from '../../models/key.js';
import { OK, fail, top, type ScenarioDef, type ScenarioBuilder } from '../scenario.js';
import { sha256Hex, VALID, type RepoSim } from '../sim.js';
import { serialize, edited, EXPIRED, flipSignature, parse, resigned, signDoc, type JSONValue } from './helpers.js';

// Spec 5.6.7 and the delegation format (4.5): the pre-order depth-first search, terminating
// delegations, path patterns, hash prefixes, succinct hash bins, and delegated role verification.

const T2 = (delegated: Record<string, number | null>): Record<string, number | null> => top(1, 2, 2, 2, delegated);

function req(role: string, version = 1): string {
  return `/metadata/${version}.${role}.json`;
}

/** targets -> role-a (paths), role-a lists `target`; released as targets v2. */
async function oneDelegation(s: ScenarioBuilder, paths: string[], target: string, opts: { metaHashes?: boolean } = {}): Promise<RepoSim> {
  const sim = await s.repo({ metaHashes: opts.metaHashes });
  sim.delegate('targets', 'role-a', { paths });
  sim.addTarget('role-a', target, `content of ${target}\n`);
  await sim.release('targets', 'role-a');
  return sim;
}

/** A chain targets -> d1 -> d2 ... -> dN, each for "*"; the target is in dN. */
async function chain(s: ScenarioBuilder, n: number): Promise<RepoSim> {
  const sim = await s.repo();
  const names: string[] = [];
  let parent = 'targets';
  for (let i = 1; i <= n; i++) {
    const name = `d${i}`;
    sim.delegate(parent, name, { paths: ['*'] });
    names.push(name);
    parent = name;
  }
  sim.addTarget(parent, 'file.txt', 'at the end of the chain\n');
  await sim.release('targets', ...names);
  return sim;
}

/**
 * targets -> role-a (a/*) and role-b (b/*); both delegate role-x, role-a with role-x's own key for
 * a/*, role-b with another key for b/*. role-x, signed by its own key only, lists a/file.txt and
 * b/evil.txt: trusted through role-a, never through role-b.
 */
async function twoDelegators(s: ScenarioBuilder): Promise<RepoSim> {
  const sim = await s.repo();
  sim.delegate('targets', 'role-a', { paths: ['a/*'] });
  sim.delegate('targets', 'role-b', { paths: ['b/*'] });
  const xKeys = sim.delegate('role-a', 'role-x', { paths: ['a/*'] });
  sim.delegate('role-b', 'role-x', { paths: ['b/*'] });
  sim.signers.set('role-x', xKeys);
  sim.addTarget('role-x', 'a/file.txt', 'trusted through role-a\n');
  sim.addTarget('role-x', 'b/evil.txt', 'not signed by the key role-b gives role-x\n');
  await sim.release('targets', 'role-a', 'role-b', 'role-x');
  return sim;
}

const TWO_DELEGATORS_NOTES =
  'Two roles may delegate one role, each with its own keys and threshold: 5.6.3 checks a delegated role against the keys of the role that delegated it on the path being searched. A client that remembers only that role-x was verified answers a lookup through role-b from what a lookup through role-a trusted. Steps listing several targets run them in one client invocation (`--target-name` repeated), so the client keeps role-x in memory between the lookups.';

function patternScenario(name: string, title: string, pattern: string, target: string, matches: boolean): ScenarioDef {
  return {
    name,
    category: 'delegations',
    title,
    spec: ['4.5', '5.6.7.2'],
    async build(s) {
      await oneDelegation(s, [pattern], target);
      const st = s.state();
      s.init();
      if (matches) s.download(st, target, OK, T2({ 'role-a': 1 }));
      else s.download(st, target, fail('NotFound'), T2({ 'role-a': null }), { requests: { exclude: [req('role-a')] } });
    },
  };
}

export const delegationScenarios: ScenarioDef[] = [
  {
    name: 'delegation-basic',
    category: 'delegations',
    title: 'A target listed by a delegated role trusted for its path is found, and the role is persisted',
    spec: ['5.6.7', '5.6.6'],
    async build(s) {
      await oneDelegation(s, ['a/*'], 'a/file.txt');
      const st = s.state();
      s.init();
      s.download(st, 'a/file.txt', OK, T2({ 'role-a': 1 }), { requests: { include: [req('role-a')] } });
    },
  },
  {
    name: 'delegation-bad-signature',
    category: 'delegations',
    title: 'A delegated role whose signature has one bit changed is refused and its target not downloaded',
    spec: ['5.6.3', '5.6.7'],
    async build(s) {
      const sim = await oneDelegation(s, ['*'], 'file.txt');
      const st = s.state({ files: { [sim.rolePath('role-a')]: edited(sim.bytes('role-a'), (d) => flipSignature(d)) } });
      s.init();
      s.download(st, 'file.txt', fail('UnsignedMetadata', 'NotFound'), T2({ 'role-a': null }), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'delegation-signed-by-delegator-key',
    category: 'delegations',
    title: 'A delegated role signed by the delegating targets key instead of its own is refused',
    spec: ['5.6.3'],
    async build(s) {
      const sim = await oneDelegation(s, ['*'], 'file.txt');
      const bad = await resigned(sim, 'role-a', () => undefined, { signers: sim.signers.get('targets') });
      const st = s.state({ files: { [sim.rolePath('role-a')]: bad } });
      s.init();
      s.download(st, 'file.txt', fail('UnsignedMetadata', 'NotFound'), T2({ 'role-a': null }));
    },
  },
  {
    name: 'delegation-version-differs-from-snapshot',
    category: 'delegations',
    title: '1.role-a.json holding a correctly signed version 2 is refused: it must be the version snapshot names',
    spec: ['5.6.4'],
    async build(s) {
      const sim = await oneDelegation(s, ['*'], 'file.txt');
      const v2 = await resigned<Targets>(sim, 'role-a', (t) => (t.version = 2));
      const st = s.state({ files: { [sim.rolePath('role-a')]: v2 } });
      s.init();
      s.download(st, 'file.txt', fail('BadVersion', 'NotFound'), T2({ 'role-a': null }));
    },
  },
  {
    name: 'delegation-hash-mismatch',
    category: 'delegations',
    title: 'A validly signed delegated role whose hash differs from the one snapshot lists is refused',
    spec: ['5.6.2'],
    attack: 'mix-and-match',
    async build(s) {
      const sim = await oneDelegation(s, ['*'], 'file.txt', { metaHashes: true });
      const other = await resigned<Targets>(sim, 'role-a', (t) => (t.expires = new Date(VALID.getTime() + 86400_000)));
      const st = s.state({ files: { [sim.rolePath('role-a')]: other } });
      s.init();
      s.download(st, 'file.txt', fail('LengthOrHashMismatch', 'NotFound'), T2({ 'role-a': null }));
    },
  },
  {
    name: 'delegation-expired',
    category: 'delegations',
    title: 'An expired delegated role is refused and its target not downloaded',
    spec: ['5.6.5'],
    attack: 'indefinite-freeze',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.addTarget('role-a', 'file.txt', 'frozen\n');
      sim.targets('role-a').expires = new Date(EXPIRED);
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('Expired', 'NotFound'), T2({ 'role-a': null }), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'delegation-not-in-snapshot',
    category: 'delegations',
    title: 'A delegated role that snapshot does not list cannot be trusted',
    spec: ['5.6.1', '5.6.4'],
    async build(s) {
      const sim = await oneDelegation(s, ['*'], 'file.txt');
      const snap = await resigned<Snapshot>(sim, 'snapshot', (sn) => sn.meta.delete('role-a.json'));
      const st = s.state({ files: { [sim.rolePath('snapshot')]: snap } });
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), T2({ 'role-a': null }), { requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'delegation-target-outside-paths',
    category: 'delegations',
    title: 'A delegated role listing a target outside the paths it is trusted for is not consulted for it',
    spec: ['4.5', '5.6.7.2'],
    attack: 'extraneous-dependencies',
    async build(s) {
      await oneDelegation(s, ['a/*'], 'b/file.txt');
      const st = s.state();
      s.init();
      s.download(st, 'b/file.txt', fail('NotFound'), T2({ 'role-a': null }), { requests: { exclude: [req('role-a'), '/targets/*'] } });
    },
  },
  {
    name: 'delegation-paths-checked-along-chain',
    category: 'delegations',
    title: 'A target must match the paths of every role of the delegation chain, not only of the role listing it',
    spec: ['4.5'],
    attack: 'extraneous-dependencies',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['a/*'] });
      sim.delegate('role-a', 'role-b', { paths: ['*/*'] });
      sim.addTarget('role-b', 'b/evil.txt', 'role-a was never trusted for b/*\n');
      sim.addTarget('role-b', 'a/good.txt', 'inside both patterns\n');
      await sim.release('targets', 'role-a', 'role-b');
      const st = s.state();
      s.init();
      s.download(st, 'b/evil.txt', fail('NotFound'), T2({ 'role-a': null, 'role-b': null }), { requests: { exclude: [req('role-a'), req('role-b')] } });
      s.download(st, 'a/good.txt', OK, T2({ 'role-a': 1, 'role-b': 1 }));
    },
  },
  {
    name: 'delegation-terminating',
    category: 'delegations',
    title: 'A terminating delegation that does not list the target ends the search: the next delegation is not consulted',
    spec: ['5.6.7.2.1'],
    attack: 'wrong-software',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'], terminating: true });
      sim.delegate('targets', 'role-b', { paths: ['*'] });
      sim.addTarget('role-b', 'file.txt', 'from role-b\n');
      await sim.release('targets', 'role-a', 'role-b');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), T2({ 'role-a': 1, 'role-b': null }), { requests: { include: [req('role-a')], exclude: [req('role-b')] } });
    },
  },
  {
    name: 'delegation-non-terminating',
    category: 'delegations',
    title: 'A non-terminating delegation that does not list the target lets the search continue with the next one',
    spec: ['5.6.7.2.2'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('targets', 'role-b', { paths: ['*'] });
      sim.addTarget('role-b', 'file.txt', 'from role-b\n');
      await sim.release('targets', 'role-a', 'role-b');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': 1, 'role-b': 1 }), { requests: { include: [req('role-a'), req('role-b')] } });
    },
  },
  {
    name: 'delegation-priority-order',
    category: 'delegations',
    title: 'Two delegations listing the same path: the first one in order wins',
    spec: ['4.5', '5.6.7.2'],
    attack: 'wrong-software',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('targets', 'role-b', { paths: ['*'] });
      sim.addTarget('role-a', 'file.txt', 'from role-a, the trusted one\n');
      sim.addTarget('role-b', 'file.txt', 'from role-b, lower priority\n');
      await sim.release('targets', 'role-a', 'role-b');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': 1, 'role-b': null }), {
        content: 'from role-a, the trusted one\n',
        requests: { exclude: [req('role-b')] },
      });
    },
  },
  {
    name: 'delegation-top-level-wins',
    category: 'delegations',
    title: 'A target listed by the top-level targets role is taken from it, before any delegation',
    spec: ['5.6.7.1'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.addTarget('targets', 'file.txt', 'from targets\n');
      sim.addTarget('role-a', 'file.txt', 'from role-a\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': null }), { content: 'from targets\n', requests: { exclude: [req('role-a')] } });
    },
  },
  {
    name: 'delegation-nested',
    category: 'delegations',
    title: 'A target two delegations deep (targets -> role-a -> role-b) is found',
    spec: ['5.6.7'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('role-a', 'role-b', { paths: ['*'] });
      sim.addTarget('role-b', 'file.txt', 'nested\n');
      await sim.release('targets', 'role-a', 'role-b');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': 1, 'role-b': 1 }));
    },
  },
  {
    name: 'delegation-preorder-depth-first',
    category: 'delegations',
    title: 'The search is pre-order depth-first: role-a\'s child role-c is searched before role-a\'s sibling role-b',
    spec: ['5.6.7'],
    attack: 'wrong-software',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('targets', 'role-b', { paths: ['*'] });
      sim.delegate('role-a', 'role-c', { paths: ['*'] });
      sim.addTarget('role-b', 'file.txt', 'from role-b (searched last)\n');
      sim.addTarget('role-c', 'file.txt', 'from role-c (depth first)\n');
      await sim.release('targets', 'role-a', 'role-b', 'role-c');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': 1, 'role-b': null, 'role-c': 1 }), {
        content: 'from role-c (depth first)\n',
        requests: { exclude: [req('role-b')] },
      });
    },
  },
  {
    name: 'delegation-terminating-ends-whole-search',
    category: 'delegations',
    title: 'A terminating delegation deep in the tree ends the whole search, not only its delegator\'s',
    spec: ['5.6.7.2.1'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('targets', 'role-d', { paths: ['*'] });
      sim.delegate('role-a', 'role-b', { paths: ['*'], terminating: true });
      sim.delegate('role-a', 'role-c', { paths: ['*'] });
      sim.addTarget('role-c', 'file.txt', 'from role-c\n');
      sim.addTarget('role-d', 'file.txt', 'from role-d\n');
      await sim.release('targets', 'role-a', 'role-b', 'role-c', 'role-d');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), T2({ 'role-a': 1, 'role-b': 1, 'role-c': null, 'role-d': null }), {
        requests: { exclude: [req('role-c'), req('role-d')] },
      });
    },
  },
  {
    name: 'delegation-cycle',
    category: 'delegations',
    title: 'A delegation cycle (role-a -> role-b -> role-a) ends the search with no target, each role fetched once',
    spec: ['5.6.7.1'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('role-a', 'role-b', { paths: ['*'] });
      sim.delegate('role-b', 'role-a', { paths: ['*'], signers: sim.signers.get('role-a') });
      await sim.release('targets', 'role-a', 'role-b');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), T2({ 'role-a': 1, 'role-b': 1 }));
    },
  },
  {
    name: 'delegation-self-cycle',
    category: 'delegations',
    title: 'A role delegating to itself does not make the search loop',
    spec: ['5.6.7.1'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.delegate('role-a', 'role-a', { paths: ['*'], signers: sim.signers.get('role-a') });
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), T2({ 'role-a': 1 }));
    },
  },
  {
    name: 'delegation-chain-of-10',
    category: 'delegations',
    title: 'A target at the end of a chain of 10 delegations is found',
    spec: ['5.6.7'],
    async build(s) {
      await chain(s, 10);
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2(Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`d${i + 1}`, 1]))));
    },
  },
  {
    name: 'delegation-chain-too-long',
    category: 'delegations',
    title: 'A target at the end of a chain of 40 delegations is not found: the number of roles visited is bounded',
    spec: ['5.6.7.1'],
    attack: 'endless-data',
    notes:
      'The specification leaves the maximum number of roles visited to the application; this scenario assumes the common default of 32 (python-tuf, go-tuf, tuf-js, tufkit). A client must stop somewhere: a repository could otherwise make it fetch any number of roles.',
    async build(s) {
      await chain(s, 40);
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), top(1, 2, 2, 2, { d40: null }), { noFileCount: true, requests: { exclude: [req('d40'), '/targets/*'] } });
    },
  },
  {
    name: 'delegation-too-many-siblings',
    category: 'delegations',
    title: 'A target in the 40th of 40 sibling delegations is not found: the number of roles visited is bounded',
    spec: ['5.6.7.1'],
    attack: 'endless-data',
    notes: 'As for delegation-chain-too-long, this assumes the common limit of 32 roles visited per lookup.',
    async build(s) {
      const sim = await s.repo();
      const names = Array.from({ length: 40 }, (_, i) => `sib${i + 1}`);
      for (const n of names) sim.delegate('targets', n, { paths: ['*'] });
      sim.addTarget('sib40', 'file.txt', 'in the last sibling\n');
      await sim.release('targets', ...names);
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), top(1, 2, 2, 2, { sib40: null }), { noFileCount: true, requests: { exclude: [req('sib40'), '/targets/*'] } });
    },
  },
  {
    name: 'delegation-two-delegators-first-then-second',
    category: 'delegations',
    title: 'A role verified through role-a is refused through role-b, which gives it another key: in the same client run, and in the next',
    spec: ['5.6.3', '5.6.7'],
    attack: 'arbitrary-installation',
    notes: TWO_DELEGATORS_NOTES,
    async build(s) {
      await twoDelegators(s);
      const st = s.state();
      const trusted = T2({ 'role-a': 1, 'role-b': 1, 'role-x': 1 });
      const requests = { exclude: ['/targets/b/*'] };
      s.init();
      s.download(st, ['a/file.txt', 'b/evil.txt'], fail('UnsignedMetadata', 'NotFound'), trusted, { requests });
      s.download(st, 'b/evil.txt', fail('UnsignedMetadata', 'NotFound'), trusted, { requests });
    },
  },
  {
    name: 'delegation-two-delegators-second-then-first',
    category: 'delegations',
    title: 'A role refused through role-b is then trusted through role-a, and still refused through role-b in a run that reached it through role-a first',
    spec: ['5.6.3', '5.6.7'],
    attack: 'arbitrary-installation',
    notes: TWO_DELEGATORS_NOTES,
    async build(s) {
      await twoDelegators(s);
      const st = s.state();
      const requests = { exclude: ['/targets/b/*'] };
      s.init();
      s.download(st, 'b/evil.txt', fail('UnsignedMetadata', 'NotFound'), T2({ 'role-a': null, 'role-b': 1, 'role-x': null }), { requests });
      const trusted = T2({ 'role-a': 1, 'role-b': 1, 'role-x': 1 });
      s.download(st, 'a/file.txt', OK, trusted);
      s.download(st, ['a/file.txt', 'b/evil.txt'], fail('UnsignedMetadata', 'NotFound'), trusted, { requests });
    },
  },
  {
    name: 'delegation-hash-prefix',
    category: 'delegations',
    title: 'A role delegated by path_hash_prefixes is trusted for a target whose sha256 starts with one of them',
    spec: ['4.5'],
    async build(s) {
      const sim = await s.repo();
      const target = 'package-1.0.tgz';
      sim.delegate('targets', 'role-a', { hashPrefixes: ['00', sha256Hex(target).slice(0, 2)] });
      sim.addTarget('role-a', target, 'hash-prefixed\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, target, OK, T2({ 'role-a': 1 }));
    },
  },
  {
    name: 'delegation-hash-prefix-mismatch',
    category: 'delegations',
    title: 'A role delegated by path_hash_prefixes is not consulted for a target whose sha256 starts otherwise',
    spec: ['4.5'],
    attack: 'extraneous-dependencies',
    async build(s) {
      const sim = await s.repo();
      const target = 'package-1.0.tgz';
      const first = sha256Hex(target)[0]!;
      const other = first === '0' ? '1' : '0';
      sim.delegate('targets', 'role-a', { hashPrefixes: [other] });
      sim.addTarget('role-a', target, 'not for this role\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, target, fail('NotFound'), T2({ 'role-a': null }), { requests: { exclude: [req('role-a')] } });
    },
  },
  ...[4, 5].map(
    (bits): ScenarioDef => ({
      name: `delegation-succinct-bins-${bits}-bits`,
      category: 'delegations',
      title: `Succinct hash bins (bit_length ${bits}): the target is found in the bin its sha256 selects`,
      spec: ['4.5', 'TAP 15'],
      async build(s) {
        const sim = await s.repo();
        const names = sim.delegateBins('targets', bits, 'bin');
        const target = 'packages/widget-2.1.tgz';
        const bin = sim.targets().delegations!.succinctRoles!.getRoleForTarget(target);
        sim.addTarget(bin, target, 'binned\n');
        await sim.release('targets', ...names);
        const st = s.state();
        s.init();
        s.download(st, target, OK, T2({ [bin]: 1 }), { requests: { include: [req(bin)] } });
      },
    }),
  ),
  {
    name: 'delegation-succinct-wrong-bin',
    category: 'delegations',
    title: 'A target listed in a succinct bin other than the one its hash selects is not found',
    spec: ['4.5', 'TAP 15'],
    attack: 'extraneous-dependencies',
    async build(s) {
      const sim = await s.repo();
      const names = sim.delegateBins('targets', 4, 'bin');
      const target = 'packages/widget-2.1.tgz';
      const bin = sim.targets().delegations!.succinctRoles!.getRoleForTarget(target);
      const wrong = names.find((n) => n !== bin)!;
      sim.addTarget(wrong, target, 'in the wrong bin\n');
      await sim.release('targets', ...names);
      const st = s.state();
      s.init();
      s.download(st, target, fail('NotFound'), T2({ [bin]: 1, [wrong]: null }), { requests: { exclude: [req(wrong)] } });
    },
  },
  {
    name: 'delegation-succinct-bin-unsigned',
    category: 'delegations',
    title: 'A succinct bin signed by a key other than the bins\' key is refused',
    spec: ['5.6.3', 'TAP 15'],
    async build(s) {
      const sim = await s.repo();
      const names = sim.delegateBins('targets', 4, 'bin');
      const target = 'packages/widget-2.1.tgz';
      const bin = sim.targets().delegations!.succinctRoles!.getRoleForTarget(target);
      sim.addTarget(bin, target, 'binned\n');
      await sim.release('targets', ...names);
      const bad = await resigned(sim, bin, () => undefined, { signers: [sim.keys.next()] });
      const st = s.state({ files: { [sim.rolePath(bin)]: bad } });
      s.init();
      s.download(st, target, fail('UnsignedMetadata', 'NotFound'), T2({ [bin]: null }));
    },
  },
  {
    name: 'delegation-threshold-met',
    category: 'delegations',
    title: 'A delegated role with threshold 2 signed by both its keys is trusted',
    spec: ['5.6.3'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'], threshold: 2 });
      sim.addTarget('role-a', 'file.txt', 'two signatures\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': 1 }));
    },
  },
  {
    name: 'delegation-threshold-not-met',
    category: 'delegations',
    title: 'A delegated role with threshold 2 signed by one of its keys is refused',
    spec: ['5.6.3'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const [k1] = sim.delegate('targets', 'role-a', { paths: ['*'], threshold: 2 });
      sim.addTarget('role-a', 'file.txt', 'one signature\n');
      await sim.release('targets', 'role-a');
      const bad = await resigned(sim, 'role-a', () => undefined, { signers: [k1!] });
      const st = s.state({ files: { [sim.rolePath('role-a')]: bad } });
      s.init();
      s.download(st, 'file.txt', fail('UnsignedMetadata', 'NotFound'), T2({ 'role-a': null }));
    },
  },
  {
    name: 'delegation-key-rotation',
    category: 'delegations',
    title: 'targets version 3 gives role-a a new key; role-a version 2 signed by it is trusted',
    spec: ['5.6.3'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.addTarget('role-a', 'file.txt', 'first\n');
      await sim.release('targets', 'role-a');
      const st1 = s.state();
      sim.delegate('targets', 'role-a', { paths: ['*'] }); // replaces the role and its key
      pruneUnusedKeys(sim, 'targets');
      sim.addTarget('role-a', 'file.txt', 'second, signed by the new key\n');
      await sim.release('targets', 'role-a');
      const st2 = s.state();
      s.init();
      s.download(st1, 'file.txt', OK, T2({ 'role-a': 1 }), { content: 'first\n' });
      s.download(st2, 'file.txt', OK, top(1, 3, 3, 3, { 'role-a': 2 }));
    },
  },
  {
    name: 'delegation-key-rotation-old-key',
    category: 'delegations',
    title: 'After targets version 3 replaces role-a\'s key, role-a signed by the old key is refused',
    spec: ['5.6.3'],
    attack: 'key-compromise',
    async build(s) {
      const sim = await s.repo();
      const old = sim.delegate('targets', 'role-a', { paths: ['*'] });
      sim.addTarget('role-a', 'file.txt', 'first\n');
      await sim.release('targets', 'role-a');
      const st1 = s.state();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      pruneUnusedKeys(sim, 'targets');
      sim.addTarget('role-a', 'file.txt', 'second, signed by the revoked key\n');
      await sim.release('targets', 'role-a');
      const bad = await resigned(sim, 'role-a', () => undefined, { signers: old });
      const st2 = s.state({ files: { [sim.rolePath('role-a')]: bad } });
      s.init();
      s.download(st1, 'file.txt', OK, T2({ 'role-a': 1 }), { content: 'first\n' });
      s.download(st2, 'file.txt', fail('UnsignedMetadata', 'NotFound'), top(1, 3, 3, 3, { 'role-a': 1 }));
    },
  },
  patternScenario('delegation-pattern-folder-star', 'Pattern "targets/*.tgz" covers "targets/foo.tgz"', 'targets/*.tgz', 'targets/foo.tgz', true),
  patternScenario('delegation-pattern-star-not-other-suffix', 'Pattern "targets/*.tgz" does not cover "targets/foo.txt"', 'targets/*.tgz', 'targets/foo.txt', false),
  patternScenario('delegation-pattern-star-no-slash', 'Pattern "*.tgz" does not cover "targets/foo.tgz": a wildcard does not match "/"', '*.tgz', 'targets/foo.tgz', false),
  patternScenario('delegation-pattern-question-mark', 'Pattern "foo-version-?.tgz" covers "foo-version-a.tgz"', 'foo-version-?.tgz', 'foo-version-a.tgz', true),
  patternScenario('delegation-pattern-question-mark-one-char', 'Pattern "foo-version-?.tgz" does not cover "foo-version-alpha.tgz"', 'foo-version-?.tgz', 'foo-version-alpha.tgz', false),
  patternScenario('delegation-pattern-exact', 'Pattern "foo.tgz" covers exactly "foo.tgz"', 'foo.tgz', 'foo.tgz', true),
  patternScenario('delegation-pattern-exact-no-prefix', 'Pattern "foo" does not cover "foo.tgz": patterns match whole paths', 'foo', 'foo.tgz', false),
  {
    name: 'delegation-unknown-key-type-ignored',
    category: 'delegations',
    title: 'A delegated role listing a key of an unknown type besides a valid one is trusted once the valid key signs',
    spec: ['4.2', '5.6.3'],
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      const unknown = Key.fromPublicJSON({ keytype: 'x-future-type', scheme: 'x-future-scheme', keyval: { public: 'f'.repeat(64) } });
      const d = sim.targets().delegations!;
      d.keys.set(unknown.keyid, unknown);
      d.roles!.get('role-a')!.keyids.unshift(unknown.keyid);
      sim.addTarget('role-a', 'file.txt', 'valid key signed\n');
      await sim.release('targets', 'role-a');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', OK, T2({ 'role-a': 1 }));
    },
  },
  {
    name: 'delegation-paths-and-hash-prefixes',
    category: 'delegations',
    title: 'A delegation with both "paths" and "path_hash_prefixes" is malformed',
    spec: ['4.5'],
    async build(s) {
      const sim = await oneDelegation(s, ['*'], 'file.txt');
      const doc = parse(sim.bytes('targets'));
      const roles = (doc.signed as { delegations: { roles: Record<string, JSONValue>[] } }).delegations.roles;
      roles[0]!.path_hash_prefixes = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'];
      const bad = serialize(await signDoc(doc, sim.signers.get('targets')!));
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.download(st, 'file.txt', fail('Format', 'LengthOrHashMismatch'), { root: 1, timestamp: 2, snapshot: 2, 'role-a': null }, { noFileCount: true });
    },
  },
  {
    name: 'delegation-duplicate-role-name',
    category: 'delegations',
    title: 'Delegations listing one role name twice are malformed',
    spec: ['4.5'],
    async build(s) {
      const sim = await oneDelegation(s, ['a/*'], 'file.txt');
      const doc = parse(sim.bytes('targets'));
      const roles = (doc.signed as { delegations: { roles: Record<string, JSONValue>[] } }).delegations.roles;
      roles.push({ ...roles[0]!, paths: ['*'] });
      const bad = serialize(await signDoc(doc, sim.signers.get('targets')!));
      const st = s.state({ files: { [sim.rolePath('targets')]: bad } });
      s.init();
      s.download(st, 'file.txt', fail('Format', 'LengthOrHashMismatch'), { root: 1, timestamp: 2, snapshot: 2, 'role-a': null }, { noFileCount: true });
    },
  },
  {
    name: 'delegation-named-root',
    category: 'delegations',
    title: 'A delegated role named "root" (which would be fetched as the real N.root.json) is never trusted as a targets role',
    spec: ['4.5'],
    attack: 'arbitrary-installation',
    notes: 'A delegated role name is used in file names. A role named "root" maps to 1.root.json: a client must refuse the delegation or fail on the _type of what it fetches, never mix the two up.',
    async build(s) {
      const sim = await s.repo();
      sim.delegate('targets', 'role-a', { paths: ['*'] });
      await sim.release('targets', 'role-a');
      const doc = parse(sim.bytes('targets'));
      const roles = (doc.signed as { delegations: { roles: Record<string, JSONValue>[] } }).delegations.roles;
      roles[0]!.name = 'root';
      const targetsBytes = serialize(await signDoc(doc, sim.signers.get('targets')!));
      const snap = await resigned<Snapshot>(sim, 'snapshot', (sn) => {
        sn.meta.delete('role-a.json');
        sn.meta.set('root.json', sim.metaFile(1, sim.bytes('root', 1)));
      });
      const st = s.state({ files: { [sim.rolePath('targets')]: targetsBytes, [sim.rolePath('snapshot')]: snap } });
      s.init();
      s.download(st, 'file.txt', fail('Format', 'NotFound', 'UnsignedMetadata'), { root: 1, timestamp: 2, snapshot: 2 }, { noFileCount: true, requests: { exclude: ['/targets/*'] } });
    },
  },
  {
    name: 'delegation-undelegated-role-ignored',
    category: 'delegations',
    title: 'A role that snapshot lists but no targets role delegates to is never consulted',
    spec: ['5.6.7'],
    attack: 'extraneous-dependencies',
    async build(s) {
      const sim = await s.repo();
      sim.roles.set('stray', new Metadata(new Targets({ expires: new Date(VALID) })));
      sim.signers.set('stray', [sim.keys.next()]);
      sim.addTarget('stray', 'file.txt', 'listed by nobody trusted\n');
      await sim.release('stray');
      const st = s.state();
      s.init();
      s.download(st, 'file.txt', fail('NotFound'), top(1, 2, 2, 1, { stray: null }), { requests: { exclude: [req('stray'), '/targets/*'] } });
    },
  },
];

/** Removes keys no delegated role of `role` uses any more. */
function pruneUnusedKeys(sim: RepoSim, role: string): void {
  const d = sim.targets(role).delegations!;
  const used = new Set([...d.roles!.values()].flatMap((r) => r.keyids));
  for (const k of [...d.keys.keys()]) if (!used.has(k)) d.keys.delete(k);
}
