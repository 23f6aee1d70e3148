import { InvalidArgumentError } from 'commander';

// Option parsers shared by every command group (commander reports their errors as usage errors).

export function positiveInt(what: string): (v: string) => number {
  return (v: string) => {
    if (!/^\d{1,9}$/.test(v) || Number(v) < 1) throw new InvalidArgumentError(`${what} must be a whole number of at least 1`);
    return Number(v);
  };
}

/** Repeatable options collect into an array. */
export function collect(v: string, acc: string[] = []): string[] {
  return [...acc, v];
}
