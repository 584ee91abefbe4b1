import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import {
  checkShape,
  INDEX_COVERAGE_EXCEPTIONS,
  shapeKey,
  uncoveredReport,
  type DeclaredIndex,
  type QueryShape,
} from '../helpers/index-coverage';

export interface RecordedQueries {
  shapes: QueryShape[];
  indexes: DeclaredIndex[];
  /** Shape key -> the test files during which the service sent it. */
  origins: Map<string, string[]>;
}

/** Reads what test/setup/record-queries.ts wrote in every worker. */
export async function readRecordedQueries(dir: string): Promise<RecordedQueries> {
  const shapes = new Map<string, QueryShape>();
  const origins = new Map<string, string[]>();
  const indexes = new Map<string, DeclaredIndex>();
  for (const name of (await readdir(dir)).filter((n) => n.endsWith('.jsonl'))) {
    for (const line of (await readFile(path.join(dir, name), 'utf8')).split('\n')) {
      if (!line) continue;
      const entry = JSON.parse(line) as { shape?: QueryShape; file?: string; indexes?: DeclaredIndex[] };
      for (const ix of entry.indexes ?? []) indexes.set(JSON.stringify(ix), ix);
      if (!entry.shape) continue;
      const key = shapeKey(entry.shape);
      shapes.set(key, entry.shape);
      const files = origins.get(key) ?? [];
      if (entry.file && !files.includes(entry.file)) files.push(entry.file);
      origins.set(key, files);
    }
  }
  // Every collection has its unique _id index, model or not.
  for (const collection of new Set([...shapes.values()].map((s) => s.collection))) {
    const id: DeclaredIndex = { collection, key: [['_id', 1]], unique: true };
    indexes.set(JSON.stringify(id), id);
  }
  return { shapes: [...shapes.values()], indexes: [...indexes.values()], origins };
}

/** Throws a list of the recorded queries no declared index serves (and no listed exception covers). */
export async function assertRecordedQueriesIndexed(dir: string): Promise<number> {
  const { shapes, indexes, origins } = await readRecordedQueries(dir);
  const verdicts = shapes.map((s) => checkShape(s, indexes, INDEX_COVERAGE_EXCEPTIONS));
  if (verdicts.some((v) => !v.covered)) {
    throw new Error(
      'Index coverage: these queries the test suite sent are served by no index the models declare ' +
        '(ESR: equality, then sort, then range fields as a prefix of one index). Add an @index to the model, ' +
        'or list the query in INDEX_COVERAGE_EXCEPTIONS (test/helpers/index-coverage.ts) with the reason:\n' +
        uncoveredReport(verdicts, origins),
    );
  }
  return shapes.length;
}
