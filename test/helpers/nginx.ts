import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';

// What the nginx test and the serve bench share: finding Debian's nginx, and a free port for it.

/** The nginx command, or an error saying how to install it (`who` needs it). */
export function nginxBinary(who: string): string {
  for (const candidate of ['nginx', '/usr/sbin/nginx']) {
    if (spawnSync(candidate, ['-v'], { stdio: 'ignore' }).status === 0) return candidate;
  }
  throw new Error(`${who} needs nginx, which is not installed: apt-get install nginx (Debian/Ubuntu)`);
}

/** A TCP port on 127.0.0.1 free a moment ago. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}
