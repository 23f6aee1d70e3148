import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { freePort, nginxBinary } from '../../helpers/nginx.js';

// The Debian nginx package serving a published folder on 127.0.0.1 with the caching rules
// `tufkit publish` wrote (OUT/tufkit-nginx.conf), and an access log of what it sent to whom.

export interface AccessEntry {
  status: number;
  /** $bytes_sent: everything nginx sent for the request, headers included. */
  bytesSent: number;
  /** $body_bytes_sent: the body alone. */
  bodyBytes: number;
  uri: string;
}

export interface Nginx {
  url: string;
  version: string;
  workers: number;
  /** The access log's entries written since the previous call. */
  takeLog(): Promise<AccessEntry[]>;
  /** User + system CPU time of nginx's worker processes so far (from /proc). */
  workerCpuMs(): Promise<number>;
  stop(): Promise<void>;
}


/** Fields 14 and 15 of /proc/PID/stat (utime, stime) in ms; the name field may hold spaces, so split after its ')'. */
async function cpuMsOf(pid: number): Promise<number> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // USER_HZ is 100 on Linux
}

async function childrenOf(ppid: number): Promise<number[]> {
  const pids: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8');
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === ppid) pids.push(Number(name));
    } catch {
      // the process ended while we looked
    }
  }
  return pids;
}

/**
 * Starts nginx in the foreground (daemon off) on a free port of 127.0.0.1 with `root` as the
 * document root and `root/tufkit-nginx.conf` included, its pid, logs and temp folders under `run`.
 */
export async function startNginx(root: string, rulesFile: string, run: string, workers: number): Promise<Nginx> {
  const bin = nginxBinary('the serve bench');
  const version = (spawnSync(bin, ['-v'], { encoding: 'utf8' }).stderr ?? '').trim().replace(/^nginx version: /, '');
  const port = await freePort();
  await mkdir(run, { recursive: true });
  const conf = join(run, 'nginx.conf');
  const accessLog = join(run, 'access.log');
  const temp = ['client_body', 'proxy', 'fastcgi', 'uwsgi', 'scgi'].map((t) => `  ${t}_temp_path ${join(run, t)};`);
  await writeFile(
    conf,
    [
      // nginx started by root runs its workers as "nobody", who cannot enter the 0700 temp folder.
      process.getuid?.() === 0 ? 'user root;' : '',
      `worker_processes ${workers};`,
      'daemon off;',
      `pid ${join(run, 'nginx.pid')};`,
      `error_log ${join(run, 'error.log')};`,
      'events { worker_connections 4096; }',
      'http {',
      "  log_format tufkit_bench '$status $bytes_sent $body_bytes_sent $uri';",
      // No buffer: each line is written as its request ends, so a phase's log is complete when it ends.
      `  access_log ${accessLog} tufkit_bench;`,
      '  keepalive_requests 100000;',
      ...temp,
      '  types { application/json json; }',
      '  default_type application/octet-stream;',
      '  server {',
      `    listen 127.0.0.1:${port};`,
      `    root ${root};`,
      `    include ${rulesFile};`,
      '  }',
      '}',
      '',
    ].join('\n'),
  );
  await writeFile(accessLog, '');
  const child: ChildProcess = spawn(bin, ['-p', run, '-e', join(run, 'error.log'), '-c', conf], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const url = `http://127.0.0.1:${port}`;
  // nginx runs in the foreground, as our child: a bench that exits without stop() must not leave it running.
  const killOnExit = (): void => void child.kill('SIGTERM');
  process.once('exit', killOnExit);
  const stop = async (): Promise<void> => {
    process.off('exit', killOnExit);
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    await exited;
  };
  try {
    for (let i = 0; ; i++) {
      if (child.exitCode !== null) throw new Error(`nginx exited (${child.exitCode}): ${stderr}`);
      try {
        await (await fetch(`${url}/metadata/timestamp.json`)).arrayBuffer();
        break;
      } catch {
        if (i > 100) throw new Error(`nginx did not answer on ${url}: ${stderr}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  } catch (e) {
    await stop();
    throw e;
  }
  let logOffset = 0;
  return {
    url,
    version,
    workers,
    async takeLog() {
      const all = await readFile(accessLog);
      const text = all.subarray(logOffset).toString('utf8');
      // Only whole lines: a line still being written is taken next time.
      const end = text.lastIndexOf('\n') + 1;
      logOffset += Buffer.byteLength(text.slice(0, end));
      return text
        .slice(0, end)
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [status, bytesSent, bodyBytes, uri] = line.split(' ');
          return { status: Number(status), bytesSent: Number(bytesSent), bodyBytes: Number(bodyBytes), uri: uri ?? '' };
        });
    },
    async workerCpuMs() {
      let sum = 0;
      for (const pid of await childrenOf(child.pid!)) sum += await cpuMsOf(pid).catch(() => 0);
      return sum;
    },
    stop,
  };
}
