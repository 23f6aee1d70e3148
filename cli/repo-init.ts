import type { Command } from 'commander';
import { UsageError } from '../src/errors.js';
import { TOP_LEVEL_ROLES, type TopLevelRole } from '../src/models/root.js';
import { formatDuration, parseDuration } from '../src/repository/durations.js';
import { Repository, type RoleKeys } from '../src/repository/repository.js';
import type { ExpiryPeriods } from '../src/repository/settings.js';
import { output, positiveInt, publicKeys, shortId } from './repo-common.js';
import { action } from './run.js';

type InitCliOptions = {
  [K in `${TopLevelRole}Key`]?: string[];
} & {
  [K in `${TopLevelRole}Threshold`]?: number;
} & {
  [K in `${keyof ExpiryPeriods}Expiry`]?: string;
} & {
  consistentSnapshot: boolean;
  snapshotHashes: boolean;
  hash?: string[];
  passphraseEnv?: string;
  json?: boolean;
};

async function init(dir: string, opts: InitCliOptions): Promise<void> {
  const roles = {} as Record<TopLevelRole, RoleKeys>;
  for (const role of TOP_LEVEL_ROLES) {
    const files = opts[`${role}Key`];
    if (!files || files.length === 0) throw new UsageError(`--${role}-key is required (a public or private key file)`);
    roles[role] = { keys: await publicKeys(files, opts.passphraseEnv), threshold: opts[`${role}Threshold`] ?? 1 };
  }
  const expiry: Partial<ExpiryPeriods> = {};
  for (const kind of ['root', 'targets', 'snapshot', 'timestamp', 'delegated'] as const) {
    const text = opts[`${kind}Expiry`];
    if (text !== undefined) expiry[kind] = parseDuration(text, `--${kind}-expiry`);
  }
  const repo = await Repository.init(dir, {
    roles,
    expiry,
    consistentSnapshot: opts.consistentSnapshot,
    snapshotHashes: opts.snapshotHashes,
    targetHashes: opts.hash,
  });
  const root = (await repo.root()).signed;
  const summary = TOP_LEVEL_ROLES.map((r) => ({ role: r, threshold: root.getRole(r).threshold, keyids: root.getRole(r).keyids }));
  output(opts.json, { dir, roles: summary, settings: repo.settings, consistentSnapshot: root.consistentSnapshot }, () =>
    [
      `created repository ${dir} (consistent snapshot ${root.consistentSnapshot ? 'on' : 'off'})`,
      ...summary.map((s) => `  ${s.role.padEnd(9)} ${s.threshold} of ${s.keyids.length} key(s): ${s.keyids.map(shortId).join(', ')}  expires every ${formatDuration(repo.settings.expiry[s.role])}`),
      `  delegated roles expire every ${formatDuration(repo.settings.expiry.delegated)}`,
      'next: every root key holder runs `tufkit sign DIR root --key KEY`, then targets, then `tufkit snapshot` and `tufkit timestamp`',
      '',
    ].join('\n'),
  );
}

export function registerInitCommand(program: Command): void {
  const repo = program.command('repo').description('repository folders');
  const cmd = repo
    .command('init')
    .description('create a repository in DIR: root, targets, snapshot and timestamp version 1, unsigned')
    .argument('<dir>', 'repository folder (created; must not hold a repository)');
  for (const role of TOP_LEVEL_ROLES) {
    cmd.option(`--${role}-key <files...>`, `${role} keys: public key files (.pub) or private key files`);
    cmd.option(`--${role}-threshold <n>`, `how many ${role} keys must sign (default 1)`, positiveInt(`--${role}-threshold`));
  }
  cmd
    .option('--root-expiry <period>', 'how long each root version is valid (default 365d)')
    .option('--targets-expiry <period>', 'how long each targets version is valid (default 90d)')
    .option('--snapshot-expiry <period>', 'how long each snapshot is valid (default 7d)')
    .option('--timestamp-expiry <period>', 'how long each timestamp is valid (default 1d)')
    .option('--delegated-expiry <period>', 'how long each delegated role version is valid (default 90d)')
    .option('--no-consistent-snapshot', 'publish plain file names (role.json, targets/<path>) instead of versioned and hashed ones')
    .option('--no-snapshot-hashes', 'snapshot lists only versions of the targets roles, not their lengths and hashes')
    .option('--hash <algorithm>', 'hash algorithm listed for every target (repeatable; default sha256)', (v: string, acc: string[] = []) => [...acc, v])
    .option('--passphrase-env <var>', 'passphrase of encrypted private key files, from this environment variable')
    .option('--json', 'print the result as JSON')
    .action(action(async (dir: string, opts: InitCliOptions) => init(dir, opts)));
}
