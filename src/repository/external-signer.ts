import { spawn } from 'node:child_process';
import type { PublicKeyInfo } from '../crypto/verify.js';
import { KeyError } from '../errors.js';
import type { Key } from '../models/key.js';

// A signer backed by another program (an HSM, a cloud KMS, a hardware token): tufkit writes the
// bytes to sign on the program's stdin and reads the signature from its stdout, either as hex
// text (whitespace around it is ignored) or as raw bytes.

export interface ExternalSignerOptions {
  /** Kill the command after this long (default 120 s: a hardware token may wait for a touch). */
  timeoutMs?: number;
  /** Largest signature accepted on stdout (default 64 KiB). */
  maxOutputBytes?: number;
}

const STDERR_KEEP = 4096;

/**
 * Runs `command` through the shell for every signature. `key` is the public key it signs for;
 * without it `keyid` is empty and the repository finds the key by checking the signature against
 * every key authorised for the role.
 */
export class ExternalSigner {
  readonly keyid: string;
  readonly publicKey: PublicKeyInfo | undefined;

  constructor(
    readonly command: string,
    key?: Key,
    private readonly options: ExternalSignerOptions = {},
  ) {
    if (command.trim() === '') throw new KeyError('the signer command is empty');
    this.keyid = key?.keyid ?? '';
    this.publicKey = key ? (key.toJSON() as unknown as PublicKeyInfo) : undefined;
  }

  sign(data: Uint8Array): Promise<Uint8Array> {
    const timeoutMs = this.options.timeoutMs ?? 120_000;
    const maxOutput = this.options.maxOutputBytes ?? 64 * 1024;
    const what = `signer command "${this.command}"`;
    return new Promise<Uint8Array>((resolve, reject) => {
      const child = spawn(this.command, { shell: true, stdio: ['pipe', 'pipe', 'pipe'] });
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
        try {
          resolve(decodeSignature(Buffer.concat(out), what));
        } catch (e) {
          reject(e as Error);
        }
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
