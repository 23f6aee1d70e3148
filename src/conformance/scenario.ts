import { UsageError } from '../errors.js';
import {
  FORMAT,
  REFERENCE_TIME,
  type Attack,
  type Behaviour,
  type Category,
  type ErrorClass,
  type Outcome,
  type RequestExpectation,
  type ScenarioFile,
  type Step,
  type TargetFileExpectation,
} from './format.js';
import type { KeyPool } from './keys.js';
import { RepoSim, sha256Hex, type SimOptions } from './sim.js';

/** One scenario as written in src/conformance/scenarios/: metadata for people, and how to build it. */
export interface ScenarioDef {
  /** Folder name: lowercase words joined by `-`, unique. */
  name: string;
  category: Category;
  /** One line: what it tests. */
  title: string;
  /** Sections of the specification, e.g. "5.4.3" or "1.5.2". */
  spec: string[];
  attack?: Attack;
  /** More explanation for the scenario's README (e.g. why clients get it wrong). */
  notes?: string;
  build(s: ScenarioBuilder): Promise<void>;
}

export const OK: Outcome = { outcome: 'success' };
export const ANY: Outcome = { outcome: 'any' };
export function fail(error: ErrorClass, ...alsoAcceptable: ErrorClass[]): Outcome {
  return alsoAcceptable.length > 0 ? { outcome: 'failure', error, also_acceptable: alsoAcceptable } : { outcome: 'failure', error };
}

/** The trusted versions of the four top-level roles (null: no file), plus delegated roles. */
export function top(
  root: number | null,
  timestamp: number | null,
  snapshot: number | null,
  targets: number | null,
  delegated: Record<string, number | null> = {},
): Record<string, number | null> {
  return { root, timestamp, snapshot, targets, ...delegated };
}

export interface StateOptions {
  /** Files replaced (bytes) or removed (null) in what the repository serves. */
  files?: Record<string, Uint8Array | string | null>;
  behaviours?: Behaviour[];
}

export interface StepOptions {
  requests?: RequestExpectation;
  /** Roles the client must trust under names we do not prescribe (counted in trusted_files only). */
  unnamedRoles?: number;
  /** Do not check the number of metadata files. */
  noFileCount?: boolean;
  /** The content a successful download must produce (default: the latest content of the target). */
  content?: Uint8Array | string;
}

export interface BuiltState {
  files: Map<string, Uint8Array>;
  behaviours: Behaviour[];
}

export interface BuiltScenario {
  def: ScenarioDef;
  initialRoot: Uint8Array;
  states: Map<string, BuiltState>;
  file: ScenarioFile;
}

function toBytes(v: Uint8Array | string): Uint8Array {
  return typeof v === 'string' ? new Uint8Array(Buffer.from(v)) : v;
}

/** Collects the states and steps of one scenario while its definition runs. */
export class ScenarioBuilder {
  private simInstance: RepoSim | undefined;
  private readonly states = new Map<string, BuiltState>();
  private readonly steps: Step[] = [];
  private initialRootBytes: Uint8Array | undefined;
  /** Target files the client may hold, by target path (the latest verified download of each). */
  private readonly held = new Map<string, TargetFileExpectation>();
  /** Contents that may be present although not required (downloads that may or may not happen). */
  private readonly maybe: TargetFileExpectation[] = [];

  constructor(readonly keys: KeyPool) {}

  /** The repository (created on first use with default options). */
  get sim(): RepoSim {
    if (!this.simInstance) throw new UsageError('scenario: call repo() first');
    return this.simInstance;
  }

  async repo(opts: SimOptions = {}): Promise<RepoSim> {
    if (this.simInstance) throw new UsageError('scenario: repo() called twice');
    this.simInstance = await new RepoSim(this.keys, opts).init();
    return this.simInstance;
  }

  /** The root the client starts from (default: version 1 as first published). */
  setInitialRoot(bytes: Uint8Array | string): void {
    this.initialRootBytes = toBytes(bytes);
  }

  /** Captures what the repository serves now, with changes; returns the state's name. */
  state(opts: StateOptions = {}): string {
    const files = this.sim.served();
    for (const [path, v] of Object.entries(opts.files ?? {})) {
      if (v === null) files.delete(path);
      else files.set(path, toBytes(v));
    }
    const name = String(this.states.size + 1);
    this.states.set(name, { files, behaviours: opts.behaviours ?? [] });
    return name;
  }

  init(expect: Outcome = OK): void {
    this.initialRootBytes ??= this.sim.rootVersions[0]!;
    this.steps.push({ action: 'init', reference_time: REFERENCE_TIME, expect, requests: { exact: [] } });
  }

  refresh(state: string, expect: Outcome, trusted: Record<string, number | null>, o: StepOptions = {}): void {
    this.push({ action: 'refresh', state, reference_time: REFERENCE_TIME, expect }, trusted, o);
  }

  /**
   * A download step: one target, or several looked up and downloaded by one client run (see
   * Step.targets). A run stops at its first failure: in a failing run of several targets, the last
   * is the one meant to fail, and those before it may have been downloaded.
   */
  download(state: string, target: string | string[], expect: Outcome, trusted: Record<string, number | null>, o: StepOptions = {}): void {
    const targets = typeof target === 'string' ? [target] : target;
    if (o.content !== undefined && targets.length !== 1) throw new UsageError('scenario: `content` is for a download of one target');
    const fetched = expect.outcome !== 'failure' ? targets : typeof target === 'string' ? [] : targets.slice(0, -1);
    for (const t of fetched) {
      const content = o.content !== undefined ? toBytes(o.content) : this.sim.content(t);
      const entry = { target: t, sha256: sha256Hex(content), required: false };
      if (expect.outcome === 'success') this.held.set(t, entry);
      else this.maybe.push(entry);
    }
    const names = typeof target === 'string' ? { target } : { targets: [...target] };
    this.push({ action: 'download', state, ...names, reference_time: REFERENCE_TIME, expect }, trusted, o);
  }

  private push(step: Step, trusted: Record<string, number | null>, o: StepOptions): void {
    if (!this.states.has(step.state!)) throw new UsageError(`scenario: no state ${step.state}`);
    step.trusted = trusted;
    if (!o.noFileCount) step.trusted_files = Object.values(trusted).filter((v) => v !== null).length + (o.unnamedRoles ?? 0);
    // Only the files just downloaded must be there: keeping older downloads is up to the client.
    const justDownloaded = new Set(step.action === 'download' && step.expect.outcome === 'success' ? (step.targets ?? [step.target!]) : []);
    step.target_files = [...this.held.values(), ...this.maybe].map((e) => ({ ...e, required: justDownloaded.has(e.target) && this.held.get(e.target) === e }));
    if (o.requests) step.requests = o.requests;
    this.steps.push(step);
  }

  build(def: ScenarioDef): BuiltScenario {
    if (!this.initialRootBytes) throw new UsageError(`scenario ${def.name}: no init step`);
    const states: ScenarioFile['states'] = {};
    for (const [name, st] of this.states) states[name] = st.behaviours.length > 0 ? { behaviours: st.behaviours } : {};
    const file: ScenarioFile = {
      format: FORMAT,
      name: def.name,
      title: def.title,
      category: def.category,
      spec: def.spec,
      ...(def.attack ? { attack: def.attack } : {}),
      states,
      steps: this.steps,
    };
    return { def, initialRoot: this.initialRootBytes, states: this.states, file };
  }
}
