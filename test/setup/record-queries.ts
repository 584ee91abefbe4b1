import { appendFileSync } from 'node:fs';
import path from 'node:path';
import mongoose from 'mongoose';
import { monitorCommandsOnEveryConnection } from '../../src/infra/db';
import { commandShapes, declaredIndexes, QUERY_COMMANDS, shapeKey } from '../helpers/index-coverage';

/**
 * Records the shape of every query the service sends while this test file runs, for the index
 * coverage check in global-teardown.ts. Runs in each test file's own module registry, so the
 * mongoose here is the one the file's servers connect with.
 *
 * Queries a test sends itself to set up or inspect the database (no frame of src/ in their
 * async stack, one of test/) are not the service's and are left out; a query whose origin is
 * unknown is recorded.
 */
const dir = process.env.TEST_QUERY_SHAPES_DIR;
if (dir) {
  monitorCommandsOnEveryConnection();
  const out = path.join(dir, `${process.pid}.jsonl`);
  const file = path.relative(process.cwd(), expect.getState().testPath ?? 'unknown');
  const seen = new Set<string>();
  const indexed = new Set<string>();
  const commands = new Set<string>(QUERY_COMMANDS);
  const root = path.resolve(__dirname, '../..');
  const srcDir = `${path.join(root, 'src')}${path.sep}`;
  const setupDir = `${path.join(root, 'test', 'setup')}${path.sep}`;
  const testDir = `${path.join(root, 'test')}${path.sep}`;

  const sentByTest = (): boolean => {
    const limit = Error.stackTraceLimit;
    Error.stackTraceLimit = 80;
    const stack = new Error().stack ?? '';
    Error.stackTraceLimit = limit;
    const frames = stack.split('\n').filter((line) => !line.includes(setupDir));
    return !frames.some((line) => line.includes(srcDir)) && frames.some((line) => line.includes(testDir));
  };

  mongoose.connection.on('commandStarted', (event: { commandName: string; command: Record<string, unknown> }) => {
    if (!commands.has(event.commandName) || sentByTest()) return;
    for (const shape of commandShapes(event.commandName, event.command)) {
      const key = shapeKey(shape);
      if (seen.has(key)) continue;
      seen.add(key);
      const lines = [JSON.stringify({ shape, file })];
      if (!indexed.has(shape.collection)) {
        indexed.add(shape.collection);
        // From the compiled schemas this file's code registered, so a removed @index shows.
        const models = Object.values(mongoose.models).filter((m) => m.collection.collectionName === shape.collection);
        lines.push(JSON.stringify({ indexes: declaredIndexes(models) }));
      }
      appendFileSync(out, `${lines.join('\n')}\n`);
    }
  });
}
