import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser } from 'playwright-core';

const ROOT = path.resolve(__dirname, '..', '..');
const SYSTEM_CHROMIUM = '/usr/bin/chromium';

/**
 * Flags for a headless browser on a machine whose network is closed: without the background
 * networking ones Chromium keeps trying to reach Google's hosts. `--no-sandbox` because CI runs
 * as root. Never `--disable-web-security` (which @sparticuz/chromium's own `args` include): the
 * tests rely on the same-origin policy, CSP and CORS working as in a user's browser.
 */
const ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

/**
 * Which Chromium the browser tests drive. `TEST_CHROMIUM` may name a binary, or be `npm` to use
 * the one @sparticuz/chromium carries; by default Debian's `/usr/bin/chromium` when installed,
 * else the npm one, so `npm install && npm test` needs no system package.
 */
export async function launchChromium(): Promise<Browser> {
  const choice = process.env.TEST_CHROMIUM;
  if (choice && choice !== 'npm') {
    if (!existsSync(choice)) throw new Error(`TEST_CHROMIUM=${choice} does not exist`);
    return chromium.launch({ executablePath: choice, headless: true, args: ARGS });
  }
  if (!choice && existsSync(SYSTEM_CHROMIUM))
    return chromium.launch({ executablePath: SYSTEM_CHROMIUM, headless: true, args: ARGS });
  const dir = await unpackNpmChromium();
  return chromium.launch({
    executablePath: path.join(dir, 'chromium'),
    headless: true,
    args: ARGS,
    env: {
      ...process.env,
      // NSS/NSPR and expat from the package, so the binary needs nothing from the system beyond glibc.
      LD_LIBRARY_PATH: [path.join(dir, 'al2023', 'lib'), process.env.LD_LIBRARY_PATH].filter(Boolean).join(':'),
      FONTCONFIG_PATH: path.join(dir, 'fonts'),
      FONTCONFIG_FILE: path.join(dir, 'fonts', 'fonts.conf'),
    },
  });
}

/**
 * @sparticuz/chromium ships Chromium (headless shell) brotli-compressed inside the npm package and
 * unpacks it into the OS temp folder. It is unpacked once per package version into
 * `.cache/chromium/<version>/`: each caller unpacks into its own staging folder (the package's
 * `executablePath()` writes to `TMPDIR`) and renames it into place, so two jest workers starting
 * at once never launch a half-written binary.
 */
async function unpackNpmChromium(): Promise<string> {
  // Its `exports` hide package.json from require.resolve; it is a direct dev dependency.
  const pkg = path.join(ROOT, 'node_modules', '@sparticuz', 'chromium');
  const { version } = JSON.parse(readFileSync(path.join(pkg, 'package.json'), 'utf8')) as { version: string };
  const parent = path.join(ROOT, '.cache', 'chromium');
  const dir = path.join(parent, version);
  if (existsSync(path.join(dir, 'chromium'))) return dir;

  await mkdir(parent, { recursive: true });
  const staging = await mkdtemp(path.join(parent, `.${version}-`));
  try {
    // The package is ESM only, which jest's CommonJS module registry cannot load: a child node does it.
    const script = `
      const { default: chromium, inflate } = await import('@sparticuz/chromium');
      await chromium.executablePath();
      await inflate(${JSON.stringify(path.join(pkg, 'bin', 'al2023.tar.br'))});`;
    await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: ROOT,
      env: { ...process.env, TMPDIR: staging },
    });
    // The package's fonts.conf names Lambda's folders; point fontconfig at the unpacked fonts instead.
    await writeFile(
      path.join(staging, 'fonts', 'fonts.conf'),
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n  <dir>${path.join(dir, 'fonts', 'fonts')}</dir>\n  <cachedir>${path.join(dir, 'fonts-cache')}</cachedir>\n</fontconfig>\n`,
    );
    await rename(staging, dir).catch(async (err: NodeJS.ErrnoException) => {
      // Another worker got there first: use its copy.
      if (!existsSync(path.join(dir, 'chromium'))) throw err;
    });
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
  return dir;
}
