import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type GraphQLField, type GraphQLSchema } from 'graphql';
import { Scope, SCOPE_MEANINGS } from '../access-control';
import { ERROR_CODE_MEANINGS, ErrorCode, httpStatusForCode } from '../common';
import { ENVIRONMENT_DEFAULTS, KNOWN_VARIABLES, SECRET_VARIABLES } from '../config';

export const CONTRACT_FILE = join(__dirname, '../../docs/contract.md');
const ENV_EXAMPLE = join(__dirname, '../../.env.example');

/** What docs/contract.md takes from the code, each between `<!-- generated:<name> begin/end -->`. */
export interface ContractSources {
  schema: GraphQLSchema;
  /** `Query.encryptionKey` → its scope, for every operation. */
  scopes: ReadonlyMap<string, Scope | undefined>;
}

export function generatedSections(sources: ContractSources): Record<string, string> {
  return {
    operations: operationsTable(sources),
    scopes: scopesTable(sources),
    'error-codes': errorCodesTable(),
    configuration: configurationTable(),
  };
}

/** `document` with each generated region replaced; throws when a region is missing. */
export function fillGenerated(document: string, sections: Record<string, string>): string {
  let filled = document;
  for (const [name, content] of Object.entries(sections)) {
    const region = new RegExp(`(<!-- generated:${name} begin[^>]*-->\\n)[\\s\\S]*?(<!-- generated:${name} end -->)`);
    if (!region.test(filled)) throw new Error(`docs/contract.md has no generated:${name} region`);
    filled = filled.replace(region, (_match, begin: string, end: string) => `${begin}${content}${end}`);
  }
  return filled;
}

const cell = (text: string) => text.replace(/\|/g, '\\|').replace(/\s*\n\s*/g, ' ').trim();
const table = (header: string[], rows: string[][]) =>
  [header, header.map(() => '---'), ...rows].map((row) => `| ${row.map(cell).join(' | ')} |`).join('\n') + '\n';

function operations(schema: GraphQLSchema) {
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const;
  return roots.flatMap(([kind, type]) =>
    Object.values(type?.getFields() ?? {})
      .map((field) => ({ kind, root: type!.name, field }))
      .sort((a, b) => a.field.name.localeCompare(b.field.name)),
  );
}

const signature = (field: GraphQLField<unknown, unknown>) =>
  field.args.map((arg) => `${arg.name}: ${String(arg.type)}${arg.defaultValue !== undefined ? ` = ${JSON.stringify(arg.defaultValue)}` : ''}`).join(', ');

function operationsTable({ schema, scopes }: ContractSources): string {
  return table(
    ['operation', 'kind', 'arguments', 'returns', 'scope', 'what it does'],
    operations(schema).map(({ kind, root, field }) => [
      `\`${field.name}\``,
      kind,
      field.args.length ? `\`${signature(field)}\`` : '',
      `\`${String(field.type)}\``,
      `\`${scopes.get(`${root}.${field.name}`) ?? 'none'}\``,
      field.description ?? '',
    ]),
  );
}

function scopesTable({ schema, scopes }: ContractSources): string {
  return table(
    ['scope', 'for', 'operations'],
    (Object.values(Scope) as Scope[]).map((scope) => [
      `\`${scope}\``,
      SCOPE_MEANINGS[scope],
      operations(schema)
        .filter(({ root, field }) => scopes.get(`${root}.${field.name}`) === scope)
        .map(({ field }) => `\`${field.name}\``)
        .join(', '),
    ]),
  );
}

function errorCodesTable(): string {
  return table(
    ['code', 'HTTP status on plain routes', 'meaning'],
    (Object.values(ErrorCode) as ErrorCode[]).map((code) => [`\`${code}\``, String(httpStatusForCode(code)), ERROR_CODE_MEANINGS[code]]),
  );
}

/** The comment lines right above each `NAME=` of .env.example: what the variable means. */
function variableDescriptions(): Map<string, string> {
  const descriptions = new Map<string, string>();
  let comment: string[] = [];
  for (const line of readFileSync(ENV_EXAMPLE, 'utf8').split('\n')) {
    const variable = /^([A-Z][A-Z0-9_]*)=/.exec(line);
    if (variable) {
      descriptions.set(variable[1], comment.join(' '));
      comment = [];
    } else if (line.startsWith('# ---') || line.trim() === '') comment = [];
    else if (line.startsWith('#')) comment.push(line.replace(/^#\s?/, ''));
  }
  return descriptions;
}

function configurationTable(): string {
  const descriptions = variableDescriptions();
  return table(
    ['variable', 'default', 'meaning'],
    [...KNOWN_VARIABLES].sort().map((name) => {
      const value = ENVIRONMENT_DEFAULTS.get(name);
      const shown = value === undefined ? '(unset)' : `\`${String(value)}\``;
      return [`\`${name}\``, shown, `${SECRET_VARIABLES.has(name) ? 'Secret. ' : ''}${descriptions.get(name) ?? ''}`];
    }),
  );
}
