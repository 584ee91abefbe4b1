import type http from 'node:http';
import { ApolloServer, type ApolloServerPlugin } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloArmor } from '@escape.tech/graphql-armor';
import type { GraphQLSchema, ValidationRule } from 'graphql';
import type { Config } from '../core/config';
import type { Context } from '../core/context';
import type { Logger } from '../core/logger';
import { TRUSTED_DOCUMENTS_FILE } from '../core/paths';
import { costLimitPlugin } from '../http/complexity';
import { errorLoggingPlugin, formatError, retryAfterPlugin } from '../http/format-error';
import { readLimitPlugin } from '../http/read-limit';
import { committedOperationNames, metricsPlugin } from '../observability/metrics.plugin';
import type { Metrics } from '../observability/metrics.registry';

export type Armor = ReturnType<ApolloArmor['protect']>;

/**
 * graphql-armor's limits. The token limit runs before Apollo (http/document-checks.ts); the cost
 * limit needs the request's variables (see costLimitPlugin); suggestions are masked in
 * formatError, which also covers enum values and variables.
 */
export function armor(config: Config): Armor {
  const { limits } = config;
  return new ApolloArmor({
    maxDepth: { n: limits.maxDepth },
    maxAliases: { n: limits.maxAliases },
    maxDirectives: { n: limits.maxDirectives },
    costLimit: { enabled: false },
    maxTokens: { enabled: false },
    blockFieldSuggestion: { enabled: false },
  }).protect();
}

export interface ApolloParts {
  config: Config;
  logger: Logger;
  schema: GraphQLSchema;
  metrics: Metrics | undefined;
  /** graphql-armor's validation rules and plugins (see armor). */
  armored: Armor;
  /** Lets in-flight requests finish at stop(): the web framework's own drain plugin. */
  drain: ApolloServerPlugin<Context>;
}

/** The Apollo server of the GraphQL endpoint, not started. */
export function createApollo(parts: ApolloParts): ApolloServer<Context> {
  const { config, logger, metrics } = parts;
  return new ApolloServer<Context>({
    schema: parts.schema,
    introspection: config.introspection,
    validationRules: parts.armored.validationRules,
    allowBatchedHttpRequests: false,
    csrfPrevention: true,
    // src/index.ts owns signal handling (drain delay, database shutdown, exit code).
    stopOnTerminationSignals: false,
    formatError: formatError(config),
    includeStacktraceInErrorResponses: !config.isProduction,
    plugins: [
      ...(metrics ? [metricsPlugin(metrics, committedOperationNames(TRUSTED_DOCUMENTS_FILE))] : []),
      ...parts.armored.plugins,
      costLimitPlugin(config.limits.maxCost),
      readLimitPlugin(config, logger),
      parts.drain,
      ApolloServerPluginLandingPageDisabled(),
      // No @cacheControl hints in this schema: the default plugin would only add per-field work.
      ApolloServerPluginCacheControlDisabled(),
      errorLoggingPlugin(),
      retryAfterPlugin(),
    ],
  });
}

/**
 * The started Apollo server of the Express app on `httpServer`, and the validation rules it
 * checks documents with (WebSocket subscriptions apply the same).
 */
export async function startApollo(
  parts: Omit<ApolloParts, 'armored' | 'drain'> & { httpServer: http.Server },
): Promise<{ apollo: ApolloServer<Context>; validationRules: readonly ValidationRule[] }> {
  const armored = armor(parts.config);
  const stopGracePeriodMillis = parts.config.shutdownTimeoutMs;
  const drain = ApolloServerPluginDrainHttpServer({ httpServer: parts.httpServer, stopGracePeriodMillis });
  const apollo = createApollo({ ...parts, armored, drain });
  await apollo.start();
  return { apollo, validationRules: armored.validationRules };
}
