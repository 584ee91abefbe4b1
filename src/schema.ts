import 'reflect-metadata';
import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLSchema } from 'graphql';
import { applyMiddleware } from 'graphql-middleware';
import { buildSchema } from 'type-graphql';
import { AuthResolver } from './auth/auth.resolver';
import { ItemResolver } from './items/item.resolver';
import { permissions } from './permissions';
import { UserResolver } from './users/user.resolver';

export const resolvers = [AuthResolver, UserResolver, ItemResolver] as const;

/** The schema as type-graphql builds it, without permissions (for printing the SDL). */
export async function buildBareSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    // Input validation lives in the services (zod), so class-validator is not used.
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
  });
}

/** The executable schema: type-graphql resolvers wrapped by the graphql-shield permissions. */
export async function buildAppSchema(): Promise<GraphQLSchema> {
  return applyMiddleware(await buildBareSchema(), permissions);
}
