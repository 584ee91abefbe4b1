// Same-work baseline: the practical limit of this stack for the benchmarked operations. Node's
// http around bench/same-work.mjs (graphql-js `execute` on the same SDL, cached documents, the raw
// mongodb driver), doing the same database round trips as the service for each operation.
import http from 'node:http';
import { execute } from 'graphql';
import { authenticate, client, ownersLoader, prepare, rootValue, schema } from './same-work.mjs';

function send(res, status, payload) {
  const body = JSON.stringify(payload);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

const server = http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', async () => {
    try {
      const { query, variables } = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      const { document, errors } = prepare(query);
      if (errors.length) return send(res, 400, { errors: errors.map((e) => ({ message: e.message })) });
      let user = null;
      try {
        user = await authenticate(req.headers.authorization);
      } catch {
        return send(res, 401, { errors: [{ message: 'invalid token', extensions: { code: 'UNAUTHENTICATED' } }] });
      }
      const result = await execute({
        schema,
        document,
        rootValue,
        variableValues: variables,
        contextValue: { user, owners: ownersLoader(), ip: req.socket.remoteAddress },
      });
      send(res, 200, result);
    } catch (err) {
      send(res, 500, { errors: [{ message: String(err?.message ?? err) }] });
    }
  });
});
server.keepAliveTimeout = 5000;
server.listen(Number(process.env.PORT ?? 0), process.env.HOST ?? '127.0.0.1');
process.on('SIGTERM', () => server.close(() => client.close().then(() => process.exit(0))));
