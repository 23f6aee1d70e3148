import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { isAbsolute, join, relative } from 'node:path';
import { UsageError } from '../errors.js';
import { decodeSegment, FORMAT, globMatch, type ErrorClass, type ScenarioFile, type Step } from './format.js';
import { ScenarioServer } from './server.js';

// Runs conformance scenarios against a client speaking the tuf-conformance client protocol
// (CLIENT-CLI.md): `CMD --metadata-dir D init ROOT`, `... refresh`, `... download`. Each scenario
// gets its own server, metadata dir and target dir; its steps run in order, and the first step
// whose outcome differs from what the scenario expects fails the scenario.

export interface RunOptions {
  vectorsDir: string;
  /** The client command; split into words (quotes group words). */
  client: string;
  /** Only scenarios whose name matches this glob (`*` matches anything). */
  filter?: string;
  /** Scenarios run at once (default: CPU count). Scenarios with slow responses run on top. */
  jobs?: number;
  /** A client step still running after this long is killed (default 60 s). */
  stepTimeoutMs?: number;
  /** Also check that a failing client names the expected failure class on stdout/stderr. */
  checkErrors?: boolean;
  /** Called once the scenarios to run are known, with their number. */
  onStart?: (scenarios: number) => void;
  /** Called as each scenario finishes. */
  onResult?: (r: ScenarioResult) => void;
}

export interface ScenarioResult {
  name: string;
  category: string;
  attack?: string;
  passed: boolean;
  /** Why it failed: the step and what differed. */
  reason?: string;
  durationMs: number;
}

export interface RunSummary {
  results: ScenarioResult[];
  passed: number;
  failed: number;
}

/** Splits a command line into words: whitespace separates, single or double quotes group. */
export function splitCommand(cmd: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  let quote: string | undefined;
  for (const c of cmd) {
    if (quote) {
      if (c === quote) quote = undefined;
      else word += c;
    } else if (c === '"' || c === "'") {
      quote = c;
      word ??= '';
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (quote) throw new UsageError(`unbalanced ${quote} in the client command`);
  if (word !== undefined) words.push(word);
  if (words.length === 0) throw new UsageError('the client command is empty');
  return words;
}

/**
 * What a client's output must mention for each failure class with --check-errors: the class name
 * (tufkit, python-tuf and tuf-js name their errors so), or a few words such errors are reported with.
 */
const ERROR_PATTERNS: Record<ErrorClass, RegExp> = {
  UnsignedMetadata: /unsigned|signature|signed by/i,
  BadVersion: /bad ?version|version/i,
  Expired: /expired/i,
  LengthOrHashMismatch: /length ?or ?hash|hash|length/i,
  DownloadLength: /download ?length|length|more than|too (large|long|big)/i,
  SlowRetrieval: /slow ?retrieval|slow|time(d)? ?out/i,
  NotFound: /not ?found|not listed|no such|missing|no trusted|404/i,
  Format: /format|json|parse|canonical|malformed|not defined/i,
};

// Refinements: an error class name that says something else is wrong is never a match.
const CLASS_NAMES: Record<ErrorClass, RegExp> = {
  UnsignedMetadata: /UnsignedMetadata/,
  BadVersion: /BadVersion|EqualVersion/,
  Expired: /ExpiredMetadata/,
  LengthOrHashMismatch: /LengthOrHashMismatch/,
  DownloadLength: /DownloadLength/,
  SlowRetrieval: /SlowRetrieval/,
  NotFound: /NotFound|DownloadHTTP/,
  Format: /Format|JSON|Syntax/,
};

function mentionsError(output: string, error: ErrorClass): boolean {
  const classNames = output.match(/\b[A-Z][A-Za-z]*Error\b/g) ?? [];
  if (classNames.some((n) => CLASS_NAMES[error].test(n))) return true;
  // A known class name for another failure: wrong reason.
  const other = classNames.some((n) => (Object.keys(CLASS_NAMES) as ErrorClass[]).some((c) => c !== error && CLASS_NAMES[c].test(n)));
  return !other && ERROR_PATTERNS[error].test(output);
}

interface ClientRun {
  code: number | null;
  timedOut: boolean;
  output: string;
}

const OUTPUT_CAP = 64 * 1024;

function runClient(argv: string[], timeoutMs: number, cwd: string): Promise<ClientRun> {
  return new Promise((resolve) => {
    const child = spawn(argv[0]!, argv.slice(1), { cwd, stdio: ['ignore', 'pipe', 'pipe'], detached: process.platform !== 'win32' });
    let output = '';
    const collect = (b: Buffer): void => {
      if (output.length < OUTPUT_CAP) output += b.toString('utf8');
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    let timedOut = false;
    const kill = (): void => {
      try {
        // The whole process group: a client started through a wrapper must not outlive the step.
        if (child.pid !== undefined && process.platform !== 'win32') process.kill(-child.pid, 'SIGKILL');
        else child.kill('SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
    };
    const timer = setTimeout(() => {
      timedOut = true;
      kill();
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, timedOut: false, output: `cannot start client: ${e.message}` });
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, timedOut, output });
    });
  });
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else out.push(p);
    }
  }
  await walk(dir);
  return out;
}

function describeOutcome(step: Step): string {
  const e = step.expect;
  if (e.outcome === 'failure') return `failure (${[e.error, ...(e.also_acceptable ?? [])].join(' or ')})`;
  return e.outcome;
}

/** The line of the client's output that best says why it failed: the first naming an error, else the last. */
function lastLine(output: string): string {
  const lines = output.trim().split('\n').filter((l) => l.trim() !== '');
  const line = lines.find((l) => /\b[A-Za-z]*Error\b/.test(l)) ?? lines[lines.length - 1] ?? '';
  return line.length > 240 ? `${line.slice(0, 237)}...` : line;
}

/** Every way the state after a step differs from what the scenario says, the first one first. */
async function checkStep(
  step: Step,
  run: ClientRun,
  ctx: { metadataDir: string; targetDir: string; sandbox: string; server: ScenarioServer; checkErrors: boolean; stepTimeoutMs: number; scenario: ScenarioFile },
): Promise<string | undefined> {
  if (run.timedOut) return `client did not finish within ${ctx.stepTimeoutMs / 1000} s and was killed (expected ${describeOutcome(step)})`;
  if (run.code === null) return `client could not run: ${lastLine(run.output)}`;
  const e = step.expect;
  if (e.outcome === 'success' && run.code !== 0) return `expected success, client exited ${run.code}: ${lastLine(run.output)}`;
  if (e.outcome === 'failure') {
    if (run.code === 0) return `expected ${describeOutcome(step)}, client exited 0`;
    if (ctx.checkErrors && ![e.error, ...(e.also_acceptable ?? [])].some((c) => mentionsError(run.output, c))) {
      return `expected ${describeOutcome(step)}, client failed for another reason: ${lastLine(run.output)}`;
    }
  }

  // Trusted metadata: every *.json file of the metadata dir, by decoded name.
  const trusted = new Map<string, number | string>();
  let jsonFiles = 0;
  for (const file of await listFiles(ctx.metadataDir)) {
    const base = relative(ctx.metadataDir, file);
    if (!base.endsWith('.json') || base.includes('/')) continue;
    jsonFiles++;
    const role = decodeSegment(base.slice(0, -'.json'.length)) ?? base;
    try {
      const doc = JSON.parse(await readFile(file, 'utf8')) as { signed?: { version?: unknown } };
      trusted.set(role, typeof doc.signed?.version === 'number' ? doc.signed.version : 'no version');
    } catch {
      trusted.set(role, 'unreadable');
    }
  }
  for (const [role, want] of Object.entries(step.trusted ?? {})) {
    const have = trusted.get(role);
    if (want === null && have !== undefined) return `client trusts ${role} version ${have}, expected no ${role} metadata`;
    if (want !== null && have !== want) return `client trusts ${role} ${have === undefined ? 'not at all' : `version ${have}`}, expected version ${want}`;
  }
  if (step.trusted_files !== undefined && jsonFiles !== step.trusted_files) {
    return `metadata dir holds ${jsonFiles} *.json files, expected ${step.trusted_files} (${[...trusted.keys()].sort().join(', ')})`;
  }

  // Target files, by content.
  if (step.target_files) {
    const allowed = new Map(step.target_files.map((t) => [t.sha256, t]));
    const present = new Set<string>();
    for (const file of await listFiles(ctx.targetDir)) {
      const digest = createHash('sha256').update(await readFile(file)).digest('hex');
      present.add(digest);
      if (!allowed.has(digest)) return `target dir holds ${relative(ctx.targetDir, file)} (sha256 ${digest.slice(0, 16)}...), which is not a verified target`;
    }
    for (const t of step.target_files) {
      if (t.required && !present.has(t.sha256)) return `target "${t.target}" is not in the target dir`;
    }
  }

  // Nothing written outside the metadata and target dirs.
  for (const file of await listFiles(ctx.sandbox)) {
    const rel = relative(ctx.sandbox, file);
    if (rel === 'initial_root.json' || rel.startsWith(`client${'/'}metadata/`) || rel.startsWith(`client${'/'}targets/`)) continue;
    return `client wrote ${rel} outside its metadata and target dirs`;
  }

  // Requests.
  const paths = ctx.server.requests.map((r) => r.path);
  const r = step.requests;
  if (r?.exact && (r.exact.length !== paths.length || r.exact.some((p, i) => !globMatch(p, paths[i]!)))) {
    return `requests were [${paths.join(', ')}], expected exactly [${r.exact.join(', ')}]`;
  }
  for (const p of r?.include ?? []) if (!paths.some((x) => globMatch(p, x))) return `no request for ${p} (requests: ${paths.join(', ') || 'none'})`;
  for (const p of r?.exclude ?? []) {
    const hit = paths.find((x) => globMatch(p, x));
    if (hit) return `unexpected request ${hit}`;
  }

  // Endless data: the client must have stopped reading.
  const state = step.state ? ctx.scenario.states[step.state] : undefined;
  for (const b of state?.behaviours ?? []) {
    if (b.kind !== 'endless') continue;
    for (const req of ctx.server.requests) {
      if (req.path === b.path && req.bytesSent > b.client_max_bytes) {
        return `client read at least ${req.bytesSent} bytes of ${b.path} (endless data), more than ${b.client_max_bytes}`;
      }
    }
  }
  return undefined;
}

/** The target paths of a step: its `targets`, or its `target`. */
function stepTargets(step: Step): string[] {
  return step.targets ?? (step.target !== undefined ? [step.target] : []);
}

function stepLabel(i: number, step: Step): string {
  const parts: string[] = [step.action];
  if (step.state) parts.push(`state ${step.state}`);
  for (const t of stepTargets(step)) parts.push(JSON.stringify(t));
  return `step ${i + 1} (${parts.join(', ')})`;
}

/** Runs one scenario folder against the client. */
export async function runScenario(dir: string, clientArgv: string[], opts: { stepTimeoutMs: number; checkErrors: boolean }): Promise<ScenarioResult> {
  const started = performance.now();
  const scenario = JSON.parse(await readFile(join(dir, 'scenario.json'), 'utf8')) as ScenarioFile;
  const result = (passed: boolean, reason?: string): ScenarioResult => ({
    name: scenario.name,
    category: scenario.category,
    ...(scenario.attack ? { attack: scenario.attack } : {}),
    passed,
    ...(reason ? { reason } : {}),
    durationMs: Math.round(performance.now() - started),
  });
  if (scenario.format !== FORMAT) return result(false, `unsupported scenario format ${String(scenario.format)}`);

  const sandbox = await mkdtemp(join(tmpdir(), 'tufkit-conformance-'));
  const metadataDir = join(sandbox, 'client', 'metadata');
  const targetDir = join(sandbox, 'client', 'targets');
  await mkdir(metadataDir, { recursive: true });
  await mkdir(targetDir, { recursive: true });
  const rootFile = join(sandbox, 'initial_root.json');
  await copyFile(join(dir, 'initial_root.json'), rootFile);
  const server = new ScenarioServer();
  await server.listen();
  const metadataUrl = `${server.baseUrl}/metadata`;
  const targetUrl = `${server.baseUrl}/targets`;
  try {
    for (const [i, step] of scenario.steps.entries()) {
      const state = step.state ? scenario.states[step.state] : undefined;
      server.setState(step.state ? join(dir, 'states', step.state) : undefined, state?.behaviours);
      let args: string[];
      switch (step.action) {
        case 'init':
          args = ['--metadata-dir', metadataDir, 'init', rootFile];
          break;
        case 'refresh':
          args = ['--metadata-url', metadataUrl, '--metadata-dir', metadataDir, 'refresh'];
          break;
        case 'download':
          args = [
            '--metadata-url', metadataUrl, '--metadata-dir', metadataDir,
            ...(step.targets ?? [step.target ?? '']).flatMap((t) => ['--target-name', t]),
            '--target-dir', targetDir, '--target-base-url', targetUrl, 'download',
          ];
          break;
        default:
          return result(false, `${stepLabel(i, step)}: unknown action`);
      }
      // An absolute target path is the one place outside the sandbox a careless client could write to.
      const absolute = stepTargets(step).find((t) => isAbsolute(t));
      const existedBefore = absolute !== undefined && (await exists(absolute));
      const run = await runClient([...clientArgv, ...args], opts.stepTimeoutMs, process.cwd());
      if (absolute && !existedBefore && (await exists(absolute))) {
        await rm(absolute, { force: true });
        return result(false, `${stepLabel(i, step)}: client wrote ${absolute}, outside its target dir`);
      }
      const why = await checkStep(step, run, { metadataDir, targetDir, sandbox, server, checkErrors: opts.checkErrors, stepTimeoutMs: opts.stepTimeoutMs, scenario });
      server.resetStep();
      if (why) return result(false, `${stepLabel(i, step)}: ${why}`);
    }
    return result(true);
  } finally {
    await server.close();
    await rm(sandbox, { recursive: true, force: true });
  }
}

/** The scenario folders of a vectors dir, by name. */
export async function listScenarios(vectorsDir: string, filter?: string): Promise<string[]> {
  const entries = await readdir(vectorsDir, { withFileTypes: true });
  const names: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory()) continue;
    const files = await readdir(join(vectorsDir, e.name)).catch(() => [] as string[]);
    if (!files.includes('scenario.json')) continue;
    if (filter && !globMatch(filter, e.name)) continue;
    names.push(e.name);
  }
  return names.sort();
}

async function hasSlowResponses(dir: string): Promise<boolean> {
  const s = JSON.parse(await readFile(join(dir, 'scenario.json'), 'utf8')) as ScenarioFile;
  return Object.values(s.states).some((st) => (st.behaviours ?? []).some((b) => b.kind === 'slow' || b.kind === 'stall'));
}

/**
 * Runs every scenario (or those matching the filter), `jobs` at a time. Scenarios whose server
 * answers slowly spend their time waiting, so they start first and do not take a job slot.
 */
export async function runConformance(opts: RunOptions): Promise<RunSummary> {
  const argv = splitCommand(opts.client);
  const names = await listScenarios(opts.vectorsDir, opts.filter);
  if (names.length === 0) throw new UsageError(`no scenario${opts.filter ? ` matching "${opts.filter}"` : ''} in ${opts.vectorsDir}`);
  opts.onStart?.(names.length);
  const jobs = Math.max(1, opts.jobs ?? cpus().length);
  const stepTimeoutMs = opts.stepTimeoutMs ?? 60_000;
  const checkErrors = opts.checkErrors ?? false;
  const results: ScenarioResult[] = [];
  const runOne = async (name: string): Promise<void> => {
    let r: ScenarioResult;
    try {
      r = await runScenario(join(opts.vectorsDir, name), argv, { stepTimeoutMs, checkErrors });
    } catch (e) {
      r = { name, category: '?', passed: false, reason: `runner error: ${(e as Error).message}`, durationMs: 0 };
    }
    results.push(r);
    opts.onResult?.(r);
  };
  const slow: string[] = [];
  const queue: string[] = [];
  for (const name of names) (await hasSlowResponses(join(opts.vectorsDir, name)) ? slow : queue).push(name);
  const slowRuns = slow.map(runOne);
  const workers = Array.from({ length: Math.min(jobs, queue.length) }, async () => {
    for (let name = queue.shift(); name !== undefined; name = queue.shift()) await runOne(name);
  });
  await Promise.all([...slowRuns, ...workers]);
  results.sort((a, b) => a.name.localeCompare(b.name));
  const passed = results.filter((r) => r.passed).length;
  return { results, passed, failed: results.length - passed };
}
