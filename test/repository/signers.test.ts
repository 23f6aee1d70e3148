import { execFileSync, spawnSync } from 'node:child_process';
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Key } from '../../src/models/key.js';
import { Metadata } from '../../src/models/metadata.js';
import { publicKeyFileText } from '../../src/repository/key-files.js';
import { ensureBuilt, ok, removeTemps, tempDir, TestServer, treeHash, tufkit, tufkitClient } from './helpers.js';

// Signers as key holders have them, through the CLI: the example OpenSSL signer for every scheme,
// a PKCS#11 token (SoftHSM2 through pkcs11-tool, raw ECDSA r||s) in a 2-of-2 root ceremony, what a
// broken signer command looks like, and offline root holders who sign copies of root.json that
// are merged back in either order. Each repository ends served over HTTP to tufkit's Updater.

const examples = path.resolve('examples/signers');
const opensslSign = path.join(examples, 'openssl-sign.sh');
const pkcs11Sign = path.join(examples, 'pkcs11-sign.sh');

let work: string;
const servers: TestServer[] = [];

beforeAll(async () => {
  ensureBuilt();
  work = await tempDir('tufkit-signers-');
}, 30_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  await removeTemps();
});

const run = (args: string[], env?: Record<string, string>): Promise<string> => ok(args, { cwd: work, env });
/** `tufkit status --json` output; the command exits 1 until the repository is ready to publish, 0 once it is. */
async function status(args: string[]): Promise<string> {
  const r = await tufkit(['status', ...args, '--json'], { cwd: work });
  expect(r.code, r.stderr).toBe((JSON.parse(r.stdout) as { ready: boolean }).ready ? 0 : 1);
  return r.stdout;
}
const opensslSigner = (privateKey: string): string => `${opensslSign} ${path.join(work, privateKey)}`;

async function keygen(name: string, type: string): Promise<void> {
  await run(['key', 'generate', '--type', type, '--out', `keys/${name}.pem`]);
}

/** Publishes `repo` into its own folder, serves it, and has a fresh Updater trusting root v1 fetch `target`. */
async function clientDownloads(repo: string, target: string): Promise<{ bytes: Buffer; rootVersion: number }> {
  const pub = path.join(work, `${repo}-pub`);
  await run(['publish', repo, '--out', pub]);
  const server = await TestServer.start(pub);
  servers.push(server);
  const client = await tufkitClient(await readFile(path.join(pub, 'metadata/1.root.json')), server.metadataUrl, server.targetsUrl);
  await client.refresh();
  const bytes = await client.download(target);
  const rootVersion = Metadata.fromBytes(await readFile(path.join(client.metadataDir, 'root.json')), 'root').signed.version;
  return { bytes, rootVersion };
}

function signatureOf(md: Metadata, keyid: string): string {
  const s = md.signatures.get(keyid);
  if (!s) throw new Error(`no signature by ${keyid}`);
  return s.sig;
}

describe('signer commands', { timeout: 60_000 }, () => {
  it('the OpenSSL example signs every scheme: ed25519 root, ECDSA P-256 targets, P-384 snapshot, RSA-PSS timestamp', async () => {
    await mkdir(path.join(work, 'keys'), { recursive: true });
    await Promise.all([keygen('ed', 'ed25519'), keygen('p256', 'ecdsa'), keygen('p384', 'ecdsa-p384'), keygen('rsa', 'rsa')]);
    await run(['repo', 'init', 'ssl', '--root-key', 'keys/ed.pem.pub', '--targets-key', 'keys/p256.pem.pub', '--snapshot-key', 'keys/p384.pem.pub', '--timestamp-key', 'keys/rsa.pem.pub']);
    await writeFile(path.join(work, 'hello.txt'), 'signed by openssl\n');
    await run(['targets', 'add', 'ssl', 'hello.txt']);
    await run(['sign', 'ssl', 'root', '--key', 'keys/ed.pem.pub', '--signer-command', opensslSigner('keys/ed.pem')]);
    await run(['sign', 'ssl', 'targets', '--key', 'keys/p256.pem.pub', '--signer-command', opensslSigner('keys/p256.pem')]);
    await run(['snapshot', 'ssl', '--key', 'keys/p384.pem.pub', '--signer-command', opensslSigner('keys/p384.pem')]);
    await run(['timestamp', 'ssl', '--key', 'keys/rsa.pem.pub', '--signer-command', opensslSigner('keys/rsa.pem')]);
    const { bytes } = await clientDownloads('ssl', 'hello.txt');
    expect(bytes.toString()).toBe('signed by openssl\n');
  });

  it('gives the command the role, keyid, scheme and public key in its environment', async () => {
    const dump = path.join(work, 'env.txt');
    const key = JSON.parse(await readFile(path.join(work, 'keys/p256.pem.pub'), 'utf8')) as { keyval: { public: string } };
    // Records its environment, then signs like the example.
    const cmd = `printf '%s\\n' "$TUFKIT_ROLE" "$TUFKIT_KEYID" "$TUFKIT_KEYTYPE" "$TUFKIT_SCHEME" > ${dump}; printf '%s' "$TUFKIT_PUBLIC_KEY" >> ${dump}; ${opensslSigner('keys/p256.pem')}`;
    await run(['targets', 'add', 'ssl', 'hello.txt', '--path', 'again.txt']);
    const out = JSON.parse(await run(['sign', 'ssl', 'targets', '--key', 'keys/p256.pem.pub', '--signer-command', cmd, '--json'])) as { keyid: string }[];
    const lines = (await readFile(dump, 'utf8')).split('\n');
    expect(lines.slice(0, 4)).toEqual(['targets', out[0]!.keyid, 'ecdsa', 'ecdsa-sha2-nistp256']);
    expect(lines.slice(4).join('\n')).toBe(key.keyval.public);
  });

  it('stores raw ECDSA r||s as DER, and finds the key of a signature made without --key', async () => {
    const targets = Metadata.fromBytes(await readFile(path.join(work, 'ssl/metadata/targets.json')), 'targets');
    const keyid = [...targets.signatures.keys()][0]!;
    const der = Buffer.from(signatureOf(targets, keyid), 'hex');
    expect(der[0]).toBe(0x30); // openssl wrote DER
    // This signer prints raw r||s (IEEE P1363), as PKCS#11 tokens do, in hex.
    const rawSigner = `node -e "const c=require('node:crypto'),fs=require('node:fs');process.stdout.write(c.sign('sha256',fs.readFileSync(0),{key:c.createPrivateKey(fs.readFileSync('${path.join(work, 'keys/p256.pem')}')),dsaEncoding:'ieee-p1363'}).toString('hex'))"`;
    await run(['targets', 'add', 'ssl', 'hello.txt', '--path', 'raw.txt']);
    await run(['sign', 'ssl', 'targets', '--key', 'keys/p256.pem.pub', '--signer-command', rawSigner]);
    const after = Metadata.fromBytes(await readFile(path.join(work, 'ssl/metadata/targets.json')), 'targets');
    const sig = Buffer.from(signatureOf(after, keyid), 'hex');
    expect(sig[0]).toBe(0x30);
    expect(sig[1]).toBe(sig.length - 2);
    expect(Key.fromPublicJSON(JSON.parse(await readFile(path.join(work, 'keys/p256.pem.pub'), 'utf8'))).verify(sig.toString('hex'), after.signedBytes())).toBe(true);

    // Without --key, a DER signature still finds its key among those authorised for the role.
    await run(['targets', 'add', 'ssl', 'hello.txt', '--path', 'nokey.txt']);
    const found = JSON.parse(await run(['sign', 'ssl', 'targets', '--signer-command', `TUFKIT_SCHEME=ecdsa-sha2-nistp256 ${opensslSigner('keys/p256.pem')}`, '--json'])) as { keyid: string }[];
    expect(found[0]!.keyid).toBe(keyid);
  });

  const broken: [string, string, RegExp][] = [
    ['exits nonzero', 'echo "token not present" >&2; exit 4', /failed \(exit status 4\): token not present$/],
    ['prints nothing', 'cat >/dev/null', /printed no signature$/],
    ['prints a signature of the wrong length', 'cat >/dev/null; printf "%0126d" 0', /printed 63 bytes; an ed25519 signature is 64 bytes/],
    ['signs with another key', '', /printed a signature that does not verify with key [0-9a-f]{12}… \(ed25519\) over role "root"$/],
  ];
  for (const [what, command, message] of broken) {
    it(`a signer command that ${what} fails with one KeyError line naming it; nothing changes`, async () => {
      if (command === '') await keygen('other-ed', 'ed25519').catch(() => undefined);
      const cmd = command || opensslSigner('keys/other-ed.pem');
      await run(['expire', 'ssl', 'root', '--in', '400d']);
      const before = await treeHash(path.join(work, 'ssl'));
      const r = await tufkit(['sign', 'ssl', 'root', '--key', 'keys/ed.pem.pub', '--signer-command', cmd], { cwd: work });
      expect(r.code).toBe(1);
      const lines = r.stderr.trimEnd().split('\n');
      expect(lines).toHaveLength(1);
      expect(lines[0]).toContain(`tufkit: KeyError: signer command "${cmd}"`);
      expect(lines[0]).toMatch(message);
      expect(await treeHash(path.join(work, 'ssl'))).toBe(before);
    });
  }

  it('ECDSA output that is neither DER nor raw r||s of the curve is refused', async () => {
    const cmd = 'cat >/dev/null; printf "%0100d" 0';
    const r = await tufkit(['sign', 'ssl', 'targets', '--key', 'keys/p256.pem.pub', '--signer-command', cmd], { cwd: work });
    expect(r.stderr.trim()).toBe(`tufkit: KeyError: signer command "${cmd}" printed 50 bytes that are neither a DER ECDSA signature nor raw r||s of 64 bytes (ecdsa-sha2-nistp256)`);
  });
});

describe('a PKCS#11 token (SoftHSM2) in a 2-of-2 root ceremony', { timeout: 60_000 }, () => {
  const module = '/usr/lib/softhsm/libsofthsm2.so';
  it('a file key and the token key sign root; the token signs targets; the client verifies over HTTP', async () => {
    const missing = ['softhsm2-util', 'pkcs11-tool'].filter((t) => spawnSync('sh', ['-c', `command -v ${t}`]).status !== 0);
    if (missing.length > 0) throw new Error(`${missing.join(' and ')} not installed: apt-get install softhsm2 opensc (.ci/run installs them)`);
    const hsm = path.join(work, 'hsm');
    await mkdir(path.join(hsm, 'tokens'), { recursive: true });
    await writeFile(path.join(hsm, 'softhsm2.conf'), `directories.tokendir = ${hsm}/tokens\nobjectstore.backend = file\nlog.level = ERROR\n`);
    const env = { SOFTHSM2_CONF: path.join(hsm, 'softhsm2.conf'), PKCS11_MODULE: module, PKCS11_TOKEN: 'tufkit-test', PKCS11_KEY_ID: '01', PKCS11_PIN: '5678' };
    const sh = (cmd: string): Buffer => execFileSync('sh', ['-c', cmd], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    sh('softhsm2-util --init-token --free --label "$PKCS11_TOKEN" --so-pin 1234 --pin "$PKCS11_PIN"');
    const p11 = 'pkcs11-tool --module "$PKCS11_MODULE" --token-label "$PKCS11_TOKEN"';
    sh(`${p11} --login --pin "$PKCS11_PIN" --keypairgen --key-type EC:prime256v1 --id "$PKCS11_KEY_ID" --label tuf`);
    const pem = sh(`${p11} --read-object --type pubkey --id "$PKCS11_KEY_ID" | openssl pkey -pubin -inform DER`).toString();
    const hsmKey = Key.fromPublicJSON({ keytype: 'ecdsa', scheme: 'ecdsa-sha2-nistp256', keyval: { public: pem } });
    await writeFile(path.join(hsm, 'token.pub'), publicKeyFileText(hsmKey));
    await Promise.all([keygen('root-file', 'ed25519'), keygen('online', 'ed25519')]);

    await run(['repo', 'init', 'hsm-repo', '--root-key', 'keys/root-file.pem.pub', 'hsm/token.pub', '--root-threshold', '2', '--targets-key', 'hsm/token.pub', '--snapshot-key', 'keys/online.pem.pub', '--timestamp-key', 'keys/online.pem.pub']);
    await writeFile(path.join(work, 'firmware.bin'), 'firmware signed on a token\n');
    await run(['targets', 'add', 'hsm-repo', 'firmware.bin']);
    const token = ['--key', 'hsm/token.pub', '--signer-command', pkcs11Sign];
    await run(['sign', 'hsm-repo', 'root', ...token], env);
    const half = JSON.parse(await status(['hsm-repo'])) as { roles: { name: string; signatures: { valid: string[]; missing: string[] } }[] };
    expect(half.roles.find((r) => r.name === 'root')!.signatures).toMatchObject({ valid: [hsmKey.keyid], missing: [expect.any(String)] });
    await run(['sign', 'hsm-repo', 'root', '--key', 'keys/root-file.pem']);
    await run(['sign', 'hsm-repo', 'targets', ...token], env);
    await run(['snapshot', 'hsm-repo', '--key', 'keys/online.pem']);
    await run(['timestamp', 'hsm-repo', '--key', 'keys/online.pem']);

    const root = Metadata.fromBytes(await readFile(path.join(work, 'hsm-repo/metadata/root.json')), 'root');
    expect(root.signatures.size).toBe(2);
    expect(signatureOf(root, hsmKey.keyid).slice(0, 2)).toBe('30'); // the token's r||s, stored as DER
    const { bytes } = await clientDownloads('hsm-repo', 'firmware.bin');
    expect(bytes.toString()).toBe('firmware signed on a token\n');
  });
});

describe('offline root key holders', { timeout: 60_000 }, () => {
  interface RootStatus {
    version: number;
    signatures: { valid: string[]; missing: string[]; complete: boolean; previous?: { valid: string[]; missing: string[] } };
  }
  const rootStatus = async (repo: string): Promise<RootStatus> =>
    (JSON.parse(await status([repo])) as { roles: (RootStatus & { name: string })[] }).roles.find((r) => r.name === 'root')!;
  const notReadyTable = async (repo: string): Promise<string> => {
    const r = await tufkit(['status', repo], { cwd: work });
    expect(r.code).toBe(1);
    return r.stdout;
  };
  const keyid = async (name: string): Promise<string> => Key.fromPublicJSON(JSON.parse(await readFile(path.join(work, `keys/${name}.pem.pub`), 'utf8'))).keyid;

  it('two holders sign copies of root v2 away from the repository; merged in either order; the client follows the rotation', async () => {
    await Promise.all([keygen('h1', 'ed25519'), keygen('h2', 'ecdsa'), keygen('h3', 'ed25519'), keygen('off-online', 'ed25519')]);
    await run(['repo', 'init', 'off', '--root-key', 'keys/h1.pem.pub', 'keys/h2.pem.pub', '--root-threshold', '2', '--targets-key', 'keys/off-online.pem.pub', '--snapshot-key', 'keys/off-online.pem.pub', '--timestamp-key', 'keys/off-online.pem.pub']);
    await run(['targets', 'add', 'off', 'hello.txt']);
    for (const k of ['h1', 'h2']) await run(['sign', 'off', 'root', '--key', `keys/${k}.pem`]);
    await run(['sign', 'off', 'targets', '--key', 'keys/off-online.pem']);
    await run(['snapshot', 'off', '--key', 'keys/off-online.pem']);
    await run(['timestamp', 'off', '--key', 'keys/off-online.pem']);
    await run(['publish', 'off', '--out', path.join(work, 'off-pub')]);
    const v1Copy = path.join(work, 'root-v1-copy.json');
    await cp(path.join(work, 'off/metadata/root.json'), v1Copy);

    // Root v2 adds h3; it needs 2 of {h1, h2, h3} and 2 of version 1's {h1, h2}.
    await run(['root', 'add-key', 'off', '--key', 'keys/h3.pem.pub']);
    await cp(path.join(work, 'off'), path.join(work, 'off-b'), { recursive: true });
    // Each holder carries their own copy of root.json to their machine and signs it there.
    for (const h of ['h1', 'h2']) {
      await mkdir(path.join(work, `holder-${h}`), { recursive: true });
      await cp(path.join(work, 'off/metadata/root.json'), path.join(work, `holder-${h}/root.json`));
    }
    await run(['sign-file', 'holder-h1/root.json', '--key', 'keys/h1.pem']);
    await run(['sign-file', 'holder-h2/root.json', '--key', 'keys/h2.pem.pub', '--signer-command', opensslSigner('keys/h2.pem')]);

    const [h1, h2] = [await keyid('h1'), await keyid('h2')];
    for (const [repo, order] of [['off', ['h1', 'h2']], ['off-b', ['h2', 'h1']]] as const) {
      await run(['import-signatures', repo, 'root', `holder-${order[0]}/root.json`]);
      const half = await rootStatus(repo);
      expect(half.version).toBe(2);
      expect(half.signatures.complete).toBe(false);
      expect(await notReadyTable(repo)).toContain(`still to sign: ${(order[0] === 'h1' ? h2 : h1).slice(0, 12)}…`);
      await run(['import-signatures', repo, 'root', `holder-${order[1]}/root.json`]);
      const full = await rootStatus(repo);
      expect(full.signatures.valid.sort()).toEqual([h1, h2].sort());
      expect(full.signatures.previous!.valid.sort()).toEqual([h1, h2].sort());
      expect(full.signatures.complete).toBe(true);
    }
    // Importing a copy again, or one holder's copy after the other's, drops nothing.
    await run(['import-signatures', 'off', 'root', 'holder-h1/root.json']);
    expect((await rootStatus('off')).signatures.complete).toBe(true);

    const { rootVersion } = await clientDownloads('off', 'hello.txt');
    expect(rootVersion).toBe(2);
  });

  it('refuses a copy of another version, of changed content, or with a signature from a key not allowed to sign', async () => {
    const before = await treeHash(path.join(work, 'off'));
    const old = await tufkit(['import-signatures', 'off', 'root', 'root-v1-copy.json'], { cwd: work });
    expect(old.stderr.trim()).toBe('tufkit: RepositoryError: root-v1-copy.json holds role "root" version 1, but the repository\'s is version 2: sign a copy of the current one');

    const changed = JSON.parse(await readFile(path.join(work, 'holder-h1/root.json'), 'utf8')) as { signed: { expires: string } };
    changed.signed.expires = '2099-01-01T00:00:00Z';
    await writeFile(path.join(work, 'changed.json'), JSON.stringify(changed));
    await run(['sign-file', 'changed.json', '--key', 'keys/h3.pem']);
    const other = await tufkit(['import-signatures', 'off', 'root', 'changed.json'], { cwd: work });
    expect(other.stderr.trim()).toBe('tufkit: RepositoryError: changed.json holds role "root" version 2 with other content than the repository\'s version 2 (changed since the copy was made): sign a copy of the current one');

    await cp(path.join(work, 'off/metadata/root.json'), path.join(work, 'stranger.json'));
    await run(['sign-file', 'stranger.json', '--key', 'keys/off-online.pem']);
    const stranger = await tufkit(['import-signatures', 'off', 'root', 'stranger.json'], { cwd: work });
    expect(stranger.stderr.trim()).toBe(`tufkit: KeyError: stranger.json: the signature by key ${(await keyid('off-online')).slice(0, 12)}… is not from a key that may sign role "root" version 2`);
    expect(await treeHash(path.join(work, 'off'))).toBe(before);
  });
});
