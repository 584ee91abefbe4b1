import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const ROOT = path.resolve(__dirname, '..', '..');

/**
 * Bundles the playground and the account pages into dist/playground, the same step as
 * `npm run build`. Every test file that requests those pages calls it: on a fresh clone nothing
 * else has built them, and jest's file order is not fixed. The build replaces each file in one
 * rename, so files building at the same time never serve each other a half-written page.
 */
export async function buildBundles(): Promise<void> {
  await promisify(execFile)(process.execPath, [path.join(ROOT, 'playground', 'build.mjs')], { cwd: ROOT });
}
