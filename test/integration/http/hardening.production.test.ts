import { Writable } from 'node:stream';
import mongoose from 'mongoose';
import pino from 'pino';
import { bearer, LOGIN, REGISTER, signUp, strongPassword, uniqueEmail } from '../../helpers/auth';
import { codes } from '../../helpers/graphql';
import { startTestServer, type TestServer } from '../../helpers/server';

const lines: Array<Record<string, unknown>> = [];
const logger = pino(
  { level: 'info' },
  new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  }),
);

describe('configurable limits', () => {
  it('takes the armor limits from the configuration', async () => {
    const t = await startTestServer({ MAX_ALIASES: '2', MAX_DEPTH: '3' });
    try {
      expect((await t.gql('{ a: me { id } b: me { id } c: me { id } }')).status).toBe(400);
      expect((await t.gql('{ a: me { id } b: me { id } }')).status).toBe(200);
      expect((await t.gql('{ __type(name: "Item") { name ofType { name ofType { name } } } }')).status).toBe(400);
    } finally {
      await t.stop();
    }
  });
});

describe('production mode (NODE_ENV=production)', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer({ NODE_ENV: 'production', BCRYPT_COST: '10' }, logger);
  });
  afterAll(() => t.stop());

  it('turns introspection off', async () => {
    const res = await t.gql('{ __schema { types { name } } }');
    expect(res.status).toBe(400);
    expect(codes(res)).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });

  it('gives no "Did you mean" hints and no stack traces', async () => {
    const responses = [
      await t.gql('{ mee { id } }'),
      await t.gql('{ me { idd } }'),
      await t.gql(LOGIN, { input: { email: 'x@example.com', password: 'Wrong-Password-1' } }),
      await t.gql(REGISTER, { input: { email: 'bad', password: 'x' } }),
      await t.gql('{ items { totalCount } }'),
      await t.gql('{ me { id '),
    ];
    for (const res of responses) {
      expect(res.body.errors?.length).toBeGreaterThan(0);
      const text = JSON.stringify(res.body);
      expect(text).not.toMatch(/Did you mean/i);
      expect(text).not.toMatch(/stacktrace/);
    }
  });

  it('turns an unexpected failure into a generic INTERNAL_SERVER_ERROR and logs the full error with the request id', async () => {
    const user = await signUp(t, uniqueEmail(), strongPassword());
    // A record the service could never have written: its owner id is not an ObjectId, so the
    // owner lookup fails inside mongoose (a CastError naming the model and path).
    await mongoose.connection.db!.collection('items').insertOne({
      name: 'corrupt',
      nameKey: 'corrupt',
      tags: [],
      quantity: 0,
      version: 1,
      priceKey: -1,
      ownerId: 'not-an-object-id',
      createdAt: new Date(),
      updatedAt: new Date(),
    });
    lines.length = 0;
    const res = await t.gql(
      '{ items { edges { node { name owner { id } } } } }',
      {},
      {
        ...bearer(user.accessToken),
        'x-request-id': 'trace-me-123',
      },
    );
    expect(codes(res)).toContain('INTERNAL_SERVER_ERROR');
    const error = res.body.errors!.find((e) => e.extensions?.code === 'INTERNAL_SERVER_ERROR')!;
    expect(error.message).toBe('Internal server error');
    expect(JSON.stringify(res.body)).not.toMatch(
      /mongo|mongoose|Cast|ObjectId|collection|index|users|\.ts|\.js|stacktrace/i,
    );
    const logged = lines.find((l) => l.msg === 'unexpected GraphQL error');
    expect(logged).toBeDefined();
    expect(JSON.stringify(logged)).toMatch(/Cast/);
    expect(JSON.stringify(logged)).toContain('trace-me-123');
  });

  it('refuses a BCRYPT_COST under 10', async () => {
    await expect(startTestServer({ NODE_ENV: 'production', BCRYPT_COST: '9' })).rejects.toThrow(/BCRYPT_COST/);
  });
});

describe('production mode with INTROSPECTION=true', () => {
  it('answers introspection', async () => {
    const t = await startTestServer({ NODE_ENV: 'production', BCRYPT_COST: '10', INTROSPECTION: 'true' });
    try {
      const res = await t.gql('{ __schema { queryType { name } } }');
      expect(res.body.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    } finally {
      await t.stop();
    }
  });
});
