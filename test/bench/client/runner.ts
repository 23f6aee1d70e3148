import { pathToFileURL } from 'node:url';

// One measurement in a fresh process: the client library is imported only once the clock runs.
// Usage: node runner.js '<RunnerInput as JSON>'; prints one line of RunnerOutput JSON.
const startedAt = performance.now();

/** tuf-js and tuf-js-patched differ only in the copy loaded (`tufjsEntry`); floor verifies nothing. */
export type ClientName = 'tufkit' | 'tuf-js-patched' | 'tuf-js' | 'floor';

/** One GET the floor makes: the same URL tufkit requests, in the same order, kept where tufkit keeps it. */
export interface FloorRequest {
  url: string;
  /** 200, or 404 for the next root version that does not exist. */
  status: number;
  /** Where the body is written (absent for the 404). */
  writeTo?: string;
  /** The download, timed as such (the rest is the refresh). */
  download?: boolean;
}

export interface RunnerInput {
  client: ClientName;
  /** tuf-js's main file, stock or patched. */
  tufjsEntry?: string;
  /** The floor's requests. */
  floorRequests?: FloorRequest[];
  /** Holds only root.json (root v1). */
  metadataDir: string;
  metadataBaseUrl: string;
  targetBaseUrl: string;
  /** An ordinary target, then the 10 MB one (which is downloaded). */
  lookupPaths: [string, string];
  /** Where the 10 MB target is written. */
  downloadTo: string;
  /** Repeated lookups of an already found path, after the flow, to time a lookup without verification. */
  repeatLookups: number;
}

export interface RunnerOutput {
  /** Process start to the runner's first statement (Node bootstrap). */
  bootMs: number;
  importMs: number;
  refreshMs: number;
  lookupsMs: number;
  downloadMs: number;
  /** From before the import to the end of the download. */
  wallMs: number;
  /** The first lookup of an already found path, after the flow. */
  repeatLookupUs: number;
  /** Mean over `repeatLookups` more of them. */
  repeatLookupMeanUs: number;
  /** Time spent after the flow on the repeated lookups (not part of the flow: subtracted from the process time). */
  afterFlowMs: number;
  /** process.resourceUsage().maxRSS, bytes. */
  maxRssBytes: number;
  /** User + system CPU time of the whole process at the end of the download (both cores count). */
  cpuMs: number;
}

interface TargetInfo {
  path: string;
  length: number;
}

interface Client {
  refresh(): Promise<void>;
  getTargetInfo(path: string): Promise<TargetInfo | undefined>;
  download(info: TargetInfo, to: string): Promise<void>;
}

async function load(input: RunnerInput): Promise<Client> {
  const options = { metadataDir: input.metadataDir, metadataBaseUrl: input.metadataBaseUrl, targetBaseUrl: input.targetBaseUrl };
  if (input.client === 'tufkit') {
    // The package's client entry, "tufkit/client" (what an application that only updates imports:
    // the bundle in dist/bundle). A variable keeps tsc from resolving the package's own output.
    const entry = 'tufkit/client';
    const { Updater } = (await import(entry)) as typeof import('../../../src/client-entry.js');
    const u = new Updater(options);
    return {
      refresh: () => u.refresh(),
      getTargetInfo: (p) => u.getTargetInfo(p),
      download: async (info, to) => void (await u.downloadTarget(info as Parameters<typeof u.downloadTarget>[0], to)),
    };
  }
  if (input.client === 'floor') return floor(input.floorRequests ?? []);
  const { Updater } = (await import(pathToFileURL(input.tufjsEntry!).href)) as typeof import('tuf-js');
  const u = new Updater(options);
  return {
    refresh: () => u.refresh(),
    getTargetInfo: (p) => u.getTargetInfo(p),
    download: async (info, to) => void (await u.downloadTarget(info as Parameters<typeof u.downloadTarget>[0], to)),
  };
}

/**
 * The same HTTP requests as tufkit's flow with undici loaded the way tufkit loads it, each body
 * written to the file tufkit writes, nothing parsed, hashed, verified, fsynced or locked.
 */
async function floor(requests: FloorRequest[]): Promise<Client> {
  const { loadGetRequest } = await import('../../../src/client/undici-request.js');
  const { writeFile } = await import('node:fs/promises');
  const get = await loadGetRequest();
  const fetchAll = async (download: boolean): Promise<void> => {
    for (const r of requests.filter((x) => (x.download ?? false) === download)) {
      const { statusCode, body } = await get(new URL(r.url), undefined, {});
      if (statusCode !== r.status) throw new Error(`floor: ${r.url}: HTTP ${statusCode}, expected ${r.status}`);
      if (r.writeTo) await writeFile(r.writeTo, body);
      else await body.dump();
    }
  };
  return {
    refresh: () => fetchAll(false),
    getTargetInfo: (path) => Promise.resolve({ path, length: 0 }),
    download: () => fetchAll(true),
  };
}

async function main(): Promise<void> {
  const input = JSON.parse(process.argv[2] ?? '') as RunnerInput;
  const t0 = performance.now();
  const client = await load(input);
  const tImport = performance.now();
  await client.refresh();
  const tRefresh = performance.now();
  const first = await client.getTargetInfo(input.lookupPaths[0]);
  const big = await client.getTargetInfo(input.lookupPaths[1]);
  const tLookups = performance.now();
  if (!first || !big) throw new Error(`${input.client}: lookup found nothing`);
  await client.download(big, input.downloadTo);
  const tEnd = performance.now();
  const usage = process.resourceUsage();

  const after = performance.now();
  const r0 = performance.now();
  await client.getTargetInfo(input.lookupPaths[0]);
  const repeatLookupUs = (performance.now() - r0) * 1000;
  const r1 = performance.now();
  for (let i = 0; i < input.repeatLookups; i++) await client.getTargetInfo(input.lookupPaths[0]);
  const repeatLookupMeanUs = input.repeatLookups > 0 ? ((performance.now() - r1) * 1000) / input.repeatLookups : NaN;

  const out: RunnerOutput = {
    bootMs: startedAt,
    importMs: tImport - t0,
    refreshMs: tRefresh - tImport,
    lookupsMs: tLookups - tRefresh,
    downloadMs: tEnd - tLookups,
    wallMs: tEnd - t0,
    repeatLookupUs,
    repeatLookupMeanUs,
    afterFlowMs: performance.now() - after,
    maxRssBytes: process.resourceUsage().maxRSS * 1024,
    cpuMs: (usage.userCPUTime + usage.systemCPUTime) / 1000,
  };
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    process.stderr.write(`${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
    process.exit(1);
  },
);
