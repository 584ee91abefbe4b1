import { rm } from 'node:fs/promises';
import type { EmbeddedDatabase } from '../../src/infra/embedded-db';
import { assertRecordedQueriesIndexed } from './index-coverage-report';

/**
 * Stops the database, then checks the queries every test file recorded. It runs here because
 * this is the one place that runs after every worker has finished (a test file ordered last
 * by a sequencer still runs beside others); a throw here fails `npm test` with the list.
 */
export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__TEST_DB__ as
    { db: EmbeddedDatabase; dataDir: string } | undefined;
  if (state) {
    await state.db.stop();
    await rm(state.dataDir, { recursive: true, force: true });
  }
  const queries = process.env.TEST_QUERY_SHAPES_DIR;
  if (!queries) return;
  try {
    await assertRecordedQueriesIndexed(queries);
  } finally {
    await rm(queries, { recursive: true, force: true });
  }
}
