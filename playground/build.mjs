// Bundles the self-hosted GraphiQL playground into dist/playground, and the account pages (the
// default targets of the links in account mail) into dist/playground/account (no CDN at run time).
import { build } from 'esbuild';
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(here, '..', 'dist', 'playground');

// Each file replaces the old one in a single rename, so a server reading dist/ meanwhile (two
// browser test files rebuild it in parallel) never serves a half-written bundle.
async function put(file, contents) {
  await mkdir(path.dirname(file), { recursive: true });
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, contents);
  await rename(partial, file);
}

async function bundle(options) {
  const result = await build({
    bundle: true,
    minify: true,
    sourcemap: true,
    format: 'iife',
    target: ['es2020'],
    logLevel: 'warning',
    tsconfig: path.join(here, 'tsconfig.json'),
    ...options,
    write: false,
  });
  for (const file of result.outputFiles) await put(file.path, file.contents);
}

const copy = async (from, to) => put(to, await readFile(from));

await bundle({
  entryPoints: [path.join(here, 'main.tsx')],
  outfile: path.join(out, 'assets', 'main.js'),
  jsx: 'automatic',
  loader: { '.woff': 'file', '.woff2': 'file', '.ttf': 'file', '.svg': 'dataurl' },
  define: { 'process.env.NODE_ENV': '"production"' },
});
await copy(path.join(here, 'index.html'), path.join(out, 'index.html'));

const account = path.join(out, 'account');
await bundle({
  entryPoints: [path.join(here, 'account', 'main.ts')],
  outfile: path.join(account, 'assets', 'main.js'),
});
for (const page of ['verify-email', 'reset-password', 'confirm-email']) {
  await copy(path.join(here, 'account', `${page}.html`), path.join(account, `${page}.html`));
}
console.log(`playground and account pages built into ${path.relative(process.cwd(), out)}`);
