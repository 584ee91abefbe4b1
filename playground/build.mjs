// Bundles the self-hosted GraphiQL playground into dist/playground, and the account pages (the
// default targets of the links in account mail) into dist/playground/account (no CDN at run time).
import { build } from 'esbuild';
import { copyFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '..', 'dist', 'playground');
await mkdir(path.join(out, 'assets'), { recursive: true });
await build({
  entryPoints: [path.join(here, 'main.tsx')],
  outfile: path.join(out, 'assets', 'main.js'),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  target: ['es2020'],
  jsx: 'automatic',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
  logLevel: 'warning',
  tsconfig: path.join(here, 'tsconfig.json'),
});
await copyFile(path.join(here, 'index.html'), path.join(out, 'index.html'));

const account = path.join(out, 'account');
await mkdir(path.join(account, 'assets'), { recursive: true });
await build({
  entryPoints: [path.join(here, 'account', 'main.ts')],
  outfile: path.join(account, 'assets', 'main.js'),
  bundle: true,
  minify: true,
  sourcemap: true,
  format: 'iife',
  target: ['es2020'],
  logLevel: 'warning',
  tsconfig: path.join(here, 'tsconfig.json'),
});
for (const page of ['verify-email', 'reset-password', 'confirm-email']) {
  await copyFile(path.join(here, 'account', `${page}.html`), path.join(account, `${page}.html`));
}
console.log(`playground and account pages built into ${path.relative(process.cwd(), out)}`);
