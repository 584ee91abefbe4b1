import { graphql, GraphQLInt, GraphQLObjectType, GraphQLSchema, type GraphQLFieldResolver } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { allow, rule } from 'graphql-shield';
import { buildPermissions } from '../../src/app/permissions';
import type { FeatureModule } from '../../src/core/module';

const refuse = rule()(() => new Error('refused by its rule'));

/** A schema whose fields answer 1, and the resolver each field had before permissions. */
function schemaWithPermissions(rules: FeatureModule['rules']) {
  const own: GraphQLFieldResolver<unknown, unknown> = () => 1;
  const scalar = { type: GraphQLInt, resolve: own };
  const thing = new GraphQLObjectType({
    name: 'Thing',
    fields: { open: scalar, guarded: scalar, unlisted: scalar },
  });
  const whole = new GraphQLObjectType({ name: 'Whole', fields: { a: scalar } });
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({
      name: 'Query',
      fields: { thing: { type: thing, resolve: () => ({}) }, whole: { type: whole, resolve: () => ({}) } },
    }),
  });
  const permitted = applyMiddleware(schema, buildPermissions([{ name: 'test', rules }]));
  const resolverOf = (type: string, field: string) =>
    (permitted.getType(type) as GraphQLObjectType).getFields()[field]!.resolve;
  return { schema: permitted, own, resolverOf };
}

describe('buildPermissions', () => {
  const rules = {
    Query: { thing: allow, whole: allow },
    Thing: { open: allow, guarded: refuse },
    Whole: allow,
  };

  it('leaves a field whose rule is allow to its own resolver, and wraps every other one', () => {
    const { own, resolverOf } = schemaWithPermissions(rules);
    expect(resolverOf('Thing', 'open')).toBe(own);
    expect(resolverOf('Whole', 'a')).toBe(own);
    expect(resolverOf('Thing', 'guarded')).not.toBe(own);
    expect(resolverOf('Thing', 'unlisted')).not.toBe(own);
    // Root fields keep the API-key gate in front of their rule.
    expect(resolverOf('Query', 'thing')).not.toBe(own);
  });

  it('still refuses a field by its rule, and a field without a rule by default', async () => {
    const { schema } = schemaWithPermissions(rules);
    const result = await graphql({
      schema,
      source: '{ thing { open guarded unlisted } whole { a } }',
      contextValue: {},
    });
    expect(result.data).toEqual({ thing: { open: 1, guarded: null, unlisted: null }, whole: { a: 1 } });
    expect(result.errors?.map((e) => [e.path?.join('.'), e.extensions.code ?? e.message])).toEqual([
      ['thing.guarded', 'refused by its rule'],
      ['thing.unlisted', 'UNAUTHENTICATED'],
    ]);
  });
});
