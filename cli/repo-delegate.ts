import type { Command } from 'commander';
import { UsageError } from '../src/errors.js';
import type { Key } from '../src/models/key.js';
import { isTopLevel } from '../src/repository/role-store.js';
import { collect, openRepository, output, positiveInt, publicKeys, shortId, signerFromOptions, type SignerOptions } from './repo-common.js';
import { action } from './run.js';

interface DelegateOptions {
  from: string;
  to: string;
  key?: string[];
  threshold: number;
  paths?: string[];
  hashPrefixes?: string[];
  bins?: number;
  terminating?: boolean;
  passphraseEnv?: string;
  json?: boolean;
}

interface KeyChangeOptions {
  role?: string;
  to?: string;
  key?: string[];
  keyid?: string[];
  threshold?: number;
  passphraseEnv?: string;
  json?: boolean;
}

/** add-key / remove-key / threshold, for a top-level role (root rotation) or a delegated one. */
export async function changeKeys(dir: string, role: string, kind: 'add' | 'remove' | 'threshold', opts: KeyChangeOptions, threshold?: number): Promise<void> {
  const repo = await openRepository(dir);
  const keys = await publicKeys(opts.key, opts.passphraseEnv);
  let change: { add?: typeof keys; remove?: string[]; threshold?: number };
  if (kind === 'add') {
    if (keys.length === 0) throw new UsageError('--key is required');
    change = { add: keys, threshold: opts.threshold };
  } else if (kind === 'remove') {
    const ids = [...keys.map((k) => k.keyid), ...(opts.keyid ?? [])];
    if (ids.length === 0) throw new UsageError('give the keys to remove with --key FILE or --keyid ID');
    change = { remove: ids, threshold: opts.threshold };
  } else {
    change = { threshold };
  }
  const result = await repo.changeKeys(role, change);
  const root = await repo.root();
  output(opts.json, { role, ...result, rootVersion: root.signed.version }, () =>
    [
      `role "${role}": ${result.threshold} of ${result.keyids.length} key(s): ${result.keyids.map(shortId).join(', ')}`,
      isTopLevel(role)
        ? `root is now version ${root.signed.version} (unsigned): it needs signatures from a threshold of the previous root's keys AND of its own (see tufkit status)`
        : 'the delegating role has a new version to sign (see tufkit status)',
      '',
    ].join('\n'),
  );
}

function keyChangeCommands(parent: Command, target: 'top' | 'delegated'): void {
  const roleOpt = (c: Command): Command =>
    target === 'top'
      ? c.option('--role <role>', 'top-level role whose keys change: root, targets, snapshot or timestamp', 'root')
      : c.requiredOption('--to <name>', 'delegated role (for hash bins: the bin name prefix)');
  const roleOf = (opts: KeyChangeOptions): string => {
    const role = target === 'top' ? (opts.role ?? 'root') : opts.to!;
    if (target === 'top' && !isTopLevel(role)) throw new UsageError(`"${role}" is not a top-level role (use tufkit delegate add-key for delegated roles)`);
    return role;
  };
  roleOpt(parent.command('add-key').description('authorise more keys for the role'))
    .argument('<dir>', 'repository folder')
    .option('--key <files...>', 'public key files (.pub) or private key files')
    .option('--threshold <n>', 'new threshold', positiveInt('--threshold'))
    .option('--passphrase-env <var>', 'passphrase of encrypted private key files')
    .option('--json', 'print the result as JSON')
    .action(action(async (dir: string, opts: KeyChangeOptions) => changeKeys(dir, roleOf(opts), 'add', opts)));
  roleOpt(parent.command('remove-key').description('revoke keys of the role'))
    .argument('<dir>', 'repository folder')
    .option('--key <files...>', 'key files of the keys to remove')
    .option('--keyid <id>', 'keyid to remove (repeatable)', collect)
    .option('--threshold <n>', 'new threshold', positiveInt('--threshold'))
    .option('--passphrase-env <var>', 'passphrase of encrypted private key files')
    .option('--json', 'print the result as JSON')
    .action(action(async (dir: string, opts: KeyChangeOptions) => changeKeys(dir, roleOf(opts), 'remove', opts)));
  roleOpt(parent.command('threshold').description('set how many of the role\'s keys must sign'))
    .argument('<dir>', 'repository folder')
    .argument('<n>', 'threshold', positiveInt('threshold'))
    .option('--json', 'print the result as JSON')
    .action(action(async (dir: string, n: number, opts: KeyChangeOptions) => changeKeys(dir, roleOf(opts), 'threshold', opts, n)));
}

export function registerRootCommands(program: Command): void {
  const root = program
    .command('root')
    .description('change top-level keys and thresholds: writes root N+1, signed by a threshold of the old AND the new root keys');
  keyChangeCommands(root, 'top');
}

export function registerDelegateCommands(program: Command): void {
  const delegate = program.command('delegate').description('delegate target paths from a targets role to another role, or remove a delegation');
  delegate
    .command('add', { isDefault: true })
    .description('delegate from --from to a new role --to (tufkit delegate DIR ... is the same)')
    .argument('<dir>', 'repository folder')
    .requiredOption('--from <role>', 'delegating targets role')
    .requiredOption('--to <name>', 'new role (with --bins: prefix of the bin names, NAME-000 ...)')
    .option('--key <files...>', 'keys of the new role: public key files (.pub) or private key files')
    .option('--threshold <n>', 'how many of its keys must sign', positiveInt('--threshold'), 1)
    .option('--paths <patterns...>', 'target path patterns it is trusted for (* does not cross /)')
    .option('--hash-prefixes <hex...>', 'hex prefixes of sha256(target path) it is trusted for')
    .option('--bins <n>', 'split all paths into N succinct hash bins (a power of two), one role each', positiveInt('--bins'))
    .option('--terminating', 'clients stop searching after this role for paths it is trusted for')
    .option('--passphrase-env <var>', 'passphrase of encrypted private key files')
    .option('--json', 'print the created roles as JSON')
    .action(
      action(async (dir: string, opts: DelegateOptions) => {
        const repo = await openRepository(dir);
        const keys = await publicKeys(opts.key, opts.passphraseEnv);
        if (keys.length === 0) throw new UsageError('--key is required (the new role\'s keys)');
        const created = await repo.delegate(opts.from, {
          name: opts.to,
          keys,
          threshold: opts.threshold,
          paths: opts.paths,
          pathHashPrefixes: opts.hashPrefixes,
          bins: opts.bins,
          terminating: opts.terminating,
        });
        output(opts.json, { from: opts.from, created }, () =>
          created.length === 1
            ? `delegated "${created[0]}" from "${opts.from}" (${opts.threshold} of ${keys.length} key(s))\n`
            : `delegated ${created.length} hash bins ${created[0]} … ${created[created.length - 1]} from "${opts.from}" (${opts.threshold} of ${keys.length} key(s))\n`,
        );
      }),
    );
  delegate
    .command('remove')
    .description('remove the delegation of --to (every hash bin for a bin prefix) and every role below it')
    .argument('<dir>', 'repository folder')
    .requiredOption('--from <role>', 'delegating targets role')
    .requiredOption('--to <name>', 'delegated role (or hash bin prefix)')
    .option('--json', 'print the removed roles as JSON')
    .action(
      action(async (dir: string, opts: { from: string; to: string; json?: boolean }) => {
        const repo = await openRepository(dir);
        const removed = await repo.removeDelegation(opts.from, opts.to);
        output(opts.json, { from: opts.from, removed }, () => `removed ${removed.length} role(s) delegated by "${opts.from}": ${removed.length <= 8 ? removed.join(', ') : `${removed[0]} … ${removed[removed.length - 1]}`}\n`);
      }),
    );
  delegate
    .command('rebin')
    .description('re-bin the hash bins --prefix that --from delegates to into --bins bins, in place: targets move to their new bins, the old bins are removed (snapshot keeps listing them)')
    .argument('<dir>', 'repository folder')
    .requiredOption('--from <role>', 'delegating targets role')
    .requiredOption('--prefix <name>', 'name prefix of the current bins (--to of delegate --bins)')
    .requiredOption('--bins <n>', 'new number of bins (a power of two whose bin names have another number of hex digits)', positiveInt('--bins'))
    .option('--key <file>', 'sign the new bins with this private key file (with --signer-command: the public key file)')
    .option('--passphrase-env <var>', 'passphrase of an encrypted private key, from this environment variable')
    .option('--signer-command <cmd>', 'sign the new bins with this program (see tufkit sign --help)')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (dir: string, opts: SignerOptions & { from: string; prefix: string; bins: number; json?: boolean }) => {
        const repo = await openRepository(dir);
        const signs = opts.key !== undefined || opts.signerCommand !== undefined;
        // The new bins have the current bins' keys: a private key is matched against those.
        const binKeys = async (): Promise<Key[]> => {
          const bins = (await repo.targets(opts.from)).signed.delegations?.succinctRoles;
          return bins ? repo.authorisedKeys(bins.binName(0)) : [];
        };
        const signer = signs ? await signerFromOptions(opts, binKeys) : undefined;
        const r = await repo.rebin(opts.from, opts.prefix, opts.bins, signer);
        const next = signs
          ? `sign "${opts.from}", then run tufkit snapshot, timestamp and publish`
          : `sign the new bins (tufkit sign ${dir} '${opts.prefix}-*') and "${opts.from}", then run tufkit snapshot, timestamp and publish`;
        output(opts.json, r, () =>
          [
            `re-binned ${r.moved} target(s) of "${r.from}" from ${r.oldBins} to ${r.newBins} hash bins: ${r.created[0]} … ${r.created[r.created.length - 1]}${signs ? ' (signed)' : ''}`,
            `${r.retired.length} old bins removed (snapshot keeps listing them); ${next}`,
            '',
          ].join('\n'),
        );
      }),
    );
  keyChangeCommands(delegate, 'delegated');
}
