import path from 'node:path';

/** Repository (or image) root, from src/core (ts-jest) or dist/core (compiled). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** Where `npm run build` puts the bundled playground. */
export const PLAYGROUND_DIR = path.join(PROJECT_ROOT, 'dist', 'playground');

/** The bundled account pages (verify email, reset password, confirm email change). */
export const ACCOUNT_PAGES_DIR = path.join(PLAYGROUND_DIR, 'account');

/** The persisted-documents manifest `npm run codegen` writes (TRUSTED_DOCUMENTS); the image copies it. */
export const TRUSTED_DOCUMENTS_FILE = path.join(PROJECT_ROOT, 'schema', 'generated', 'persisted-documents.json');
