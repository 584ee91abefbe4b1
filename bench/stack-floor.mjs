// The floor of the required stack: the baseline's work (bench/same-work.mjs) served through what
// the product fixes, Express 5 with @as-integrations/express5 and Apollo Server 5, and nothing
// else (no type-graphql, graphql-shield, mongoose, helmet, CORS, logging, metrics or limits).
// Its distance from the baseline is what Apollo and Express cost; the service's distance from it
// is what this project adds on top.
import http from 'node:http';
import { ApolloServer, HeaderMap } from '@apollo/server';
import {
  ApolloServerPluginCacheControlDisabled,
  ApolloServerPluginLandingPageDisabled,
} from '@apollo/server/plugin/disabled';
import { expressMiddleware } from '@as-integrations/express5';
import express from 'express';
import { GraphQLError } from 'graphql';
import { authenticate, client, ownersLoader, rootValue, schema } from './same-work.mjs';

const apollo = new ApolloServer({
  schema,
  rootValue,
  plugins: [ApolloServerPluginCacheControlDisabled(), ApolloServerPluginLandingPageDisabled()],
});
await apollo.start();

const app = express();
app.disable('x-powered-by');
app.set('etag', false);
app.get('/health', (_req, res) => res.json({ status: 'ok' }));
app.use(
  '/graphql',
  express.json(),
  expressMiddleware(apollo, {
    context: async ({ req }) => {
      try {
        return { user: await authenticate(req.headers.authorization), owners: ownersLoader(), ip: req.ip };
      } catch {
        throw new GraphQLError('invalid token', {
          extensions: { code: 'UNAUTHENTICATED', http: { status: 401, headers: new HeaderMap() } },
        });
      }
    },
  }),
);

const server = http.createServer(app);
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () =>
  server.close(() => Promise.all([apollo.stop(), client.close()]).then(() => process.exit(0))),
);
