import type { Command } from 'commander';
import path from 'node:path';
import { formatExpires } from '../src/models/fields.js';
import { HEADERS_FILE, NGINX_FILE } from '../src/repository/publish.js';
import { describeExpiry, type RepositoryStatus, type RoleStatus } from '../src/repository/status.js';
import { openRepository, output, shortId } from './repo-common.js';
import { filesLine, startProgress } from './progress.js';
import { action } from './run.js';

/** Roles sharing a delegator beyond this many (hash bins) are shown as one row unless they have problems. */
const COLLAPSE_AT = 16;

interface Row {
  role: string;
  version: string;
  expires: string;
  signed: string;
  toSign: string;
  problems: string;
}

function row(r: RoleStatus): Row {
  const s = r.signatures;
  let signed = `${s.valid.length}/${s.threshold}`;
  let toSign = s.verified ? '' : s.missing.map(shortId).join(' ');
  if (s.previous) {
    signed += ` + v${s.previous.version} keys ${s.previous.valid.length}/${s.previous.threshold}`;
    if (!s.previous.verified) toSign += `${toSign ? ' ' : ''}v${s.previous.version}: ${s.previous.missing.map(shortId).join(' ')}`;
  }
  return {
    role: r.name,
    version: String(r.version),
    expires: `${formatExpires(r.expires)} (${describeExpiry(r.expiresInMs)})`,
    signed,
    toSign,
    problems: r.problems.length === 0 ? 'ok' : `${r.problems.length} problem(s)`,
  };
}

function collapsed(group: RoleStatus[]): Row {
  const versions = group.map((r) => r.version);
  const earliest = group.reduce((a, b) => (a.expiresInMs <= b.expiresInMs ? a : b));
  const lo = Math.min(...versions);
  const hi = Math.max(...versions);
  return {
    role: `${group[0]!.name} … ${group[group.length - 1]!.name} (${group.length})`,
    version: lo === hi ? String(lo) : `${lo}-${hi}`,
    expires: `${formatExpires(earliest.expires)} (${describeExpiry(earliest.expiresInMs)}) earliest`,
    signed: 'all complete',
    toSign: '',
    problems: 'ok',
  };
}

export function statusTable(status: RepositoryStatus, all: boolean): string {
  const rows: Row[] = [];
  const byDelegator = new Map<string, RoleStatus[]>();
  for (const r of status.roles) {
    const list = byDelegator.get(r.delegator) ?? [];
    list.push(r);
    byDelegator.set(r.delegator, list);
  }
  const done = new Set<string>();
  for (const r of status.roles) {
    if (done.has(r.name)) continue;
    const siblings = byDelegator.get(r.delegator)!;
    if (!all && r.delegator !== 'root' && siblings.length > COLLAPSE_AT) {
      const healthy = siblings.filter((x) => x.problems.length === 0 && x.signatures.complete);
      for (const x of siblings) done.add(x.name);
      if (healthy.length > 0) rows.push(collapsed(healthy));
      for (const x of siblings) if (!healthy.includes(x)) rows.push(row(x));
      continue;
    }
    done.add(r.name);
    rows.push(row(r));
  }
  const head: Row = { role: 'ROLE', version: 'VERSION', expires: 'EXPIRES', signed: 'SIGNATURES', toSign: 'STILL TO SIGN', problems: 'STATUS' };
  const cols = Object.keys(head) as (keyof Row)[];
  const width = Object.fromEntries(cols.map((c) => [c, Math.max(...[head, ...rows].map((x) => x[c].length))])) as Record<keyof Row, number>;
  const line = (x: Row): string => cols.map((c) => x[c].padEnd(width[c])).join('  ').trimEnd();
  const out = [line(head), ...rows.map(line)];
  out.push('');
  out.push(`consistent snapshot: ${status.consistentSnapshot ? 'on' : 'off'}; root versions ready to publish: ${status.rootVersions.join(', ') || 'none'}`);
  if (status.ready) out.push('ready to publish');
  else {
    out.push(`${status.problems.length} problem(s) before it can be published:`);
    for (const p of status.problems) out.push(`  - ${p.message}`);
  }
  return out.join('\n') + '\n';
}

export function registerStatusCommands(program: Command): void {
  program
    .command('status')
    .description('every role: version, expiry, signatures valid/needed, keys still to sign, problems')
    .argument('<dir>', 'repository folder')
    .option('--all', 'one row per role, also for hash bins')
    .option('--json', 'print the status as JSON')
    .addHelpText('after', '\nExit status: 0 when the repository is ready to publish; 1 when it is not (a role unsigned,\nexpired or out of date: the problems are listed) or on an error; 2 on a usage mistake.')
    .action(
      action(async (dir: string, opts: { all?: boolean; json?: boolean }) => {
        const repo = await openRepository(dir);
        const status = await repo.status();
        output(opts.json, status, () => statusTable(status, opts.all === true));
        if (!status.ready) process.exitCode = 1;
      }),
    );

  program
    .command('publish')
    .description('write the files clients fetch into OUT (refuses while any role is unsigned, expired or out of date)')
    .argument('<dir>', 'repository folder')
    .requiredOption('--out <dir>', 'folder served to clients (metadata/ and targets/ inside)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (dir: string, opts: { out: string; json?: boolean }) => {
        const repo = await openRepository(dir);
        const progress = startProgress(opts);
        let result;
        try {
          result = await repo.publish(opts.out, undefined, { onProgress: (p) => progress.update(() => filesLine('copied', p)) });
        } finally {
          progress.done();
        }
        output(opts.json, result, () =>
          `published root v${result.rootVersion}, snapshot v${result.snapshotVersion}, timestamp v${result.timestampVersion}, ${result.targets} target(s) into ${result.out}: ${result.filesWritten} file(s) written, ${result.unchanged} unchanged\n` +
          `caching rules for the web server: ${path.join(result.out, NGINX_FILE)} (nginx: include it in the server block) and ${path.join(result.out, HEADERS_FILE)} (Cloudflare Pages)\n`,
        );
      }),
    );
}
