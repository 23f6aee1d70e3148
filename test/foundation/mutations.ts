import { memberRange, type Rng } from './helpers.js';

// Mutations of signed metadata files for the fuzzers: each returns [what it did, the new bytes].

// ---- byte-level mutations --------------------------------------------------------------------

export function byteMutation(r: Rng, bytes: Buffer): [string, Buffer] {
  const n = bytes.length;
  const p = r.int(n);
  switch (r.int(6)) {
    case 0: {
      const out = Buffer.from(bytes);
      out[p] = r.int(256);
      return [`byte ${p} := ${out[p]}`, out];
    }
    case 1: {
      const out = Buffer.from(bytes);
      out[p] = out[p]! ^ (1 << r.int(8));
      return [`bit flip at ${p}`, out];
    }
    case 2:
      return [`truncate to ${p}`, bytes.subarray(0, p)];
    case 3: {
      const insert = Buffer.from(Array.from({ length: 1 + r.int(4) }, () => r.pick([0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x5d, 0x30, 0x2e, 0x65, 0x20, 0x00, 0xff, 0xc3, r.int(256)])));
      return [`insert ${insert.toString('hex')} at ${p}`, Buffer.concat([bytes.subarray(0, p), insert, bytes.subarray(p)])];
    }
    case 4: {
      const len = 1 + r.int(16);
      return [`delete ${len} at ${p}`, Buffer.concat([bytes.subarray(0, p), bytes.subarray(p + len)])];
    }
    default: {
      const len = 1 + r.int(24);
      return [`duplicate ${len} at ${p}`, Buffer.concat([bytes.subarray(0, p + len), bytes.subarray(p)])];
    }
  }
}

// ---- JSON-aware mutations --------------------------------------------------------------------

type Path = (string | number)[];

function allPaths(v: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix);
  if (Array.isArray(v)) v.forEach((x, i) => allPaths(x, [...prefix, i], out));
  else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) allPaths(x, [...prefix, k], out);
  return out;
}

function parentOf(root: unknown, path: Path): Record<string | number, unknown> {
  let v = root as Record<string | number, unknown>;
  for (const k of path.slice(0, -1)) v = v[k] as Record<string | number, unknown>;
  return v;
}

/** Raw JSON text spliced in where a placeholder string stands, for things JSON.stringify cannot write. */
const RAW: string[] = [
  '1.0',
  '1e5',
  '-0.5',
  '1E2',
  '9007199254740993',
  '-9007199254740993',
  '123456789012345678901234567890',
  '1e400',
  '-0',
  '"\\ud800"',
  '"a\\udc00b"',
  '"\\u0000"',
  '{"a":1,"a":2}',
  '{"x":{"y":1,"\\u0079":2}}',
  '[' + '['.repeat(200) + ']'.repeat(200) + ']',
  '['.repeat(20000) + ']'.repeat(20000),
  '{"a":'.repeat(5000) + '1' + '}'.repeat(5000),
];

function weirdValue(r: Rng): unknown {
  switch (r.int(12)) {
    case 0:
      return null;
    case 1:
      return r.int(2) === 0;
    case 2:
      return r.pick([0, -1, 1, 2, Number.MAX_SAFE_INTEGER, -Number.MAX_SAFE_INTEGER, 2 ** 31, 2 ** 32]);
    case 3:
      return r.pick(['', 'x', '2030-01-01T00:00:00Z', '1.0', 'ed25519', 'ecdsa-sha2-nistp256', 'rsassa-pss-sha256', '00', 'zz', 'root', 'snapshot.json', '../../etc/passwd']);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return r.pick([[1, 2], ['a', 'a'], [null], [{}]]);
    case 7:
      return { keyids: [], threshold: 1 };
    case 8:
      return 'é\u{1f600}'.repeat(1 + r.int(3000));
    case 9:
      return { __proto__: 1, constructor: 2, toString: 3 };
    default:
      return `\u0000RAW${r.int(RAW.length)}\u0000`;
  }
}

export function jsonMutation(r: Rng, bytes: Buffer): [string, Buffer] {
  const root = JSON.parse(bytes.toString('utf8')) as unknown;
  const paths = allPaths(root).filter((p) => p.length > 0);
  const path = r.pick(paths);
  const parent = parentOf(root, path);
  const key = path[path.length - 1]!;
  let what: string;
  switch (r.int(6)) {
    case 0:
    case 1: {
      parent[key] = weirdValue(r);
      what = `replace ${path.join('.')}`;
      break;
    }
    case 2: {
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key];
      what = `delete ${path.join('.')}`;
      break;
    }
    case 3: {
      const target = typeof parent[key] === 'object' && parent[key] !== null && !Array.isArray(parent[key]) ? (parent[key] as Record<string, unknown>) : parent;
      if (Array.isArray(target)) target.push(weirdValue(r));
      else target[r.pick(['x-new', 'custom', 'keyid', 'sig', '_type', 'version', 'paths', 'path_hash_prefixes', 'succinct_roles', 'roles', 'delegations'])] = weirdValue(r);
      what = `add to ${path.join('.')}`;
      break;
    }
    case 4: {
      if (Array.isArray(parent)) {
        parent.push(parent[key]);
        what = `duplicate ${path.join('.')}`;
      } else {
        const value = parent[key];
        delete parent[key];
        parent[`${key}${r.pick(['x', ' ', '\u0000', 'é', ''])}`.toUpperCase()] = value;
        what = `rename ${path.join('.')}`;
      }
      break;
    }
    default: {
      const other = r.pick(paths);
      const otherParent = parentOf(root, other);
      const okey = other[other.length - 1]!;
      if (other.join('\u0000').startsWith(path.join('\u0000')) || path.join('\u0000').startsWith(other.join('\u0000'))) {
        parent[key] = weirdValue(r);
        what = `replace ${path.join('.')}`;
      } else {
        [parent[key], otherParent[okey]] = [otherParent[okey], parent[key]];
        what = `swap ${path.join('.')} and ${other.join('.')}`;
      }
    }
  }
  let text = JSON.stringify(root, null, r.int(2) === 0 ? undefined : 1);
  // Splice raw literals in where placeholders were written.
  text = text.replace(/"\\u0000RAW(\d+)\\u0000"/g, (_, i: string) => RAW[Number(i)]!);
  return [what, Buffer.from(text, 'utf8')];
}

// ---- layout mutations: what a parser of signed metadata must see through ---------------------
// Each keeps the file valid JSON. Whitespace, unknown top-level members, escapes, member order and
// non-ASCII outside `signed` leave its content as it was (verification must still succeed); a
// second `signed` member, a repeated name or a change to a string inside it must not verify.

interface Layout {
  /** [open, close] quote positions of every string. */
  strings: [number, number][];
  /** Positions of `{`, `[`, `,` and `:` outside strings. */
  structural: number[];
}

function layout(text: string): Layout {
  const strings: [number, number][] = [];
  const structural: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      while (text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      strings.push([i, j]);
      i = j;
    } else if ('{[,:'.includes(c)) {
      structural.push(i);
    }
  }
  return { strings, structural };
}

const splice = (text: string, at: number, remove: number, insert: string): string => text.slice(0, at) + insert + text.slice(at + remove);
const escapeChar = (c: string): string => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;

export function layoutMutation(r: Rng, bytes: Buffer): [string, Buffer] {
  const text = bytes.toString('utf8');
  const [startByte, endByte] = memberRange(bytes, 'signed');
  const [start, end] = [bytes.subarray(0, startByte).toString('utf8').length, bytes.subarray(0, endByte).toString('utf8').length];
  const signedText = text.slice(start, end);
  const { strings, structural } = layout(text);
  const inSigned = strings.filter(([o, c]) => o > start && c < end);
  let what: string;
  let out: string;
  switch (r.int(11)) {
    case 0: {
      const at = r.pick(structural);
      const ws = Array.from({ length: 1 + r.int(3) }, () => r.pick([' ', '\n', '\t', '\r'])).join('');
      [what, out] = [`whitespace ${JSON.stringify(ws)} after ${at}${at > start && at < end ? ' (in signed)' : ''}`, splice(text, at + 1, 0, ws)];
      break;
    }
    case 1: {
      const value = r.pick(['1', '"x"', '{"signed":{}}', '["signed"]', '{"a":{"b":[null,true]}}', '"\\"signed\\""', '"\u00e9\u{1f600}"']);
      const member = `"${r.pick(['x-fuzz', 'signed_', 'Signed', 'é'])}":${value}`;
      const first = text.indexOf('{');
      const last = text.lastIndexOf('}');
      [what, out] = r.int(2) === 0 ? [`unknown member ${member} first`, splice(text, first + 1, 0, `${member},`)] : [`unknown member ${member} last`, splice(text, last, 0, `,${member}`)];
      break;
    }
    case 2: {
      const other = r.pick([signedText, '{}', signedText.replace(/"version":\s*(\d+)/, (_, v: string) => `"version":${Number(v) + 1}`)]);
      const first = text.indexOf('{');
      const last = text.lastIndexOf('}');
      [what, out] = r.int(2) === 0 ? ['second signed member first', splice(text, first + 1, 0, `"signed":${other},`)] : ['second signed member last', splice(text, last, 0, `,"signed":${other}`)];
      break;
    }
    case 3: {
      const [o, c] = r.pick(inSigned);
      const at = o + 1 + r.int(Math.max(1, c - o - 1));
      const ch = text[at]!;
      if (at >= c || ch === '\\' || text[at - 1] === '\\') return [`unchanged (no character at ${at})`, bytes];
      [what, out] = [`escape ${JSON.stringify(ch)} at ${at} in signed`, splice(text, at, 1, escapeChar(ch))];
      break;
    }
    case 4: {
      const [o] = r.pick(inSigned);
      const ch = r.pick(['é', '\u{1f600}', '\u00a0', 'A']);
      [what, out] = [`insert ${JSON.stringify(ch)} into a string in signed at ${o + 1}`, splice(text, o + 1, 0, ch)];
      break;
    }
    case 5: {
      const name = strings.find(([o, c]) => c < start && text.slice(o, c + 1) === '"signed"' && text.lastIndexOf('"signed"', start) === o);
      if (!name) return ['unchanged (no signed name)', bytes];
      [what, out] = ['signed name escaped', splice(text, name[0] + 1, 1, escapeChar('s'))];
      break;
    }
    case 6: {
      const obj = JSON.parse(text) as Record<string, unknown>;
      const signed = obj.signed as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(signed).reverse());
      [what, out] = ['members of signed reversed', splice(text, start, end - start, JSON.stringify(reordered))];
      break;
    }
    case 7: {
      const obj = JSON.parse(text) as Record<string, unknown>;
      const reordered = Object.fromEntries(Object.entries(obj).reverse());
      [what, out] = ['top-level members reversed, signed kept as written', JSON.stringify(reordered).replace(JSON.stringify(obj.signed), () => signedText)];
      break;
    }
    case 8: {
      const ints = [...signedText.matchAll(/:(-?\d+)[,}\]]/g)];
      if (ints.length === 0) return ['unchanged (no integer)', bytes];
      const m = r.pick(ints);
      const at = start + m.index + 1;
      const form = r.pick([`${m[1]}.0`, `${m[1]}e0`, `${m[1]}E+0`, `0${m[1]}`, `-0`, `${m[1]}0000000000000000`]);
      [what, out] = [`integer ${m[1]} at ${at} written ${form}`, splice(text, at, m[1]!.length, form)];
      break;
    }
    case 9: {
      // A repeated name right after the first: where canonical order would put it.
      const members = [...signedText.matchAll(/"(_type|expires|spec_version|version)":\s*("[^"]*"|\d+)/g)];
      const m = r.pick(members);
      const at = start + m.index + m[0].length;
      const value = r.pick([m[2]!, '"2099-01-01T00:00:00Z"', '2']);
      [what, out] = [`${m[1]} repeated in signed as ${value}`, splice(text, at, 0, `,"${m[1]}":${value}`)];
      break;
    }
    default: {
      // Canonical JSON of a whole file: `signed` kept, only the members around it change form.
      const obj = JSON.parse(text) as Record<string, unknown>;
      const pretty = JSON.stringify({ ...obj, signed: 0 }, null, r.int(3)).replace(/"signed": ?0/, () => `"signed":${signedText}`);
      [what, out] = ['members around signed re-written', pretty];
    }
  }
  return [what, Buffer.from(out, 'utf8')];
}
