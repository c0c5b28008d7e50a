import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { REPOSITORY_ROOT } from './paths';

/** A file the development pages serve: where it comes from and how it is sent. */
export interface DevFile {
  body: Buffer | string;
  contentType: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};
const contentTypeOf = (file: string) => CONTENT_TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';

/** A package's folder, or undefined where it is not installed (an image pruned with --omit=dev). */
function packageFolder(name: string): string | undefined {
  try {
    return dirname(require.resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/**
 * The GraphQL explorer's browser files, from npm packages (dev dependencies): GraphiQL's
 * UMD bundle and style sheet (fonts and icons inlined: nothing is fetched from a CDN), and
 * the React 18 UMD builds it runs on (React 19 has no UMD build).
 */
const EXPLORER_FILES: Record<string, { packageName: string; path: string }> = {
  'graphiql.min.js': { packageName: 'graphiql', path: 'graphiql.min.js' },
  'graphiql.min.css': { packageName: 'graphiql', path: 'graphiql.min.css' },
  'react.production.min.js': { packageName: 'react', path: 'umd/react.production.min.js' },
  'react-dom.production.min.js': { packageName: 'react-dom', path: 'umd/react-dom.production.min.js' },
};

/** True when every explorer file can be served. */
export function explorerFilesInstalled(): boolean {
  return Object.values(EXPLORER_FILES).every(({ packageName }) => packageFolder(packageName) !== undefined);
}

export function explorerFile(name: string): DevFile | undefined {
  const entry = Object.hasOwn(EXPLORER_FILES, name) ? EXPLORER_FILES[name] : undefined;
  const folder = entry && packageFolder(entry.packageName);
  if (!entry || !folder) return undefined;
  return cached(join(folder, entry.path), (path) => ({ body: readFileSync(path), contentType: contentTypeOf(path) }));
}

const DEMO_FOLDER = join(REPOSITORY_ROOT, 'examples', 'web-demo');
/** The page and its script; the example backend (backend.mjs) is not served. */
const DEMO_FILES = ['index.html', 'app.js'];

export function demoFile(name: string): DevFile | undefined {
  if (!DEMO_FILES.includes(name)) return undefined;
  return cached(join(DEMO_FOLDER, name), (path) => ({ body: readFileSync(path), contentType: contentTypeOf(path) }));
}

const LIBRARY_SOURCES = join(REPOSITORY_ROOT, 'clients', 'web', 'src');

/**
 * The web client library (clients/web/src/<name>.ts) as the browser module <name>.js,
 * compiled from its TypeScript source on first request and again when the source changes,
 * with TypeScript's transpileModule (a dev dependency: these pages exist in development
 * only). Its imports ('./client.js') stay as they are and resolve to the next file here.
 */
export function libraryFile(name: string): DevFile | undefined {
  const match = /^([a-z][a-z0-9-]*)\.js$/.exec(name);
  if (!match || !librarySources().includes(`${match[1]}.ts`)) return undefined;
  return cached(join(LIBRARY_SOURCES, `${match[1]}.ts`), (path) => ({
    body: transpile(readFileSync(path, 'utf8'), path),
    contentType: contentTypeOf(name),
  }));
}

let sources: string[] | undefined;
const librarySources = () => (sources ??= readdirSync(LIBRARY_SOURCES).filter((file) => file.endsWith('.ts')));

/** `fileName` ends in .ts: TypeScript parses by the extension (a .js name would reject the types). */
function transpile(source: string, fileName: string): string {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ts = require('typescript') as typeof import('typescript');
  return ts.transpileModule(source, {
    fileName,
    compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ES2022, removeComments: false },
  }).outputText;
}

/** Files read once, and again after they change on disk (a developer editing the demo or the library). */
const cache = new Map<string, { modifiedMs: number; file: DevFile }>();

function cached(path: string, load: (path: string) => DevFile): DevFile | undefined {
  let modifiedMs: number;
  try {
    modifiedMs = statSync(path).mtimeMs;
  } catch {
    return undefined;
  }
  const hit = cache.get(path);
  if (hit?.modifiedMs === modifiedMs) return hit.file;
  const file = load(path);
  cache.set(path, { modifiedMs, file });
  return file;
}
