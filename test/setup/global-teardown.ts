import { rm } from 'node:fs/promises';
import type { EmbeddedDatabase } from '../../src/core/embedded-db';

export default async function globalTeardown(): Promise<void> {
  const state = (globalThis as Record<string, unknown>).__TEST_DB__ as
    { db: EmbeddedDatabase; dataDir: string } | undefined;
  if (!state) return;
  await state.db.stop();
  await rm(state.dataDir, { recursive: true, force: true });
}
