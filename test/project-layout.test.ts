// The project's shape, read from its source files: folders import in one
// direction (README, "Where things are"), no file grows past 400 lines, each
// file says first what it is for, and the entry points the design names are
// where it names them.
import { expect } from 'chai';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const ROOT = normalize(join(dirname(new URL(import.meta.url).pathname), '..', '..'));
const FOLDERS = ['shared', 'db', 'workers', 'server', 'demo', 'bench', 'test'];
const MAX_LINES = 400;

function sourceFiles(dir: string): string[] {
  return readdirSync(join(ROOT, dir)).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(join(ROOT, path)).isDirectory()) return sourceFiles(path);
    return name.endsWith('.ts') ? [path] : [];
  });
}

const files = FOLDERS.flatMap(sourceFiles);
const text = new Map(files.map((f) => [f, readFileSync(join(ROOT, f), 'utf8')]));

/** The project files a file imports (relative specifiers, as .ts paths from the root). */
function importsOf(file: string): string[] {
  const found: string[] = [];
  const pattern = /(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s+'(\.[^']+)'|(?:^|\n)\s*import\s+'(\.[^']+)'|import\('(\.[^']+)'\)/g;
  for (const m of (text.get(file) as string).matchAll(pattern)) {
    const spec = (m[1] ?? m[2] ?? m[3]) as string;
    found.push(relative(ROOT, join(ROOT, dirname(file), spec)).replace(/\.js$/, '.ts'));
  }
  return found;
}

const top = (path: string) => path.split('/')[0] as string;
/** A folder of server/ (its files at the top count as `server`). */
const serverPart = (path: string) => {
  const parts = path.split('/');
  return parts.length > 2 ? `server/${parts[1]}` : 'server';
};

const inService = (file: string) => ['shared', 'db', 'workers', 'server', 'demo'].includes(top(file));

function violations(from: (file: string) => boolean, allowed: (target: string) => boolean): string[] {
  return files.filter(from).flatMap((f) => importsOf(f).filter((t) => !allowed(t)).map((t) => `${f} imports ${t}`));
}

describe('the project layout', () => {
  it('has the entry points the design names: workers/updater.ts (the pool task) and workers/mailer.ts (the mail child process)', () => {
    expect(existsSync(join(ROOT, 'workers/updater.ts'))).to.equal(true);
    expect(existsSync(join(ROOT, 'workers/mailer.ts'))).to.equal(true);
    expect(text.get('workers/mail/launcher.ts')).to.include("new URL('../mailer.js', import.meta.url)");
  });

  it('keeps shared/ free of the rest: it imports only shared/', () => {
    expect(violations((f) => top(f) === 'shared', (t) => top(t) === 'shared')).to.deep.equal([]);
  });

  it('keeps db/ to itself and shared/', () => {
    expect(violations((f) => top(f) === 'db', (t) => ['db', 'shared'].includes(top(t)))).to.deep.equal([]);
  });

  it('keeps workers/ off server/: what both sides need lives in shared/', () => {
    expect(violations((f) => top(f) === 'workers', (t) => ['workers', 'db', 'shared'].includes(top(t)))).to.deep.equal([]);
  });

  it('keeps the running service off the benchmarks and the tests', () => {
    expect(violations(inService, (t) => !['bench', 'test'].includes(top(t)))).to.deep.equal([]);
  });

  it('keeps freshness/ from speaking HTTP: it imports nothing of server/http/', () => {
    expect(violations((f) => f.startsWith('server/freshness/'), (t) => !t.startsWith('server/http/'))).to.deep.equal([]);
  });

  it('has no cycle between the folders of server/', () => {
    const edges = new Map<string, Set<string>>();
    for (const file of files.filter((f) => top(f) === 'server')) {
      for (const target of importsOf(file).filter((t) => top(t) === 'server')) {
        const [a, b] = [serverPart(file), serverPart(target)];
        if (a !== b) edges.set(a, (edges.get(a) ?? new Set()).add(b));
      }
    }
    const cycles = new Set<string>();
    const visit = (node: string, path: string[]) => {
      for (const next of edges.get(node) ?? []) {
        if (path.includes(next)) cycles.add([...path.slice(path.indexOf(next)), next].join(' → '));
        else visit(next, [...path, next]);
      }
    };
    for (const node of edges.keys()) visit(node, [node]);
    expect([...cycles]).to.deep.equal([]);
  });

  it(`has no source file past ${MAX_LINES} lines`, () => {
    const long = files.filter((f) => (text.get(f) as string).split('\n').length > MAX_LINES);
    expect(long.map((f) => `${f}: ${(text.get(f) as string).split('\n').length} lines`)).to.deep.equal([]);
  });

  it('says at the top of every source file what it is for', () => {
    const silent = files.filter((f) => !/^(#!.*\n)?\/\/ \S/.test(text.get(f) as string));
    expect(silent).to.deep.equal([]);
  });
});
