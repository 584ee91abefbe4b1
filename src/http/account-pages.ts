import { existsSync } from 'node:fs';
import path from 'node:path';
import express, { type Router } from 'express';
import { ACCOUNT_PAGES_DIR } from '../core/paths';

/** The pages the default links in account mail open (see config.mail links). */
export const ACCOUNT_PAGES = ['verify-email', 'reset-password', 'confirm-email'] as const;

/**
 * The self-hosted account pages, mounted at `/account` where the playground is enabled: each
 * reads `token` from its URL and completes the flow with one GraphQL request to this origin.
 * Bundled by `npm run build` into dist/playground/account. A frontend that owns these pages
 * points the links elsewhere (VERIFY_EMAIL_URL and the like).
 */
export function accountPagesRouter(): Router {
  const router = express.Router();
  // The bundle holds no token, so browsers may cache it; the pages themselves are never stored.
  router.use('/assets', express.static(path.join(ACCOUNT_PAGES_DIR, 'assets'), { maxAge: '1h', fallthrough: false }));
  for (const page of ACCOUNT_PAGES) {
    const file = path.join(ACCOUNT_PAGES_DIR, `${page}.html`);
    router.get(`/${page}`, (_req, res) => {
      // The URL carries a live token: keep the page out of every cache.
      res.set('Cache-Control', 'no-store');
      if (!existsSync(file)) {
        res
          .status(503)
          .json({ error: 'playground_not_built', message: 'Run `npm run build` to bundle the account pages' });
        return;
      }
      res.sendFile(file);
    });
  }
  return router;
}
