import path from 'node:path';

/** Repository (or image) root, from src/core (ts-jest) or dist/core (compiled). */
export const PROJECT_ROOT = path.resolve(__dirname, '..', '..');

/** Where `npm run build` puts the bundled playground. */
export const PLAYGROUND_DIR = path.join(PROJECT_ROOT, 'dist', 'playground');
