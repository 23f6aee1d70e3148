import { spawn } from 'node:child_process';
import { createPublicKey } from 'node:crypto';
import type { PublicKeyInfo } from '../crypto/verify.js';
import { KeyError } from '../errors.js';
import type { Key } from '../models/key.js';

/*
 * A signer backed by another program (an HSM, a cloud KMS, a hardware token, OpenSSL). The
 * protocol, also in README.md ("Signers") and `tufkit sign --help`:
 *   stdin   exactly the bytes the signature covers: the canonical JSON of the role's "signed"
 *           object (UTF-8, no newline). ed25519 signs these bytes; ECDSA and RSA hash them with
 *           the scheme's hash (sha256, or sha384 for ecdsa-sha2-nistp384) and sign the digest.
 *   stdout  the signature, as hex text (whitespace around it ignored) or raw bytes:
 *           ed25519 64 bytes; ECDSA DER (as securesystemslib writes it) or raw r||s (32+32 bytes
 *           for P-256, 48+48 for P-384, what PKCS#11 tokens return), stored as DER; RSA the
 *           signature, as long as the modulus.
 *   env     TUFKIT_ROLE (the role signed), and with --key naming the public key: TUFKIT_KEYID,
 *           TUFKIT_KEYTYPE, TUFKIT_SCHEME, TUFKIT_PUBLIC_KEY (keyval.public: hex for ed25519, PEM
 *           otherwise).
 *   exit    0 on success; anything else fails the command, with the first line of stderr shown.
 * With the public key known, the signature is checked here, so a wrong signer fails naming itself.
 */

export interface ExternalSignerOptions {
  /** Kill the command after this long (default 120 s: a hardware token may wait for a touch). */
  timeoutMs?: number;
  /** Largest signature accepted on stdout (default 64 KiB). */
  maxOutputBytes?: number;
}

/** What the signer is signing, passed to the command in its environment. */
export interface SignContext {
  role?: string;
}

const STDERR_KEEP = 4096;
const ECDSA_FIELD_BYTES: Record<string, number> = { 'ecdsa-sha2-nistp256': 32, 'ecdsa-sha2-nistp384': 48 };

/**
 * Runs `command` through the shell for every signature. `key` is the public key it signs for;
 * without it `keyid` is empty and the repository finds the key by checking the signature against
 * every key authorised for the role (raw ECDSA r||s then cannot be told from ed25519: give the key).
 */
export class ExternalSigner {
  readonly keyid: string;
  readonly publicKey: PublicKeyInfo | undefined;

  constructor(
    readonly command: string,
    private readonly key?: Key,
    private readonly options: ExternalSignerOptions = {},
  ) {
    if (command.trim() === '') throw new KeyError('the signer command is empty');
    this.keyid = key?.keyid ?? '';
    this.publicKey = key ? (key.toJSON() as unknown as PublicKeyInfo) : undefined;
  }

  private get what(): string {
    return `signer command "${this.command}"`;
  }

  private environment(context: SignContext): NodeJS.ProcessEnv {
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const name of ['TUFKIT_ROLE', 'TUFKIT_KEYID', 'TUFKIT_KEYTYPE', 'TUFKIT_SCHEME', 'TUFKIT_PUBLIC_KEY']) delete env[name];
    if (context.role !== undefined) env.TUFKIT_ROLE = context.role;
    if (this.key) {
      env.TUFKIT_KEYID = this.key.keyid;
      env.TUFKIT_KEYTYPE = this.key.keytype;
      env.TUFKIT_SCHEME = this.key.scheme;
      env.TUFKIT_PUBLIC_KEY = this.key.keyval.public;
    }
    return env;
  }

  async sign(data: Uint8Array, context: SignContext = {}): Promise<Uint8Array> {
    const output = await this.run(data, context);
    if (!this.key) return decodeSignature(output, this.what);
    const sig = signatureFor(this.key, decodeSignature(output, this.what), this.what);
    let ok: boolean;
    try {
      ok = this.key.verify(Buffer.from(sig).toString('hex'), data);
    } catch (e) {
      throw new KeyError(`${this.what}: key ${this.key.keyid.slice(0, 12)}… cannot verify: ${(e as Error).message}`);
    }
    if (!ok) {
      throw new KeyError(`${this.what} printed a signature that does not verify with key ${this.key.keyid.slice(0, 12)}… (${this.key.scheme})${context.role ? ` over role "${context.role}"` : ''}`);
    }
    return sig;
  }

  private run(data: Uint8Array, context: SignContext): Promise<Buffer> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    const maxOutput = this.options.maxOutputBytes ?? 64 * 1024;
    const what = this.what;
    return new Promise<Buffer>((resolve, reject) => {
      const child = spawn(this.command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'], env: this.environment(context) });
      const out: Buffer[] = [];
      let outLength = 0;
      let err = '';
      let failure: KeyError | undefined;
      const fail = (e: KeyError): void => {
        failure ??= e;
        child.kill('SIGKILL');
      };
      const timer = setTimeout(() => fail(new KeyError(`${what} did not finish within ${timeoutMs / 1000} s`)), timeoutMs);
      child.stdout.on('data', (chunk: Buffer) => {
        outLength += chunk.length;
        if (outLength > maxOutput) fail(new KeyError(`${what} printed more than ${maxOutput} bytes`));
        else out.push(chunk);
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (err.length < STDERR_KEEP) err += chunk.toString('utf8');
      });
      // A command that exits without reading all of stdin is judged by its exit status, not by EPIPE.
      child.stdin.on('error', () => undefined);
      child.on('error', (e) => fail(new KeyError(`${what} could not be started: ${e.message}`)));
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        if (failure) return reject(failure);
        if (code !== 0) {
          const line = err.split('\n').find((l) => l.trim() !== '')?.trim();
          return reject(new KeyError(`${what} failed (${signal ? `signal ${signal}` : `exit status ${code}`})${line ? `: ${line}` : ''}`));
        }
        resolve(Buffer.concat(out));
      });
      child.stdin.end(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
    });
  }
}

/** Hex text (even length, optional surrounding whitespace) or else the raw bytes. */
export function decodeSignature(output: Buffer, what: string): Uint8Array {
  const text = output.toString('latin1').trim();
  if (text.length > 0 && text.length % 2 === 0 && /^[0-9a-fA-F]+$/.test(text)) return new Uint8Array(Buffer.from(text, 'hex'));
  if (output.length === 0 || text.length === 0) throw new KeyError(`${what} printed no signature`);
  return new Uint8Array(output);
}

/** The signature as metadata stores it for `key`'s scheme (ECDSA: DER), or a KeyError saying what is wrong with it. */
export function signatureFor(key: Key, sig: Uint8Array, what: string): Uint8Array {
  const field = ECDSA_FIELD_BYTES[key.scheme];
  if (key.scheme === 'ed25519') {
    if (sig.length !== 64) throw new KeyError(`${what} printed ${sig.length} bytes; an ed25519 signature is 64 bytes (or 128 hex digits)`);
    return sig;
  }
  if (field !== undefined) {
    if (isDerSignature(sig)) return sig;
    if (sig.length === 2 * field) return rawToDer(sig.subarray(0, field), sig.subarray(field));
    throw new KeyError(`${what} printed ${sig.length} bytes that are neither a DER ECDSA signature nor raw r||s of ${2 * field} bytes (${key.scheme})`);
  }
  if (key.keytype === 'rsa') {
    let modulusBytes: number | undefined;
    try {
      modulusBytes = Math.ceil((createPublicKey(key.keyval.public).asymmetricKeyDetails?.modulusLength ?? 0) / 8) || undefined;
    } catch {
      modulusBytes = undefined; // the key itself is checked when the signature is verified
    }
    if (modulusBytes !== undefined && sig.length !== modulusBytes) throw new KeyError(`${what} printed ${sig.length} bytes; an RSA signature of this key is ${modulusBytes} bytes`);
  }
  return sig;
}

/** Whether `sig` is exactly one DER SEQUENCE of two positive INTEGERs (short-form lengths: P-256 and P-384 fit). */
function isDerSignature(sig: Uint8Array): boolean {
  if (sig.length < 8 || sig[0] !== 0x30 || sig[1] !== sig.length - 2) return false;
  let at = 2;
  for (let i = 0; i < 2; i++) {
    if (sig[at] !== 0x02) return false;
    const len = sig[at + 1]!;
    if (len === 0 || len > 0x7f || at + 2 + len > sig.length) return false;
    at += 2 + len;
  }
  return at === sig.length;
}

function derInteger(bytes: Uint8Array): Buffer {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const body = bytes.subarray(start);
  const pad = body[0]! & 0x80 ? [0] : [];
  return Buffer.from([0x02, body.length + pad.length, ...pad, ...body]);
}

/** Raw r||s (IEEE P1363, as PKCS#11 returns it) as the DER SEQUENCE TUF metadata holds. */
export function rawToDer(r: Uint8Array, s: Uint8Array): Uint8Array {
  const body = Buffer.concat([derInteger(r), derInteger(s)]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30, body.length]), body]));
}
