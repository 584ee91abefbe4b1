import {
  GraphQLBoolean,
  GraphQLInt,
  GraphQLObjectType,
  GraphQLSchema,
  parse,
  subscribe,
  type ExecutionResult,
} from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, deny, shield } from 'graphql-shield';
import { guardSubscriptions } from '../../src/app/permissions';

/** A subscription whose source would emit one event, and a record of whether it was started. */
function schemaWith(rules: Parameters<typeof shield>[0]) {
  const started: string[] = [];
  async function* one() {
    yield 1;
  }
  const field = (name: string) => ({
    type: GraphQLInt,
    subscribe: () => {
      started.push(name);
      return one();
    },
    resolve: (value: unknown) => value,
  });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLBoolean } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: { ticks: field('ticks'), open: field('open') },
    }),
  });
  const guarded = guardSubscriptions(
    applyMiddleware(schema, shield(rules, { fallbackRule: deny, allowExternalErrors: true })),
  );
  return { schema: guarded, started };
}

async function run(schema: ReturnType<typeof schemaWith>['schema'], field: string) {
  const result = await subscribe({ schema, document: parse(`subscription { ${field} }`), contextValue: {} });
  return result as ExecutionResult | AsyncIterableIterator<ExecutionResult>;
}

describe('guardSubscriptions', () => {
  it('refuses a subscription field without a rule before its source starts (deny by default)', async () => {
    const { schema, started } = schemaWith({ Subscription: { open: allow } });
    const result = await run(schema, 'ticks');
    expect('errors' in result && result.errors?.map((e) => e.message)).toEqual(['Not Authorised!']);
    expect(started).toEqual([]);
  });

  it('starts the source once the rule allows, and delivers its events', async () => {
    const { schema, started } = schemaWith({ Subscription: { open: allow } });
    const result = (await run(schema, 'open')) as AsyncIterableIterator<ExecutionResult>;
    expect(Symbol.asyncIterator in result).toBe(true);
    expect(started).toEqual(['open']);
    expect((await result.next()).value).toEqual({ data: { open: 1 } });
  });
});
