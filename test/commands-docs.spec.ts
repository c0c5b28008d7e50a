import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * Every documented call of a command whose stdout is its result says `npm run -s`:
 * without -s npm prints its own banner on stdout first, so `> file` would capture it
 * (test/e2e/cli.e2e-spec.ts runs them and checks their stdout).
 */
const ROOT = join(__dirname, '..');
const COMMANDS = ['apikeys', 'db:migrate', 'db:migration:create', 'keys:rewrap', 'auth:repepper', 'schema:update', 'docs:update'];

function files(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'generated' || entry.name === 'node_modules' ? [] : files(path, pattern);
    return pattern.test(entry.name) ? [path] : [];
  });
}

describe('documented commands', () => {
  const documents = [
    join(ROOT, 'README.md'),
    join(ROOT, '.env.example'),
    join(ROOT, 'Dockerfile'),
    join(ROOT, 'docker-compose.yml'),
    ...files(join(ROOT, 'docs'), /\.md$/),
    ...files(join(ROOT, 'src'), /\.(ts|md)$/),
  ];

  it('are called with npm run -s, so that stdout carries only their result', () => {
    const unsilenced = documents.flatMap((file) =>
      [...readFileSync(file, 'utf8').matchAll(new RegExp(`npm run (?!-s )(?:--silent )?(${COMMANDS.join('|')})\\b`, 'g'))]
        .filter((match) => !match[0].includes('--silent'))
        .map((match) => `${relative(ROOT, file)}: ${match[0]}`),
    );
    expect(unsilenced).toEqual([]);
  });

  it('name scripts that exist', () => {
    const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
    for (const command of COMMANDS) expect([command, scripts[command]]).toEqual([command, expect.any(String)]);
  });
});
