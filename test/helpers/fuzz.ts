import fc from 'fast-check';
import {
  getNamedType,
  getNullableType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
  type GraphQLField,
  type GraphQLInputType,
  type GraphQLObjectType,
  type GraphQLSchema,
} from 'graphql';

/**
 * Operations generated from the schema with fast-check: mostly well-formed documents whose
 * arguments mix valid and hostile values, plus a share of broken documents and bodies.
 */
export interface FuzzRequest {
  /** A JSON request body (or a raw string body when `raw` is set). */
  body: unknown;
  raw?: string;
  signedIn: boolean;
}

const hostileStrings = fc.constantFrom(
  '',
  ' ',
  '\u0000',
  '\u202e\ufeff',
  '$ne',
  '{"$gt": ""}',
  '.*',
  '(a+)+$',
  '../../etc/passwd',
  '<script>alert(1)</script>',
  "'; DROP TABLE users; --",
  'x'.repeat(5001),
  '6b0602d43f0ce1f1a397b7da',
  '6b0602d43f0ce1f1a397b7da.dT5rt2t7rA22TxW-WLaL8jfLoDlYGqS3V1YzlkQaESA',
  'WyJvbmUiLCI2YjA2MDM1ODg0ZDBmMWRjNzA1OWEzNGIiXQ',
);

const strings = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 2, arbitrary: hostileStrings },
  { weight: 1, arbitrary: fc.emailAddress() },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
);

const objectIds = fc.stringMatching(/^[0-9a-f]{24}$/);

/** Values of the wrong type, including operator objects where strings are expected. */
const wrongValues = fc.oneof(
  fc.constant({ $ne: null }),
  fc.constant({ $gt: '' }),
  fc.constant([1, 2, 3]),
  fc.constant(null),
  fc.boolean(),
  fc.double(),
  fc.integer({ min: -(2 ** 52), max: 2 ** 52 }),
  fc.string({ maxLength: 5 }),
);

function scalarValue(name: string): fc.Arbitrary<unknown> {
  switch (name) {
    case 'Int':
      return fc.oneof(fc.integer({ min: -5, max: 150 }), fc.constantFrom(0, 1, 20, 100, 101, 2 ** 31 - 1, -(2 ** 31)));
    case 'Float':
      return fc.oneof(fc.double({ min: -10, max: 1e6, noNaN: true }), fc.constantFrom(0, -0.01, 1e308));
    case 'Boolean':
      return fc.boolean();
    case 'ID':
      return fc.oneof(objectIds, strings);
    default:
      return strings;
  }
}

function inputValue(type: GraphQLInputType, depth: number): fc.Arbitrary<unknown> {
  const valid = validInputValue(type, depth);
  // Mostly values of the declared type, sometimes something else, to exercise coercion errors.
  return fc.oneof({ weight: 6, arbitrary: valid }, { weight: 1, arbitrary: wrongValues });
}

function validInputValue(type: GraphQLInputType, depth: number): fc.Arbitrary<unknown> {
  if (isNonNullType(type)) return validInputValue(type.ofType, depth);
  if (isListType(type))
    return fc.array(inputValue(type.ofType as GraphQLInputType, depth + 1), { maxLength: depth > 1 ? 2 : 25 });
  if (isEnumType(type))
    return fc.oneof(fc.constantFrom(...type.getValues().map((v) => v.name)), fc.constant('NOT_A_VALUE'));
  if (isScalarType(type)) return scalarValue(type.name);
  if (isInputObjectType(type) && depth < 4) {
    const fields = Object.values(type.getFields());
    const record: Record<string, fc.Arbitrary<unknown>> = {};
    for (const f of fields) record[f.name] = inputValue(f.type, depth + 1);
    const withUnknown = fc.record({ ...record, unknownField: fc.string() }, { requiredKeys: [] });
    return fc.oneof(
      { weight: 5, arbitrary: fc.record(record, { requiredKeys: [] }) },
      { weight: 1, arbitrary: withUnknown },
    );
  }
  return fc.constant(null);
}

function selection(type: GraphQLObjectType, depth: number): fc.Arbitrary<string> {
  const fields = Object.values(type.getFields()).filter((f) => f.args.every((a) => !isNonNullType(a.type)));
  const leaf = fields.filter((f) => !isObjectType(getNamedType(f.type)));
  const nested = depth < 4 ? fields.filter((f) => isObjectType(getNamedType(f.type))) : [];
  const pick = (f: GraphQLField<unknown, unknown>): fc.Arbitrary<string> => {
    const named = getNamedType(f.type);
    return isObjectType(named) ? selection(named, depth + 1).map((s) => `${f.name} ${s}`) : fc.constant(f.name);
  };
  const all = [...leaf, ...nested];
  if (all.length === 0) return fc.constant('{ __typename }');
  return fc
    .subarray(all, { minLength: 1, maxLength: Math.min(all.length, 5) })
    .chain((chosen) => fc.tuple(...chosen.map(pick)))
    .map((parts) => `{ ${parts.join(' ')} }`);
}

function operation(
  schema: GraphQLSchema,
  kind: 'query' | 'mutation',
): fc.Arbitrary<{ query: string; variables: Record<string, unknown> }> {
  const root = kind === 'query' ? schema.getQueryType()! : schema.getMutationType()!;
  const fields = Object.values(root.getFields());
  return fc.constantFrom(...fields).chain((field) => {
    const args = field.args;
    const named = getNamedType(getNullableType(field.type));
    const sel = isObjectType(named) ? selection(named, 1) : fc.constant('');
    const values = fc.tuple(...args.map((a) => inputValue(a.type, 0)));
    return fc.tuple(sel, values, fc.subarray(args.map((a) => a.name))).map(([s, vals, omitted]) => {
      const used = args.filter((a) => !omitted.includes(a.name) || isNonNullType(a.type));
      const defs = used.map((a) => `$${a.name}: ${a.type.toString()}`).join(', ');
      const call = used.map((a) => `${a.name}: $${a.name}`).join(', ');
      const variables: Record<string, unknown> = {};
      used.forEach((a) => {
        variables[a.name] = vals[args.indexOf(a)];
      });
      const query = `${kind} Fuzz${defs ? `(${defs})` : ''} { ${field.name}${call ? `(${call})` : ''} ${s} }`;
      return { query, variables };
    });
  });
}

/** Breaks a document: drops, repeats or swaps characters, so parsing and validation fail. */
const mangled = (doc: fc.Arbitrary<{ query: string }>) =>
  fc.tuple(doc, fc.nat(), fc.constantFrom('drop', 'dup', 'brace', 'junk')).map(([{ query }, n, how]) => {
    const i = n % Math.max(1, query.length);
    if (how === 'drop') return query.slice(0, i) + query.slice(i + 1);
    if (how === 'dup') return query.slice(0, i) + query.slice(i, i + 8).repeat(3) + query.slice(i);
    if (how === 'brace') return query.replace(/}/, '');
    return `${query} @@@ ${'{'.repeat(n % 30)}`;
  });

export function fuzzRequests(schema: GraphQLSchema): fc.Arbitrary<FuzzRequest> {
  const query = operation(schema, 'query');
  const mutation = operation(schema, 'mutation');
  const valid = fc.oneof(query, mutation);
  return fc
    .record({
      signedIn: fc.boolean(),
      request: fc.oneof(
        { weight: 10, arbitrary: valid.map((body) => ({ body })) },
        { weight: 2, arbitrary: mangled(valid).map((q) => ({ body: { query: q } })) },
        {
          weight: 1,
          arbitrary: fc.oneof(
            fc.jsonValue().map((v) => ({ body: v })),
            fc.string().map((s) => ({ body: null, raw: s })),
            fc.constant({ body: { query: '{ me { id } }', variables: '{"not":"an object"}' } }),
            fc.constant({ body: { query: 42 } }),
            fc.constant({ body: [{ query: '{ me { id } }' }] }),
          ),
        },
      ),
    })
    .map(({ signedIn, request }) => ({ signedIn, ...request }));
}
