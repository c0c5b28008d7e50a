import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The repository stands alone: no document or schema description points outside it
 * (the product owner's spec is not in a clone; docs/contract.md is its account here),
 * and every relative link of the Markdown files leads to a file, and heading, that exists.
 */
const ROOT = join(__dirname, '..');
const SKIPPED = new Set(['node_modules', '.git', 'generated', 'dist', 'coverage']);

function files(dir: string, pattern: RegExp): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    if (SKIPPED.has(entry.name) || entry.name.startsWith('.architecture-check-')) return [];
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return files(path, pattern);
    return pattern.test(entry.name) ? [path] : [];
  });
}

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens. */
const anchorsOf = (markdown: string) =>
  new Set(
    [...markdown.matchAll(/^#{1,6} (.+)$/gm)].map(([, title]) =>
      title.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-'),
    ),
  );

describe('a self-contained repository', () => {
  it('has no reference to the spec outside it (../shared) in any document, source or schema', () => {
    const texts = files(ROOT, /\.(md|ts|graphql|prisma|yml|example|cjs|mjs|json)$|^Dockerfile$/).filter(
      (file) => file !== __filename && !file.endsWith('package-lock.json'),
    );
    const outside = texts.filter((file) => /\.\.\/shared|shared\/SPEC/.test(readFileSync(file, 'utf8')));
    expect(outside.map((file) => relative(ROOT, file))).toEqual([]);
  });

  it('has Markdown links that lead to files and headings inside the repository', () => {
    const broken: string[] = [];
    for (const file of files(ROOT, /\.md$/)) {
      for (const [, target] of readFileSync(file, 'utf8').matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/i.test(target)) continue; // https: links to libraries' own pages
        const [path, anchor] = target.split('#');
        const linked = path ? resolve(dirname(file), path) : file;
        const where = `${relative(ROOT, file)} -> ${target}`;
        if (relative(ROOT, linked).startsWith('..')) broken.push(`${where}: outside the repository`);
        else if (!existsSync(linked)) broken.push(`${where}: no such file`);
        else if (anchor && statSync(linked).isFile() && linked.endsWith('.md') && !anchorsOf(readFileSync(linked, 'utf8')).has(anchor)) {
          broken.push(`${where}: no such heading`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
