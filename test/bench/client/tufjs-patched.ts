import { existsSync } from 'node:fs';
import { cp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

// The fair anchor: a copy of the tuf-js devDependency whose @tufjs/models builds objects with
// `reduce((acc, [k, v]) => ({ ...acc, [k]: f(v) }), {})`, which copies the accumulator on every
// entry (O(N^2) in the number of targets), rewritten to assign into the accumulator instead.
// Nothing else changes: it is what tuf-js costs without that one idiom.

/** Where the copy goes, inside the project (ignored by git) so tuf-js's other dependencies resolve from its node_modules. */
const OUT = join('.bench-tmp', 'tufjs-patched');

export interface TufjsBuild {
  /** The file `import()` loads (tuf-js's main). */
  entry: string;
  tufjsVersion: string;
  modelsVersion: string;
}

/** The folder holding this project's package.json (found upward from this file, dist/ or not). */
export function projectRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'node_modules'))) return dir;
    if (dirname(dir) === dir) throw new Error('bench: no project folder (package.json + node_modules) above ' + fileURLToPath(import.meta.url));
  }
}

function packageDir(from: string, name: string): string {
  return dirname(createRequire(from).resolve(`${name}/package.json`));
}

async function versionOf(dir: string): Promise<string> {
  return (JSON.parse(await readFile(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

function entryOf(dir: string): string {
  return createRequire(join(dir, 'package.json')).resolve(dir);
}

/** Stock tuf-js, as installed. */
export async function stockTufjs(): Promise<TufjsBuild> {
  const root = projectRoot();
  const tufjs = packageDir(join(root, 'package.json'), 'tuf-js');
  const models = packageDir(join(tufjs, 'package.json'), '@tufjs/models');
  return { entry: entryOf(tufjs), tufjsVersion: await versionOf(tufjs), modelsVersion: await versionOf(models) };
}

// `({ ...acc, [KEY]: EXPR })` as an arrow body, and `return { ...acc, [KEY]: EXPR };` in a block.
// Each ends where the reduce does (`, {})` follows), so an EXPR holding braces is taken whole.
const ARROW = /\(acc, ([^)]*?)\) => \(\{\s*\.\.\.acc,\s*\[([\w.]+)\]: ([\s\S]*?),?\s*\}\)(?=, \{\}\))/g;
const BLOCK = /return \{\s*\.\.\.acc,\s*\[([\w.]+)\]: ([\s\S]*?),?\s*\};(?=\s*\}, \{\}\))/g;

/** Rewrites the idiom in one file's text; returns the new text and how many places changed. */
export function rewriteSpreadReduce(text: string): { text: string; rewrites: number; left: number } {
  let rewrites = 0;
  const out = text
    .replace(ARROW, (_m, params: string, key: string, expr: string) => {
      rewrites++;
      return `(acc, ${params}) => { acc[${key}] = ${expr}; return acc; }`;
    })
    .replace(BLOCK, (_m, key: string, expr: string) => {
      rewrites++;
      return `acc[${key}] = ${expr}; return acc;`;
    });
  return { text: out, rewrites, left: (out.match(/\.\.\.acc\b/g) ?? []).length };
}

/**
 * Makes the patched copy under <project>/.bench-tmp/tufjs-patched/node_modules (tuf-js,
 * @tufjs/models with the rewrite, @tufjs/canonical-json) and checks that the copy of tuf-js loads
 * the patched models. Fails when nothing was rewritten: the anchor would silently be stock tuf-js.
 */
export async function buildPatchedTufjs(log: (line: string) => void): Promise<TufjsBuild & { rewrites: number; left: number }> {
  const root = projectRoot();
  const stockTufjs = packageDir(join(root, 'package.json'), 'tuf-js');
  const stockModels = packageDir(join(stockTufjs, 'package.json'), '@tufjs/models');
  const stockCanonical = packageDir(join(stockModels, 'package.json'), '@tufjs/canonical-json');
  const out = join(root, OUT);
  const modules = join(out, 'node_modules');
  await rm(out, { recursive: true, force: true });
  const tufjs = join(modules, 'tuf-js');
  const models = join(modules, '@tufjs', 'models');
  await cp(stockTufjs, tufjs, { recursive: true, dereference: true });
  await cp(stockModels, models, { recursive: true, dereference: true });
  await cp(stockCanonical, join(modules, '@tufjs', 'canonical-json'), { recursive: true, dereference: true });

  let rewrites = 0;
  let left = 0;
  const dist = join(models, 'dist');
  for (const name of (await readdir(dist)).filter((n) => n.endsWith('.js'))) {
    const file = join(dist, name);
    const r = rewriteSpreadReduce(await readFile(file, 'utf8'));
    left += r.left;
    if (r.rewrites === 0) continue;
    rewrites += r.rewrites;
    await writeFile(file, r.text);
  }
  if (rewrites === 0) {
    throw new Error(`bench: patching @tufjs/models in ${models} rewrote nothing: the idiom's form changed, the fair anchor would be stock tuf-js`);
  }
  const requireFromTufjs = createRequire(entryOf(tufjs));
  const resolved = requireFromTufjs.resolve('@tufjs/models');
  if (!resolved.startsWith(models + sep)) throw new Error(`bench: the patched tuf-js loads @tufjs/models from ${resolved}, not the patched copy in ${models}`);
  requireFromTufjs(resolved); // a rewrite that broke the syntax fails here, not in every run
  const build = { entry: entryOf(tufjs), tufjsVersion: await versionOf(tufjs), modelsVersion: await versionOf(models), rewrites, left };
  log(`  patched tuf-js ${build.tufjsVersion} (@tufjs/models ${build.modelsVersion}) in ${OUT}: ${rewrites} spread-reduce rewrites, ${left} left`);
  return build;
}
