import { readFileSync } from 'node:fs';
import { getOperationAST, parse } from 'graphql';
import { TRUSTED_DOCUMENTS_FILE } from '../../src/core/paths';

/** The committed manifest: `sha256:<hex>` → document text. */
export const MANIFEST = JSON.parse(readFileSync(TRUSTED_DOCUMENTS_FILE, 'utf8')) as Record<string, string>;

/** Operation name → the bare hex hash Apollo's persisted-query link sends (`sha256Hash`). */
export const HASH_BY_OPERATION = new Map(
  Object.entries(MANIFEST).map(([id, text]) => [getOperationAST(parse(text))!.name!.value, id.slice('sha256:'.length)]),
);

export function hashOf(operationName: string): string {
  const hash = HASH_BY_OPERATION.get(operationName);
  if (!hash) throw new Error(`${operationName} is not in the persisted-documents manifest`);
  return hash;
}
