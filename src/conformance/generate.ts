import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { UsageError } from '../errors.js';
import { CATEGORIES } from './format.js';
import { KeyPool, SignatureCache } from './keys.js';
import { ScenarioBuilder, type BuiltScenario, type ScenarioDef } from './scenario.js';
import { ALL_SCENARIOS } from './scenarios/index.js';

// Writes the conformance vectors: one folder per scenario (README.md, initial_root.json,
// scenario.json, states/<n>/{metadata,targets}/...) and index.json. Everything is deterministic
// (fixed keys and times) except ECDSA and RSA-PSS signatures, which are randomized: for those, a
// signature found in the existing vectors over exactly the same bytes is reused, so regenerating
// over the committed vectors changes nothing.

export interface GenerateOptions {
  /** Where to look for earlier signatures to reuse (default: the output folder itself). */
  reuseSignaturesFrom?: string;
  /** Only scenarios whose name passes. */
  filter?: (name: string) => boolean;
}

export interface GenerateResult {
  scenarios: BuiltScenario[];
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function* walk(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

/** The signatures of every metadata file of an earlier set of vectors. */
export async function loadSignatureCache(dir: string): Promise<SignatureCache> {
  const cache = new SignatureCache();
  for await (const file of walk(dir)) {
    if (file.endsWith('.json') && !file.endsWith('scenario.json')) cache.addFile(await readFile(file));
  }
  return cache;
}

function checkDefinitions(defs: ScenarioDef[]): void {
  const names = new Set<string>();
  for (const d of defs) {
    if (!/^[a-z0-9]+(-[a-z0-9]+)*$/.test(d.name)) throw new UsageError(`scenario name "${d.name}" must be lowercase words joined by "-"`);
    if (names.has(d.name)) throw new UsageError(`scenario name "${d.name}" is used twice`);
    if (!(CATEGORIES as readonly string[]).includes(d.category)) throw new UsageError(`scenario ${d.name}: unknown category ${d.category}`);
    names.add(d.name);
  }
}

/** Runs every scenario definition. */
export async function buildScenarios(cache: SignatureCache | undefined, filter?: (name: string) => boolean): Promise<BuiltScenario[]> {
  checkDefinitions(ALL_SCENARIOS);
  const out: BuiltScenario[] = [];
  for (const def of ALL_SCENARIOS) {
    if (filter && !filter(def.name)) continue;
    const b = new ScenarioBuilder(new KeyPool(cache));
    await def.build(b);
    out.push(b.build(def));
  }
  return out;
}

export function scenarioReadme(def: ScenarioDef): string {
  const spec = def.spec.map((s) => `§${s}`).join(', ');
  let text = `# ${def.name}\n\n${def.title} (TUF specification ${spec}${def.attack ? `; attack: ${def.attack}` : ''}).\n`;
  if (def.notes) text += `\n${def.notes.trim()}\n`;
  return text;
}

async function put(path: string, data: Uint8Array | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

async function writeScenario(outDir: string, s: BuiltScenario): Promise<void> {
  const dir = join(outDir, s.def.name);
  await put(join(dir, 'README.md'), scenarioReadme(s.def));
  await put(join(dir, 'initial_root.json'), s.initialRoot);
  await put(join(dir, 'scenario.json'), `${JSON.stringify(s.file, null, 2)}\n`);
  for (const [name, state] of s.states) {
    // Files differing only in case would be one file once checked out on macOS or Windows.
    const folded = new Map<string, string>();
    for (const path of state.files.keys()) {
      const other = folded.get(path.toLowerCase());
      if (other !== undefined) throw new UsageError(`scenario ${s.def.name}: served paths ${other} and ${path} differ only in case`);
      folded.set(path.toLowerCase(), path);
    }
    await mkdir(join(dir, 'states', name, 'metadata'), { recursive: true });
    await mkdir(join(dir, 'states', name, 'targets'), { recursive: true });
    for (const [path, bytes] of state.files) {
      const segments = path.split('/');
      if (segments.some((seg) => seg === '' || seg === '.' || seg === '..')) throw new UsageError(`scenario ${s.def.name}: unsafe served path ${path}`);
      await put(join(dir, 'states', name, ...segments), bytes);
    }
  }
}

/** Writes the vectors into `outDir`, replacing the scenario folders already there. */
export async function generate(outDir: string, opts: GenerateOptions = {}): Promise<GenerateResult> {
  const reuseFrom = opts.reuseSignaturesFrom ?? outDir;
  const cache = (await exists(reuseFrom)) ? await loadSignatureCache(reuseFrom) : undefined;
  const scenarios = await buildScenarios(cache, opts.filter);
  await mkdir(outDir, { recursive: true });
  // Only folders that are scenarios are removed: anything else in outDir (README, results) stays.
  for (const e of await readdir(outDir, { withFileTypes: true })) {
    if (e.isDirectory() && (await exists(join(outDir, e.name, 'scenario.json')))) await rm(join(outDir, e.name), { recursive: true });
  }
  for (const s of scenarios) await writeScenario(outDir, s);
  const index = scenarios.map((s) => ({
    name: s.def.name,
    category: s.def.category,
    title: s.def.title,
    spec: s.def.spec,
    ...(s.def.attack ? { attack: s.def.attack } : {}),
  }));
  await put(join(outDir, 'index.json'), `${JSON.stringify(index, null, 2)}\n`);
  return { scenarios };
}
