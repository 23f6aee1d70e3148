import { encodeSegment } from '../format.js';
import { ANY, OK, top, type ScenarioBuilder, type ScenarioDef } from '../scenario.js';
import { targetPath } from '../sim.js';

// Role names and target paths become URLs and file names: they must be encoded in requests and
// never let a file escape the metadata or target dir.

const ROLE_NAMES: [slug: string, role: string][] = [
  ['question-mark', '?'],
  ['hash', '#'],
  ['leading-slash', '/delegatedrole'],
  ['dot-dot-slash', '../delegatedrole'],
  ['dot-dot', '..'],
  ['non-ascii', 'rôle-ö'],
  ['space', 'role with space'],
  ['percent', '%2F%2e%2e'],
  ['backslash', '..\\delegatedrole'],
];

const TARGET_PATHS: [slug: string, path: string][] = [
  ['non-ascii', 'dossier/fichier-é.txt'],
  ['space', 'file with space.txt'],
  ['question-mark', 'what?.txt'],
  ['hash', 'issue#1.txt'],
  ['percent', '%41%2F.txt'],
  ['reserved-characters', "a+b=c;d,e&f!g'h(i)j*k@l$m.txt"],
  ['long-name', `${'n'.repeat(150)}.txt`],
];

const UNSAFE_TARGET_PATHS: [slug: string, path: string][] = [
  ['dot-dot', '../escape.txt'],
  ['deep-dot-dot', 'a/../../escape.txt'],
  ['absolute', '/tmp/escape.txt'],
  ['backslash', '..\\escape.txt'],
];

/** A delegated role: its name, the target it lists (its only path) and the version it is published at. */
type CasedRole = [role: string, target: string, version: number];

/**
 * Roles whose names equal another role's, or a top-level role's, ignoring case. Each is published
 * at a version no other role has, so a file of one role overwritten by another's (as on a
 * case-insensitive file system) shows as a wrong version; and no two served files differ only in
 * case, so the vectors themselves check out on such file systems. The client downloads through
 * each role in its own run (each run reads back what the runs before stored), then takes a new
 * root and downloads again: the trusted root and every role must still be there, each in its own file.
 */
async function casedRoles(s: ScenarioBuilder, roles: CasedRole[]): Promise<void> {
  const sim = await s.repo();
  for (const [role, target, version] of roles) {
    sim.delegate('targets', role, { paths: [target] });
    sim.targets(role).version = version;
    sim.addTarget(role, target, `listed by ${role}\n`);
  }
  await sim.release('targets', ...roles.map(([role]) => role));
  const trusted = (root: number, held: number): Record<string, number | null> =>
    top(root, sim.timestamp.signed.version, sim.snapshot.signed.version, sim.targets().version,
      Object.fromEntries(roles.map(([role, , version], i) => [role, i < held ? version : null])));
  const st = s.state();
  s.init();
  roles.forEach(([role, target, version], i) => {
    s.download(st, target, OK, trusted(1, i + 1), { requests: { include: [`/metadata/${encodeSegment(`${version}.${role}.json`)}`] } });
  });
  await sim.bumpRoot();
  await sim.release('targets');
  const st2 = s.state();
  s.refresh(st2, OK, trusted(2, roles.length));
  s.download(st2, roles[roles.length - 1]![1], OK, trusted(2, roles.length));
}

export const nameScenarios: ScenarioDef[] = [
  ...ROLE_NAMES.map(
    ([slug, role]): ScenarioDef => ({
      name: `role-name-${slug}`,
      category: 'names',
      title: `A delegated role named ${JSON.stringify(role)} is requested percent-encoded and stored inside the metadata dir`,
      spec: ['4.5', '5.6.1'],
      notes:
        'The role file must be requested with the name percent-encoded as one path segment (e.g. Python\'s urllib.parse.quote(name, safe="")). How the client names the file in its metadata dir is its choice, so only the number of metadata files is checked, and that nothing was written outside the metadata and target dirs.',
      async build(s) {
        const sim = await s.repo();
        sim.delegate('targets', role, { paths: ['*'] });
        sim.addTarget(role, 'file.txt', `listed by ${role}\n`);
        await sim.release('targets', role);
        const st = s.state();
        s.init();
        s.download(st, 'file.txt', OK, top(1, 2, 2, 2), { unnamedRoles: 1, requests: { include: [`/metadata/${encodeSegment(`1.${role}.json`)}`] } });
      },
    }),
  ),
  ...TARGET_PATHS.map(
    ([slug, path]): ScenarioDef => ({
      name: `target-path-${slug}`,
      category: 'names',
      title: `A target named ${JSON.stringify(path)} is requested with each path segment percent-encoded and downloaded`,
      spec: ['4.5', '5.7.3'],
      notes:
        'A target path is a path, not a URL: each of its "/"-separated segments must be percent-encoded in the request, or "?" starts a query, "#" a fragment and "%41" turns into "A", and the client fetches (and fails to verify, or worse) another file than the one the metadata describes.',
      async build(s) {
        const sim = await s.repo();
        const f = sim.addTarget('targets', path, `content of ${path}\n`);
        await sim.release('targets');
        const st = s.state();
        s.init();
        s.download(st, path, OK, top(1, 2, 2, 2), { requests: { include: [`/${targetPath(path, f.hashes.sha256)}`] } });
      },
    }),
  ),
  ...UNSAFE_TARGET_PATHS.map(
    ([slug, path]): ScenarioDef => ({
      name: `target-path-unsafe-${slug}`,
      category: 'names',
      title: `A signed target named ${JSON.stringify(path)} never makes the client write outside its target dir`,
      spec: ['4.5', '5.7.3'],
      notes: 'Refusing the path and storing the file safely inside the target dir are both conforming; writing anywhere else is not.',
      async build(s) {
        const sim = await s.repo();
        sim.addTarget('targets', path, 'this must not land outside the target dir\n');
        await sim.release('targets');
        const st = s.state();
        s.init();
        s.download(st, path, ANY, top(1, 2, 2, 2));
      },
    }),
  ),
  {
    name: 'role-names-differ-in-case',
    category: 'names',
    title: 'Delegated roles named "Root", "x" and "X" are three roles, none of them the trusted root',
    spec: ['4.5', '5.2', '5.6.1'],
    notes:
      'Role names are case-sensitive. A client that stores a role as `<name>.json` keeps `Root.json` and `root.json`, or `x.json` and `X.json`, as one file on case-insensitive file systems (macOS, Windows): the delegated role replaces the trusted root, or one role the other. Here every role has its own version, so the metadata dir must hold each role, at its version, in its own file, and the later refresh must still start from the trusted root.',
    async build(s) {
      await casedRoles(s, [
        ['Root', 'r/file.txt', 10],
        ['x', 'lower/file.txt', 1],
        ['X', 'upper/file.txt', 5],
      ]);
    },
  },
  {
    name: 'role-names-top-level-in-other-case',
    category: 'names',
    title: 'Delegated roles named "Timestamp", "SNAPSHOT" and "Targets" never replace the top-level roles',
    spec: ['4.5', '5.4', '5.5', '5.6.1'],
    notes:
      'As role-names-differ-in-case, for the other top-level roles: stored as `Timestamp.json`, a delegated role takes the place of `timestamp.json` on case-insensitive file systems, and the next refresh checks the new timestamp against a targets document (or refuses to start).',
    async build(s) {
      await casedRoles(s, [
        ['Timestamp', 't/file.txt', 40],
        ['SNAPSHOT', 's/file.txt', 30],
        ['Targets', 'g/file.txt', 20],
      ]);
    },
  },
];
