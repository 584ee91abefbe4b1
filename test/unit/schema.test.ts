import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import { promisify } from 'node:util';
import { buildSchema, concatAST, parse, validate, type DocumentNode } from 'graphql';
import { parse as parseYaml, stringify } from 'yaml';
import { printAppSchema } from '../../src/app/schema';

const ROOT = path.resolve(__dirname, '..', '..');
const OPERATIONS_DIR = path.join(ROOT, 'schema', 'operations');

const PUBLIC_OPERATIONS = [
  'register',
  'login',
  'refreshToken',
  'logout',
  'logoutAll',
  'sessions',
  'revokeSession',
  'changePassword',
  'me',
  'users',
  'setUserRole',
  'setUserDisabled',
  'unlockUser',
  'updateProfile',
  'deleteAccount',
  'deleteUser',
  'requestEmailVerification',
  'verifyEmail',
  'requestPasswordReset',
  'resetPassword',
  'requestEmailChange',
  'confirmEmailChange',
  'item',
  'items',
  'createItem',
  'updateItem',
  'deleteItem',
  'itemEvents',
  'auditEvents',
  'apiKeys',
  'createApiKey',
  'revokeApiKey',
  'beginTotpSetup',
  'confirmTotpSetup',
  'disableTotp',
  'regenerateRecoveryCodes',
  'resetUserTotp',
  'requestSignInCode',
  'signInWithCode',
];

async function operationSources(): Promise<Array<{ file: string; source: string }>> {
  const files = (await readdir(OPERATIONS_DIR)).filter((f) => f.endsWith('.graphql')).sort();
  return Promise.all(
    files.map(async (file) => ({ file, source: await readFile(path.join(OPERATIONS_DIR, file), 'utf8') })),
  );
}

describe('schema/schema.graphql', () => {
  it('is exactly the schema the server builds (run `npm run schema` after an API change)', async () => {
    const committed = await readFile(path.join(ROOT, 'schema', 'schema.graphql'), 'utf8');
    expect(committed).toBe(await printAppSchema());
  });
});

describe('schema/operations', () => {
  let document: DocumentNode;

  beforeAll(async () => {
    document = concatAST((await operationSources()).map(({ source }) => parse(source)));
  });

  it('are all valid against the committed schema', async () => {
    const schema = buildSchema(await readFile(path.join(ROOT, 'schema', 'schema.graphql'), 'utf8'));
    expect(validate(schema, document)).toEqual([]);
  });

  it('cover every public operation', () => {
    const rootFields = new Set<string>();
    for (const def of document.definitions) {
      if (def.kind !== 'OperationDefinition') continue;
      for (const sel of def.selectionSet.selections) if (sel.kind === 'Field') rootFields.add(sel.name.value);
    }
    expect([...rootFields].sort()).toEqual([...PUBLIC_OPERATIONS].sort());
  });

  it('give every operation and fragment a one-line comment', async () => {
    for (const { file, source } of await operationSources()) {
      const lines = source.split('\n');
      lines.forEach((line, i) => {
        if (/^(query|mutation|subscription|fragment) /.test(line)) {
          expect({ file, line, comment: lines[i - 1]?.startsWith('# ') ?? false }).toEqual({
            file,
            line,
            comment: true,
          });
        }
      });
    }
  });
});

describe('codegen output (schema/generated)', () => {
  it('is up to date with the schema and operations (run `npm run codegen`)', async () => {
    // Generate the same configuration into a scratch folder and compare it with the committed files.
    const config = parseYaml(await readFile(path.join(ROOT, 'codegen.yml'), 'utf8'));
    const [target, output] = Object.entries(config.generates as Record<string, unknown>)[0]!;
    const scratch = await mkdtemp(path.join(os.tmpdir(), 'codegen-'));
    try {
      const scratchConfig = path.join(scratch, 'codegen.yml');
      await writeFile(scratchConfig, stringify({ ...config, generates: { [`${scratch}/out/`]: output } }));
      await promisify(execFile)(
        path.join(ROOT, 'node_modules', '.bin', 'graphql-codegen'),
        ['--config', scratchConfig, '--silent'],
        { cwd: ROOT },
      );
      const files = (await readdir(path.join(scratch, 'out'))).sort();
      expect(files).toEqual((await readdir(path.join(ROOT, target))).sort());
      for (const file of files) {
        const fresh = await readFile(path.join(scratch, 'out', file), 'utf8');
        const committed = await readFile(path.join(ROOT, target, file), 'utf8');
        expect({ file, content: committed }).toEqual({ file, content: fresh });
      }
    } finally {
      await rm(scratch, { recursive: true, force: true });
    }
  }, 60_000);
});
