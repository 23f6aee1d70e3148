import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Key } from '../src/models/key.js';
import { Metadata } from '../src/models/metadata.js';
import { keysListedFor, signMetadataFile } from '../src/repository/offline-signing.js';
import { RoleNotFoundError, UsageError } from '../src/errors.js';
import { matchesPathPattern } from '../src/models/role.js';
import { formatExpires, parseExpires } from '../src/models/fields.js';
import { expiryAfter, parseDuration } from '../src/repository/durations.js';
import type { Repository, SignResult } from '../src/repository/repository.js';
import type { SignatureStatus } from '../src/repository/signatures.js';
import { openRepository, output, shortId, signerFor, signerFromOptions, type SignerOptions } from './repo-common.js';
import { action } from './run.js';

/** Role names, where a name with `*` or `?` stands for every role it matches ("bins-*"). */
async function expandRoles(repo: Repository, patterns: string[]): Promise<string[]> {
  let all: string[] | undefined; // listed only for a pattern (with 16,384 bins, a stat of each)
  const out: string[] = [];
  for (const p of patterns) {
    if (!/[*?[]/.test(p)) {
      out.push(p);
      continue;
    }
    all ??= await repo.roleNames();
    const matched = all.filter((n) => matchesPathPattern(n, p));
    if (matched.length === 0) throw new RoleNotFoundError(`no role matches "${p}"`);
    out.push(...matched);
  }
  return [...new Set(out)];
}

export function describeSignatures(s: SignatureStatus, version: number): string {
  const own = `${s.valid.length} of ${s.threshold} needed`;
  const parts = [`role "${s.role}" version ${version}: ${own}${s.missing.length > 0 && !s.verified ? ` (still to sign: ${s.missing.map(shortId).join(', ')})` : ''}`];
  if (s.previous) {
    parts.push(
      s.previous.found
        ? `root version ${s.previous.version} keys: ${s.previous.valid.length} of ${s.previous.threshold} needed${!s.previous.verified ? ` (still to sign: ${s.previous.missing.map(shortId).join(', ')})` : ''}`
        : `root version ${s.previous.version} is missing from root_history`,
    );
  }
  parts.push(s.complete ? 'complete' : 'not complete yet');
  return parts.join('; ');
}

interface SignCliOptions extends SignerOptions {
  json?: boolean;
}

const SIGNER_HELP = `
Signer commands (--signer-command CMD, run through the shell once per signature):
  stdin   exactly the bytes the signature covers: the canonical JSON of the role's "signed"
          object (UTF-8, no newline). ed25519 signs them as they are; ECDSA and RSA sign their
          sha256 digest (sha384 for ecdsa-sha2-nistp384).
  stdout  the signature, raw bytes or hex text: ed25519 64 bytes; ECDSA DER or raw r||s
          (64 bytes for P-256, 96 for P-384: what PKCS#11 returns; stored as DER);
          RSA as many bytes as the modulus.
  env     TUFKIT_ROLE (the role), and when --key names the public key: TUFKIT_KEYID,
          TUFKIT_KEYTYPE, TUFKIT_SCHEME, TUFKIT_PUBLIC_KEY (hex for ed25519, PEM otherwise).
  exit    0; anything else fails the command, showing the first line of stderr.
  Give --key with the public key file: the signature is then checked before it is stored.
  Examples: examples/signers/openssl-sign.sh (a PEM key file), examples/signers/pkcs11-sign.sh.
`;

export function registerSignCommands(program: Command): void {
  const signerOptions = (c: Command): Command =>
    c
      .option('--key <file>', 'private key file (PKCS#8 PEM); with --signer-command, the public key file')
      .option('--passphrase-env <var>', 'passphrase of an encrypted private key, from this environment variable')
      .option('--signer-command <cmd>', 'program that signs (HSM, KMS, hardware key, OpenSSL): see "Signer commands" below')
      .addHelpText('after', SIGNER_HELP);

  signerOptions(
    program
      .command('sign')
      .description('add one signature to each ROLE without changing what is signed (holders sign in turn)')
      .argument('<dir>', 'repository folder')
      .argument('<roles...>', 'roles to sign; "bins-*" stands for every matching role'),
  )
    .option('--json', 'print the result as JSON')
    .action(
      action(async (dir: string, patterns: string[], opts: SignCliOptions) => {
        const repo = await openRepository(dir);
        const roles = await expandRoles(repo, patterns);
        const signer = await signerFor(repo, roles[0]!, opts);
        const results = await repo.sign(roles, signer);
        if (results.length > 8) {
          output(opts.json, results, () => `signed ${results.length} roles (${roles[0]} … ${roles[roles.length - 1]}) with key ${shortId(results[0]!.keyid)}\n`);
          return;
        }
        const statuses: (SignResult & { signatures: SignatureStatus })[] = [];
        for (const r of results) statuses.push({ ...r, signatures: await repo.signatureStatus(r.role) });
        output(opts.json, statuses, () => statuses.map((s) => `signed with key ${shortId(s.keyid)}: ${describeSignatures(s.signatures, s.version)}\n`).join(''));
      }),
    );

  // Offline holders: sign a copy of the role's file away from the repository, then merge it back.
  signerOptions(
    program
      .command('sign-file')
      .description("add a signature to a copy of one role's metadata file (an offline key holder); merge it back with import-signatures")
      .argument('<file>', "a copy of the role's file, e.g. REPO/metadata/root.json; changed in place")
      .option('--role <name>', 'the role the file holds (default: its type; needed for delegated roles)'),
  )
    .option('--json', 'print the result as JSON')
    .action(
      action(async (file: string, opts: SignCliOptions & { role?: string }) => {
        const listed = async (): Promise<Key[]> => keysListedFor(Metadata.fromBytes(await readFile(file), undefined, file));
        const r = await signMetadataFile(file, await signerFromOptions(opts, listed), opts.role);
        output(opts.json, r, () => `signed ${file} (role "${r.role}" version ${r.version}) with key ${shortId(r.keyid)}; merge it with: tufkit import-signatures DIR ${r.role} ${file}\n`);
      }),
    );

  program
    .command('import-signatures')
    .description('merge the signatures of copies signed with sign-file into ROLE (only over its current content; none is dropped)')
    .argument('<dir>', 'repository folder')
    .argument('<role>', 'role name')
    .argument('<files...>', 'signed copies of the role file')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (dir: string, role: string, files: string[], opts: { json?: boolean }) => {
        const repo = await openRepository(dir);
        const added: SignResult[] = [];
        for (const f of files) added.push(...(await repo.importSignatures(role, await readFile(f), f)));
        const s = await repo.signatureStatus(role);
        const version = (await repo.load(role)).signed.version;
        output(opts.json, { added, signatures: s }, () => `imported ${added.length} signature(s)${added.length > 0 ? ` (${added.map((a) => shortId(a.keyid)).join(', ')})` : ''}: ${describeSignatures(s, version)}\n`);
      }),
    );

  program
    .command('expire')
    .description('set when ROLE expires (a new version if the current one is signed)')
    .argument('<dir>', 'repository folder')
    .argument('<role>', 'role name')
    .option('--in <period>', 'from now, like 30d, 12h, 52w, 1y')
    .option('--at <time>', 'a UTC time like 2030-01-01T00:00:00Z')
    .option('--json', 'print the result as JSON')
    .action(
      action(async (dir: string, role: string, opts: { in?: string; at?: string; json?: boolean }) => {
        if ((opts.in === undefined) === (opts.at === undefined)) throw new UsageError('give exactly one of --in PERIOD and --at TIME');
        let expires: Date;
        if (opts.in !== undefined) {
          expires = expiryAfter(new Date(), parseDuration(opts.in, '--in'));
        } else {
          const d = parseExpires(opts.at!);
          if (!d) throw new UsageError(`--at "${opts.at}" is not a UTC time like 2030-01-01T00:00:00Z`);
          expires = d;
        }
        const repo = await openRepository(dir);
        await repo.setExpiry(role, expires);
        const md = await repo.load(role);
        output(opts.json, { role, version: md.signed.version, expires: md.signed.expires }, () => `role "${role}" version ${md.signed.version} now expires ${formatExpires(md.signed.expires)} (sign it again)\n`);
      }),
    );

  for (const role of ['snapshot', 'timestamp'] as const) {
    signerOptions(
      program
        .command(role)
        .description(
          role === 'snapshot'
            ? 'write a new snapshot listing every targets role as it is now; signs it with --key / --signer-command'
            : 'write a new timestamp naming the current snapshot; signs it with --key / --signer-command',
        )
        .argument('<dir>', 'repository folder'),
    )
      .option('--json', 'print the result as JSON')
      .action(
        action(async (dir: string, opts: SignCliOptions) => {
          const repo = await openRepository(dir);
          const signer = opts.key !== undefined || opts.signerCommand !== undefined ? await signerFor(repo, role, opts) : undefined;
          const version = role === 'snapshot' ? await repo.updateSnapshot(signer) : await repo.updateTimestamp(signer);
          const s = await repo.signatureStatus(role);
          output(opts.json, { role, version, signatures: s }, () => `${role} version ${version} written; ${describeSignatures(s, version)}\n`);
        }),
      );
  }
}
