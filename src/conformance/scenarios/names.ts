import { encodeSegment } from '../format.js';
import { ANY, OK, top, type ScenarioDef } from '../scenario.js';
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
];
