import {
  GraphQLField,
  GraphQLInputType,
  GraphQLSchema,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isLeafType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';

/**
 * A syntactically valid document for every root field of a schema, with made-up
 * values for its required arguments: enough to get past GraphQL validation to
 * the access check, which runs before any argument is looked at.
 */
export interface OperationDocument {
  /** `Query.encryptionKey` */
  name: string;
  document: string;
}

export function operationDocuments(schema: GraphQLSchema): OperationDocument[] {
  const roots = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
  ] as const;
  return roots.flatMap(([keyword, type]) =>
    Object.values(type?.getFields() ?? {}).map((field) => ({
      name: `${type!.name}.${field.name}`,
      document: `${keyword} { ${field.name}${argumentsOf(field)}${selectionOf(field)} }`,
    })),
  );
}

function argumentsOf(field: GraphQLField<unknown, unknown>): string {
  const required = field.args.filter((arg) => isNonNullType(arg.type));
  return required.length ? `(${required.map((arg) => `${arg.name}: ${valueOf(arg.type)}`).join(', ')})` : '';
}

function selectionOf(field: GraphQLField<unknown, unknown>): string {
  const named = getNamedType(field.type);
  return isObjectType(named) ? ' { __typename }' : '';
}

function valueOf(type: GraphQLInputType): string {
  const inner = isNonNullType(type) ? type.ofType : type;
  if (isListType(inner)) return `[${valueOf(inner.ofType)}]`;
  if (isEnumType(inner)) return inner.getValues()[0].name;
  if (isInputObjectType(inner)) {
    const fields = Object.values(inner.getFields()).filter((f) => isNonNullType(f.type));
    return `{ ${fields.map((f) => `${f.name}: ${valueOf(f.type)}`).join(', ')} }`;
  }
  if (isScalarType(inner) && isLeafType(inner)) {
    switch (inner.name) {
      case 'Int':
      case 'Float':
        return '1';
      case 'Boolean':
        return 'false';
      case 'JSON':
        return '{}';
      default:
        return '"made-up"';
    }
  }
  throw new Error(`no made-up value for ${String(inner)}`);
}
