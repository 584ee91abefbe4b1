import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { printAppSchema } from '../app/schema';

/** `npm run schema`: rewrites schema/schema.graphql from the resolvers. */
async function main(): Promise<void> {
  const target = path.resolve(__dirname, '..', '..', 'schema', 'schema.graphql');
  await writeFile(target, await printAppSchema());
  process.stdout.write(`wrote ${path.relative(process.cwd(), target)}\n`);
}

main().catch((err) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exit(1);
});
