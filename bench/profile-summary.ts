/**
 * Summarises V8 CPU profiles (.cpuprofile) of the service: the functions with the most
 * self time, and self time by category. Native frames (no script) and Node's internals
 * are charged to the nearest caller from a package or from src/; what has none (socket
 * reads, timers) stays "node core". Several files (the workers of one run) are merged.
 *
 *   node -r @swc-node/register bench/profile-summary.ts a.cpuprofile [b.cpuprofile ...] [--top 15]
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

const CATEGORIES: [RegExp, string][] = [
  [/node_modules\/(fastify|@fastify\/[^/]+|find-my-way|avvio|light-my-request|fast-json-stringify|secure-json-parse|fast-querystring|toad-cache|abstract-logging|process-warning|rfdc|fast-decode-uri-component|@as-integrations\/fastify)\//, 'HTTP (Fastify)'],
  [/node_modules\/(@nestjs\/(core|common|platform-fastify|terminus|schedule)|rxjs|reflect-metadata|iterare|tslib|uid|fast-safe-stringify)\//, 'Nest'],
  [/node_modules\/(@nestjs\/(graphql|apollo))\//, 'Nest GraphQL'],
  [/node_modules\/(@apollo\/[^/]+|@graphql-tools\/[^/]+|@whatwg-node\/[^/]+|loglevel|negotiator|whatwg-mimetype)\//, 'Apollo Server'],
  [/node_modules\/(graphql|@escape\.tech\/[^/]+|graphql-type-json)\//, 'graphql-js + limits'],
  [/node_modules\/(@prisma\/[^/]+|pg|pg-[^/]+|postgres-[^/]+|pgpass|split2)\/|src\/generated\/prisma\/|^wasm:\/\//, 'Prisma + pg'],
  [/node_modules\/(pino|pino-[^/]+|nestjs-pino|sonic-boom|fast-redact|@pinojs\/[^/]+|thread-stream|on-exit-leak-free|atomic-sleep|quick-format-unescaped|safe-stable-stringify|fast-copy|colorette|dateformat|pump)\/|src\/common\/logging\//, 'logging'],
  [/node_modules\/(class-validator|class-transformer|validator|libphonenumber-js)\//, 'validation'],
  [/node_modules\/prom-client\/|src\/metrics\//, 'Prometheus'],
  [/src\/telemetry\//, 'metrics recorder'],
  [/src\/access-control\//, 'access control'],
  [/node_modules\/jose\/|src\/encryption\/crypto\/|src\/keys\/crypto\/|^node:internal\/crypto|^node:crypto/, 'crypto calls'],
  [/node_modules\/(lru-cache)\//, 'other packages'],
  [/src\//, 'own code'],
  [/node_modules\//, 'other packages'],
];

function categoryOf(url: string): string | undefined {
  if (!url) return undefined;
  if (url.startsWith('node:') && !/^node:(internal\/)?crypto/.test(url)) return undefined;
  for (const [pattern, name] of CATEGORIES) if (pattern.test(url)) return name;
  return 'other';
}

export interface ProfileSummary {
  busyMs: number;
  idleMs: number;
  top: [string, number][];
  categories: [string, number][];
  /** For the top native frames (no script): who calls them, nearest script frame first. */
  nativeCallers: [string, [string, number][]][];
}

/** Self time per function and per category (shares of busy time), over all files. */
export function summariseProfiles(files: string[], top = 15): ProfileSummary {
  let busy = 0;
  let idle = 0;
  const byFunction = new Map<string, number>();
  const byCategory = new Map<string, number>();
  const callers = new Map<string, Map<string, number>>();
  for (const file of files) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
    const byId = new Map(profile.nodes.map((node) => [node.id, node]));
    const parent = new Map<number, number>();
    for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
    const self = new Map<number, number>();
    profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i + 1] ?? 0)));
    for (const [id, us] of self) {
      const node = byId.get(id)!;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)') {
        idle += us;
        continue;
      }
      busy += us;
      const where = url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench|test)\//, '$1/');
      const name = `${functionName || '(anonymous)'} ${where}${url ? `:${lineNumber + 1}` : ''}`;
      byFunction.set(name, (byFunction.get(name) ?? 0) + us);
      let category: string | undefined;
      if (functionName === '(garbage collector)') category = 'GC';
      else if (functionName === '(program)') category = 'native, unattributed';
      else {
        for (let walk: ProfileNode | undefined = node; walk && !category; walk = byId.get(parent.get(walk.id) ?? -1)) {
          category = categoryOf(walk.callFrame.url);
        }
        category ??= 'node core (sockets, timers)';
      }
      byCategory.set(category, (byCategory.get(category) ?? 0) + us);
      if (!url && functionName && !functionName.startsWith('(')) {
        const chain: string[] = [];
        for (let walk = byId.get(parent.get(id) ?? -1); walk && chain.length < 6; walk = byId.get(parent.get(walk.id) ?? -1)) {
          const at = walk.callFrame.url.replace(/^.*node_modules\//, '').replace(/^.*\/(src|bench|test)\//, '$1/');
          chain.push(`${walk.callFrame.functionName || '(anonymous)'}@${at.split('/').slice(-2).join('/')}`);
          if (walk.callFrame.url && !walk.callFrame.url.startsWith('node:')) break;
        }
        const of = callers.get(functionName) ?? new Map<string, number>();
        of.set(chain.join(' < '), (of.get(chain.join(' < ')) ?? 0) + us);
        callers.set(functionName, of);
      }
    }
  }
  const share = (entries: Map<string, number>) =>
    [...entries].sort((a, b) => b[1] - a[1]).map(([name, us]) => [name, us / busy] as [string, number]);
  const topList = share(byFunction).slice(0, top);
  const nativeCallers = topList
    .map(([name]) => name.trim())
    .filter((name) => callers.has(name))
    .slice(0, 4)
    .map((name) => [name, share(callers.get(name)!).slice(0, 3)] as [string, [string, number][]]);
  return {
    busyMs: busy / 1000,
    idleMs: idle / 1000,
    top: topList,
    categories: share(byCategory),
    nativeCallers,
  };
}

export function printSummary(label: string, summary: ProfileSummary) {
  const pct = (value: number) => `${(value * 100).toFixed(1).padStart(5)} %`;
  console.log(`\n${label}: busy ${summary.busyMs.toFixed(0)} ms, idle ${summary.idleMs.toFixed(0)} ms`);
  console.log('  by category (self time, native frames charged to their caller):');
  for (const [name, value] of summary.categories) console.log(`  ${pct(value)}  ${name}`);
  console.log('  top functions (self time):');
  for (const [name, value] of summary.top) console.log(`  ${pct(value)}  ${name}`);
  for (const [name, chains] of summary.nativeCallers) {
    console.log(`  callers of native ${name}: ${chains.map(([chain, value]) => `${pct(value)} ${chain}`).join(' | ')}`);
  }
}

if (require.main === module) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string', default: '15' } } });
  printSummary(positionals.join(', '), summariseProfiles(positionals, Number(values.top)));
}
