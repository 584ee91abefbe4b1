import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Request, type Router } from 'express';
import { PLAYGROUND_DIR } from '../core/paths';

/** A browser asking for a page (not a GraphQL client asking for JSON). */
function wantsHtml(req: Request): boolean {
  return req.accepts(['application/json', 'application/graphql-response+json', 'text/html']) === 'text/html';
}

/**
 * The self-hosted GraphiQL playground: bundled by `npm run build` into dist/playground and
 * served from here, so it works with no internet. At `/playground`, and at `GET /graphql`
 * for browsers (content negotiation on Accept).
 */
export function playgroundRouter(): Router {
  const router = express.Router();
  const index = path.join(PLAYGROUND_DIR, 'index.html');
  const sendIndex: express.RequestHandler = (_req, res) => {
    if (!existsSync(index)) {
      res.status(503).json({ error: 'playground_not_built', message: 'Run `npm run build` to bundle the playground' });
      return;
    }
    res.set('Cache-Control', 'no-cache').sendFile(index);
  };
  router.use(
    '/playground/assets',
    express.static(path.join(PLAYGROUND_DIR, 'assets'), { maxAge: '1h', fallthrough: false }),
  );
  router.get('/playground', sendIndex);
  router.get('/graphql', (req, res, next) => {
    if (req.query.query === undefined && wantsHtml(req)) return sendIndex(req, res, next);
    next();
  });
  return router;
}
