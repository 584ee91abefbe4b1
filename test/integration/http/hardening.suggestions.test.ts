import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

/**
 * graphql-js ends many errors with a hint built from the schema ("Did you mean the enum value
 * "ADMIN"?"), which tells a stranger the names that introspection hides. Every form, in every mode.
 */
const forms: Array<[string, string, Record<string, unknown>, string]> = [
  ['a field', '{ mee { id } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  ['a field of a nested type', '{ me { emial } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  ['an argument', '{ items(frist: 1) { totalCount } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  ['a type in a fragment condition', '{ me { ... on Usr { id } } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  ['the type of a variable', 'query($f: Intt) { items(first: $f) { totalCount } }', {}, 'GRAPHQL_VALIDATION_FAILED'],
  [
    'an enum value literal',
    'mutation { setUserRole(userId: "0123456789abcdef01234567", role: ADMN) { id } }',
    {},
    'GRAPHQL_VALIDATION_FAILED',
  ],
  [
    'an enum value in a variable',
    'mutation($r: Role!) { setUserRole(userId: "0123456789abcdef01234567", role: $r) { id } }',
    { r: 'ADMN' },
    'BAD_USER_INPUT',
  ],
  [
    'an enum value inside an input variable',
    'query($o: ItemOrder) { items(orderBy: $o) { totalCount } }',
    { o: { field: 'NAM', direction: 'ASC' } },
    'BAD_USER_INPUT',
  ],
  [
    'an input field literal',
    'mutation { createItem(input: { name: "x", nme: "y" }) { id } }',
    {},
    'GRAPHQL_VALIDATION_FAILED',
  ],
  [
    'an input field in a variable',
    'mutation($i: CreateItemInput!) { createItem(input: $i) { id } }',
    { i: { name: 'x', nme: 'y' } },
    'BAD_USER_INPUT',
  ],
];

describe.each(['development', 'production'])('"Did you mean" hints in %s mode', (mode) => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer(mode === 'production' ? { NODE_ENV: 'production', BCRYPT_COST: '10' } : {});
  });
  afterAll(() => t.stop());

  it.each(forms)('are masked for %s, with the usual client code', async (_label, query, variables, code) => {
    const res = await t.gql(query, variables);
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual([code]);
    // The message keeps what was wrong; only the hint goes, from stack traces (development) too.
    expect(res.body.errors![0]!.message.length).toBeGreaterThan(10);
    expect(JSON.stringify(res.body)).not.toMatch(/Did you mean/i);
  });
});
