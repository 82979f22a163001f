// The demo data set: DEMO_ENTRY_COUNT deterministic records, e0001 … e1200,
// served by demo/server.ts. Each record comes from a PRNG seeded by its entry
// number alone (no Math.random, no clock), so an id gives byte-identical JSON
// in every process and on every run.
//
// Record shape (demo/schema.json): {id, title, body, author, tags, updatedAt,
// related}. Bodies are Markdown (headings, paragraphs, lists, links, code).
// Body sizes: most entries 200 B – 4 KB; every 10th 8 – 40 KB; every 50th
// 100 – 200 KB (largeDemoIds()). `related` holds 0–6 ids of other valid
// entries, so reads through a relation never land on a broken record by chance.
//
// Eight records are broken on purpose, each violating the schema one way:
//   e0013  title missing                         (required)
//   e0099  title of 240 characters               (maxLength 200)
//   e0257  related holds "e0256/history"         (pattern: slash)
//   e0404  updatedAt is "last Tuesday"           (format date-time)
//   e0512  body is the number 512                (type string)
//   e0777  tags are ["news", "news"]             (uniqueItems)
//   e0901  related holds 101 ids                 (maxItems 100)
//   e1111  author is ""                          (minLength 1)

export const DEMO_ENTRY_COUNT = 1200;

type Fields = Record<string, unknown>;

const BROKEN: Record<string, (r: Fields, rand: () => number) => void> = {
  e0013: (r) => delete r.title,
  e0099: (r, rand) => (r.title = sentence(rand, 60).slice(0, 240).padEnd(240, '.')),
  e0257: (r) => (r.related = ['e0256/history', 'e0258']),
  e0404: (r) => (r.updatedAt = 'last Tuesday'),
  e0512: (r) => (r.body = 512),
  e0777: (r) => (r.tags = ['news', 'news']),
  e0901: (r) => (r.related = Array.from({ length: 101 }, (_, i) => idOf(i + 1))),
  e1111: (r) => (r.author = ''),
};

/** The standard small seeded PRNG: 32-bit state, uniform floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function demoIds(): string[] {
  return Array.from({ length: DEMO_ENTRY_COUNT }, (_, i) => idOf(i + 1));
}

export function invalidDemoIds(): string[] {
  return Object.keys(BROKEN);
}

/** Ids whose body is at least 100 KB: every 50th entry (none of them broken). */
export function largeDemoIds(): string[] {
  return demoIds().filter((_, i) => (i + 1) % 50 === 0);
}

/** The record for an id as a fresh object, or undefined if the id is not in the set. */
export function demoRecord(id: string): Fields | undefined {
  const json = demoRecordJson(id);
  return json === undefined ? undefined : (JSON.parse(json) as Fields);
}

// Generated on first request and kept: at most DEMO_ENTRY_COUNT strings,
// about 11 MB when every entry has been asked for.
const jsonCache = new Map<number, { json: string; keys: string }>();

function generated(id: string): { json: string; keys: string } | undefined {
  const n = numberOf(id);
  if (n === undefined) return undefined;
  let made = jsonCache.get(n);
  if (made === undefined) {
    const record = generate(n);
    const tags = Array.isArray(record.tags) ? [...new Set(record.tags as string[])] : [];
    made = { json: JSON.stringify(record), keys: [`author-${String(record.author).toLowerCase().replaceAll(/[^a-z]+/g, '-')}`, ...tags].join(' ') };
    jsonCache.set(n, made);
  }
  return made;
}

/** The record serialised as the server sends it; memoised per id. */
export function demoRecordJson(id: string): string | undefined {
  return generated(id)?.json;
}

/** The record's cache tags, as the server sends them (Surrogate-Key): its author's and its own tags. */
export function demoSurrogateKeys(id: string): string | undefined {
  return generated(id)?.keys;
}

function idOf(n: number): string {
  return `e${String(n).padStart(4, '0')}`;
}

function numberOf(id: string): number | undefined {
  const m = /^e(\d{4})$/.exec(id);
  const n = m ? Number(m[1]) : 0;
  return n >= 1 && n <= DEMO_ENTRY_COUNT ? n : undefined;
}

function generate(n: number): Fields {
  const id = idOf(n);
  // Spread the entry numbers so neighbouring entries don't get similar streams.
  const rand = mulberry32(Math.imul(n, 0x9e3779b1) ^ 0x2545f491);
  const title = titleCase(sentence(rand, 2 + int(rand, 6)));
  const target =
    n % 50 === 0 ? 100_000 + int(rand, 95_000) : n % 10 === 0 ? 8_000 + int(rand, 32_000) : 200 + int(rand, 3_800);
  const record: Fields = {
    id,
    title,
    body: markdown(rand, title, target),
    author: pick(rand, AUTHORS),
    tags: sample(rand, TAGS, int(rand, 6)),
    updatedAt: new Date(Date.UTC(2023, 0, 1) + int(rand, 730 * 86_400) * 1000).toISOString(),
    related: relatedIds(rand, n),
  };
  BROKEN[id]?.(record, rand);
  return record;
}

function relatedIds(rand: () => number, self: number): string[] {
  const wanted = int(rand, 7);
  const ids = new Set<string>();
  while (ids.size < wanted) {
    const other = 1 + int(rand, DEMO_ENTRY_COUNT);
    const id = idOf(other);
    if (other !== self && !(id in BROKEN)) ids.add(id);
  }
  return [...ids];
}

// Blocks are appended until the body reaches `target` bytes (all ASCII), so
// a body ends at most one block (< 2 KB) past its target.
function markdown(rand: () => number, title: string, target: number): string {
  const blocks = [`# ${title}`, paragraph(rand)];
  let size = blocks[0]!.length + blocks[1]!.length;
  while (size < target) {
    const block = nextBlock(rand);
    blocks.push(block);
    size += block.length + 2;
  }
  return blocks.join('\n\n') + '\n';
}

function nextBlock(rand: () => number): string {
  const roll = rand();
  if (roll < 0.15) return `## ${titleCase(sentence(rand, 2 + int(rand, 4)))}`;
  if (roll < 0.55) return paragraph(rand);
  if (roll < 0.7) return list(rand, rand() < 0.5 ? '- ' : '1. ');
  if (roll < 0.82) return codeBlock(rand);
  if (roll < 0.9) return `> ${capitalise(sentence(rand, 8 + int(rand, 12)))}.`;
  const other = idOf(1 + int(rand, DEMO_ENTRY_COUNT));
  return `See [${sentence(rand, 2)}](https://example.org/${pick(rand, WORDS)}/${int(rand, 1000)}) and [${other}](/entries/${other}).`;
}

function paragraph(rand: () => number): string {
  const sentences: string[] = [];
  for (let i = 2 + int(rand, 5); i > 0; i--) {
    const words = sentence(rand, 5 + int(rand, 10)).split(' ');
    const at = int(rand, words.length);
    const roll = rand();
    if (roll < 0.2) words[at] = `**${words[at]}**`;
    else if (roll < 0.35) words[at] = `\`${words[at]}()\``;
    else if (roll < 0.5) words[at] = `[${words[at]}](https://example.org/${words[at]})`;
    sentences.push(`${capitalise(words.join(' '))}.`);
  }
  return sentences.join(' ');
}

function list(rand: () => number, marker: string): string {
  return Array.from({ length: 2 + int(rand, 5) }, () => marker + sentence(rand, 3 + int(rand, 8))).join('\n');
}

function codeBlock(rand: () => number): string {
  const lines = Array.from({ length: 2 + int(rand, 8) }, () => {
    const [a, b, c] = [pick(rand, WORDS), pick(rand, WORDS), pick(rand, WORDS)];
    return `const ${a}${titleCase(b)} = ${c}("${pick(rand, WORDS)}", ${int(rand, 10_000)});`;
  });
  return '```ts\n' + lines.join('\n') + '\n```';
}

function sentence(rand: () => number, words: number): string {
  return Array.from({ length: words }, () => pick(rand, WORDS)).join(' ');
}

function capitalise(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function titleCase(text: string): string {
  return text.replace(/\b[a-z]/g, (c) => c.toUpperCase());
}

function int(rand: () => number, below: number): number {
  return Math.floor(rand() * below);
}

function pick<T>(rand: () => number, from: readonly T[]): T {
  return from[int(rand, from.length)]!;
}

function sample<T>(rand: () => number, from: readonly T[], count: number): T[] {
  const chosen = new Set<T>();
  while (chosen.size < count) chosen.add(pick(rand, from));
  return [...chosen];
}

const WORDS = `amber anchor archive atlas beacon bridge canyon cedar cipher circuit cobalt
compass delta drift ember engine falcon fern fjord forge garden glacier granite harbor
harvest horizon island ivory journal kernel lantern ledger lemon marble meadow mirror
nebula north oak orbit paper pepper pilot pixel quartz quiet rapid raven river saddle
signal silver spring stone summit tide timber tunnel valley velvet vessel willow window
winter yarrow zenith`.split(/\s+/);

const AUTHORS = [
  'Ada Okafor', 'Bruno Lindqvist', 'Chen Wei', 'Dara Nolan', 'Elif Yilmaz', 'Femi Adeyemi',
  'Greta Sousa', 'Hiro Tanaka', 'Ines Moreau', 'Jonas Berg', 'Kavya Rao', 'Luis Ortega',
];

const TAGS = [
  'news', 'guide', 'reference', 'howto', 'release', 'security', 'performance', 'design',
  'api', 'database', 'testing', 'operations', 'frontend', 'backend', 'mail', 'cache',
];
