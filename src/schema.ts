import 'reflect-metadata';
import { DateTimeResolver } from 'graphql-scalars';
import type { GraphQLSchema } from 'graphql';
import { buildSchema } from 'type-graphql';
import { UserResolver } from './users/user.resolver';

export const resolvers = [UserResolver] as const;

/** Builds the executable schema from the type-graphql resolvers (no permissions applied). */
export async function buildAppSchema(): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers,
    // Input validation lives in the services (zod), so class-validator is not used.
    validate: false,
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
  });
}
