import { describe, expect, it } from 'vitest';
import { filesLine, startProgress, type ProgressStream } from '../../cli/progress.js';

// The progress line the CLI draws on stderr during long work, with a stand-in terminal (the CLI
// test in test/repository/cli-ux.test.ts checks that nothing is drawn when stderr is not one).

function fakeStream(isTTY: boolean, columns = 60): ProgressStream & { written: string[] } {
  const written: string[] = [];
  return { isTTY, columns, written, write: (t: string) => written.push(t) > 0 };
}

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => void (t += ms) };
}

describe('progress line', () => {
  it('on a terminal: nothing before the delay, then redraws at most every interval, cleared at the end', () => {
    const stream = fakeStream(true);
    const c = clock();
    const p = startProgress({ stream, delayMs: 500, intervalMs: 100, now: c.now });
    p.update('early');
    c.advance(499);
    p.update('still early');
    expect(stream.written).toEqual([]);
    c.advance(1);
    p.update(() => filesLine('hashed', { done: 1234, total: 20000, bytes: 1_234_567 }));
    c.advance(50);
    p.update('too soon');
    c.advance(50);
    p.update('second');
    p.done();
    expect(stream.written).toEqual([
      '\r\x1b[Ktufkit: hashed 1,234 of 20,000 files, 1.2 MB',
      '\r\x1b[Ktufkit: second',
      '\r\x1b[K',
    ]);
  });

  it('a line wider than the terminal is cut short, so \\r still reaches its start', () => {
    const stream = fakeStream(true, 20);
    const p = startProgress({ stream, delayMs: 0 });
    p.update('x'.repeat(50));
    expect(stream.written).toEqual([`\r\x1b[Ktufkit: ${'x'.repeat(10)}…`]);
  });

  it('work that ends before the delay leaves nothing to clear', () => {
    const stream = fakeStream(true);
    const p = startProgress({ stream });
    p.update('quick');
    p.done();
    expect(stream.written).toEqual([]);
  });

  it('draws nothing when the stream is not a terminal, or with --json', () => {
    for (const [stream, json] of [[fakeStream(false), false], [fakeStream(true), true]] as const) {
      const p = startProgress({ stream, json, delayMs: 0 });
      p.update('x');
      p.done();
      expect(stream.written).toEqual([]);
    }
  });
});
