#!/usr/bin/env node
/**
 * Finds a redis-server for the test suite, or unpacks Debian's without root.
 *
 *   node scripts/fetch-redis.mjs            prints the path of a usable redis-server
 *   node scripts/fetch-redis.mjs --refresh  re-reads Debian's indexes even when a fetched copy exists
 *
 * Order: $REDIS_SERVER, then `redis-server` on PATH, then a copy fetched earlier into .cache/redis/,
 * then Debian bookworm's packages: the newest redis-server and redis-tools of bookworm,
 * bookworm-updates and bookworm-security, and the libjemalloc2 and liblzf1 they need.
 *
 * Trust: each suite's InRelease is checked with gpgv against Debian's archive keyring (or, where
 * that keyring is absent, fetched again over HTTPS); its SHA256 list checks Packages.xz, and that
 * index checks each .deb. The mirror is reached over plain HTTP, so the hashes alone would prove
 * nothing.
 *
 * In bookworm the server binary is /usr/bin/redis-check-rdb from redis-tools: redis picks its mode
 * from the name it was started under, and redis-server is only a symlink to it. The fetched copy
 * gets bin/redis-server, a wrapper that points the loader at the unpacked libraries and runs that
 * symlink.
 */
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, chmod, mkdir, mkdtemp, readdir, rename, rm, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

const PROJECT_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const REDIS_CACHE_DIR = path.join(PROJECT_ROOT, '.cache', 'redis');

const MIRROR = 'http://deb.debian.org';
const REPOSITORIES = [
  { base: `${MIRROR}/debian`, suite: 'bookworm' },
  { base: `${MIRROR}/debian`, suite: 'bookworm-updates' },
  { base: `${MIRROR}/debian-security`, suite: 'bookworm-security' },
];
const PACKAGES = ['redis-server', 'redis-tools', 'libjemalloc2', 'liblzf1'];
const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';
// Packages.xz of bookworm main is about 9 MB; a slow mirror should fail, not hang the test run.
const DOWNLOAD_TIMEOUT_MS = 5 * 60_000;

/**
 * The path of a usable redis-server, fetching Debian's into `cacheDir` when there is none.
 * @param {{ cacheDir?: string, refresh?: boolean, log?: (message: string) => void }} [options]
 * @returns {Promise<string>}
 */
export async function ensureRedisServer(options = {}) {
  const { cacheDir = REDIS_CACHE_DIR, refresh = false, log = (m) => process.stderr.write(`${m}\n`) } = options;
  const fromEnv = process.env.REDIS_SERVER;
  if (fromEnv) {
    if (!(await isExecutableFile(fromEnv))) throw new Error(`REDIS_SERVER=${fromEnv} is not an executable file`);
    return path.resolve(fromEnv);
  }
  const onPath = await findOnPath('redis-server');
  if (onPath) return onPath;
  if (!refresh) {
    const cached = await newestCached(cacheDir);
    if (cached) return cached;
  }
  return fetchFromDebian(cacheDir, log);
}

/**
 * dpkg's version order (deb-version(7)): epoch, then upstream version, then Debian revision, where
 * `~` sorts before anything, even the end of the string (so 1.0~rc1 < 1.0).
 * @param {string} a
 * @param {string} b
 * @returns {number} negative, zero or positive
 */
export function compareDebianVersions(a, b) {
  const pa = parseVersion(a);
  const pb = parseVersion(b);
  return pa.epoch - pb.epoch || verrevcmp(pa.upstream, pb.upstream) || verrevcmp(pa.revision, pb.revision);
}

function parseVersion(version) {
  const m = /^(?:(\d+):)?(.+?)(?:-([^-]+))?$/.exec(version.trim());
  if (!m) throw new Error(`not a Debian version: ${JSON.stringify(version)}`);
  return { epoch: Number(m[1] ?? 0), upstream: m[2], revision: m[3] ?? '' };
}

const isDigit = (c) => c !== undefined && c >= '0' && c <= '9';

function order(c) {
  if (c === undefined || isDigit(c)) return 0;
  if (c === '~') return -1;
  if (/[A-Za-z]/.test(c)) return c.charCodeAt(0);
  return c.charCodeAt(0) + 256;
}

// A transcription of dpkg's verrevcmp (lib/dpkg/version.c).
function verrevcmp(a, b) {
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    while ((i < a.length && !isDigit(a[i])) || (j < b.length && !isDigit(b[j]))) {
      const diff = order(a[i]) - order(b[j]);
      if (diff) return diff;
      i++;
      j++;
    }
    while (a[i] === '0') i++;
    while (b[j] === '0') j++;
    let firstDiff = 0;
    while (isDigit(a[i]) && isDigit(b[j])) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (isDigit(a[i])) return 1;
    if (isDigit(b[j])) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

async function isExecutableFile(file) {
  try {
    await access(file, constants.X_OK);
    return (await stat(file)).isFile();
  } catch {
    return false;
  }
}

async function findOnPath(name) {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, name);
    if (await isExecutableFile(candidate)) return candidate;
  }
  return undefined;
}

/** The newest complete copy in the cache; unfinished ones live in dot-directories and are skipped. */
async function newestCached(cacheDir) {
  const entries = await readdir(cacheDir, { withFileTypes: true }).catch(() => []);
  const versions = [];
  for (const entry of entries) {
    if (!entry.isDirectory() || entry.name.startsWith('.')) continue;
    if (await isExecutableFile(path.join(cacheDir, entry.name, 'bin', 'redis-server'))) versions.push(entry.name);
  }
  versions.sort(compareDebianVersions);
  const newest = versions.at(-1);
  return newest && path.join(cacheDir, newest, 'bin', 'redis-server');
}

function debianArchitecture() {
  if (process.platform !== 'linux') {
    throw new Error(`Debian's redis-server runs on Linux only; install redis-server or set REDIS_SERVER`);
  }
  const arch = { x64: 'amd64', arm64: 'arm64' }[process.arch];
  if (!arch) throw new Error(`no Debian packages are fetched for ${process.arch}; install redis-server`);
  return arch;
}

async function download(url) {
  let res;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(DOWNLOAD_TIMEOUT_MS) });
  } catch (err) {
    throw new Error(`GET ${url} failed: ${err.cause?.message ?? err.message}`);
  }
  if (!res.ok) throw new Error(`GET ${url} answered HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

function checkDigest(url, data, expected) {
  const sha256 = createHash('sha256').update(data).digest('hex');
  if (sha256 !== expected.sha256 || data.length !== expected.size) {
    throw new Error(
      `${url}: SHA256 ${sha256} (${data.length} bytes) does not match ${expected.sha256} (${expected.size} bytes)`,
    );
  }
}

/** One RFC 822-style stanza (Debian control format) into its fields; continuation lines kept. */
function parseStanza(text) {
  const fields = {};
  let last;
  for (const line of text.split('\n')) {
    if (/^\s/.test(line) && last) fields[last] += `\n${line.trim()}`;
    else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      last = line.slice(0, colon);
      fields[last] = line.slice(colon + 1).trim();
    }
  }
  return fields;
}

/** The signed text of a suite's InRelease: its file list and hashes. */
async function readRelease(repo, workDir, log) {
  const url = `${repo.base}/dists/${repo.suite}/InRelease`;
  let signed;
  const gpgv = await findOnPath('gpgv');
  if (gpgv && (await exists(KEYRING))) {
    const file = path.join(workDir, 'indexes', `${repo.suite}.InRelease`);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, await download(url));
    try {
      // --output - prints only what the signature covers, so nothing unsigned is parsed.
      ({ stdout: signed } = await run(gpgv, ['--keyring', KEYRING, '--output', '-', file], { maxBuffer: 16 << 20 }));
    } catch (err) {
      throw new Error(`${url}: the signature does not verify against ${KEYRING}:\n${err.stderr ?? err.message}`);
    }
  } else {
    const httpsUrl = url.replace(/^http:/, 'https:');
    log(`fetch-redis: gpgv or ${KEYRING} missing; reading ${httpsUrl} over HTTPS instead`);
    signed = clearsignedBody((await download(httpsUrl)).toString('utf8'));
  }
  const fields = parseStanza(signed.replace(/\r/g, ''));
  if (fields.Codename !== repo.suite) throw new Error(`${url}: Codename is ${fields.Codename}, not ${repo.suite}`);
  // An old signed index replayed by the mirror path would pin an old, vulnerable redis.
  if (fields['Valid-Until'] && Date.parse(fields['Valid-Until']) < Date.now()) {
    throw new Error(`${url}: expired (Valid-Until: ${fields['Valid-Until']})`);
  }
  const files = new Map();
  for (const line of (fields.SHA256 ?? '').split('\n')) {
    const [sha256, size, name] = line.trim().split(/\s+/);
    if (name) files.set(name, { sha256, size: Number(size) });
  }
  return files;
}

async function exists(file) {
  return stat(file).then(
    () => true,
    () => false,
  );
}

function clearsignedBody(text) {
  const body =
    /-----BEGIN PGP SIGNED MESSAGE-----\r?\n(?:.+\r?\n)*\r?\n([\s\S]*?)\r?\n-----BEGIN PGP SIGNATURE-----/.exec(text);
  if (!body) throw new Error('InRelease is not a clear-signed message');
  return body[1].replace(/^- /gm, '');
}

function xzDecompress(data, url) {
  return new Promise((resolve, reject) => {
    const child = spawn('xz', ['--decompress', '--stdout'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out = [];
    let err = '';
    child.stdout.on('data', (chunk) => out.push(chunk));
    child.stderr.on('data', (chunk) => (err += chunk));
    child.on('error', (e) =>
      reject(new Error(`cannot run xz to read ${url} (${e.message}); install xz-utils or redis-server`)),
    );
    child.on('close', (code) =>
      code === 0 ? resolve(Buffer.concat(out).toString('utf8')) : reject(new Error(`xz ${url}: ${err}`)),
    );
    child.stdin.on('error', () => undefined); // a failed xz is reported by 'close'
    child.stdin.end(data);
  });
}

/** The stanzas of the wanted packages in one suite's main/binary-<arch>/Packages.xz. */
async function readPackages(repo, arch, workDir, log) {
  const release = await readRelease(repo, workDir, log);
  const name = `main/binary-${arch}/Packages.xz`;
  const expected = release.get(name);
  if (!expected) throw new Error(`${repo.base}/dists/${repo.suite}/InRelease lists no ${name}`);
  const url = `${repo.base}/dists/${repo.suite}/${name}`;
  const data = await download(url);
  checkDigest(url, data, expected);
  const text = await xzDecompress(data, url);
  const wanted = new RegExp(`(?:^|\\n)(Package: (?:${PACKAGES.join('|')})\\n[\\s\\S]*?)(?=\\n\\n|\\n*$)`, 'g');
  return [...text.matchAll(wanted)].map((m) => ({ ...parseStanza(m[1]), base: repo.base }));
}

function newest(stanzas, name, version) {
  const matching = stanzas.filter((s) => s.Package === name && (version === undefined || s.Version === version));
  if (!matching.length) {
    throw new Error(`no ${name}${version ? ` ${version}` : ''} in ${REPOSITORIES.map((r) => r.suite).join(', ')}`);
  }
  return matching.reduce((a, b) => (compareDebianVersions(a.Version, b.Version) >= 0 ? a : b));
}

async function extractDeb(deb, root, scratch) {
  if (await findOnPath('dpkg-deb')) {
    await run('dpkg-deb', ['-x', deb, root]);
    return;
  }
  // A .deb is an ar archive holding data.tar.{xz,zst,gz}; GNU tar detects the compression itself.
  await mkdir(scratch, { recursive: true });
  await run('ar', ['x', path.resolve(deb)], { cwd: scratch });
  const data = (await readdir(scratch)).find((f) => f.startsWith('data.tar'));
  if (!data) throw new Error(`${deb} has no data.tar member`);
  await run('tar', ['-xf', path.join(scratch, data), '-C', root]);
}

/** The directories holding the named shared objects, relative to `root`. */
async function libraryDirs(root, names) {
  const found = new Set();
  const walk = async (dir) => {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (names.includes(entry.name)) found.add(path.relative(root, dir));
    }
  };
  for (const top of ['usr/lib', 'lib']) if (await exists(path.join(root, top))) await walk(path.join(root, top));
  return [...found];
}

function wrapperScript(libDirs) {
  const libs = libDirs.map((d) => `$here/../root/${d}`).join(':');
  return [
    '#!/bin/sh',
    "# Debian's redis-server unpacked without root by scripts/fetch-redis.mjs: the loader finds the",
    '# unpacked libjemalloc and liblzf, and the binary runs as a server because it is started under',
    '# the name redis-server (usr/bin/redis-server is a symlink to redis-check-rdb).',
    'here=$(dirname "$(readlink -f "$0")")',
    `LD_LIBRARY_PATH="${libs}\${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"`,
    'export LD_LIBRARY_PATH',
    'exec "$here/../root/usr/bin/redis-server" "$@"',
    '',
  ].join('\n');
}

async function fetchFromDebian(cacheDir, log) {
  const arch = debianArchitecture();
  await mkdir(cacheDir, { recursive: true });
  // Everything happens in a dot-directory beside the final one and is renamed into place at the
  // end: a concurrent run, or one killed half-way, never leaves a partial tree under a version name.
  const work = await mkdtemp(path.join(cacheDir, '.tmp-'));
  try {
    log(`fetch-redis: no redis-server on PATH; reading Debian's bookworm indexes for ${arch}`);
    const stanzas = (await Promise.all(REPOSITORIES.map((repo) => readPackages(repo, arch, work, log)))).flat();
    const tools = newest(stanzas, 'redis-tools');
    // redis-server pins redis-tools to its own version.
    const chosen = [
      newest(stanzas, 'redis-server', tools.Version),
      tools,
      newest(stanzas, 'libjemalloc2'),
      newest(stanzas, 'liblzf1'),
    ];
    const root = path.join(work, 'root');
    await mkdir(root);
    for (const pkg of chosen) {
      const url = `${pkg.base}/${pkg.Filename}`;
      log(`fetch-redis: ${pkg.Package} ${pkg.Version}: ${url}`);
      const data = await download(url);
      checkDigest(url, data, { sha256: pkg.SHA256, size: Number(pkg.Size) });
      const deb = path.join(work, path.basename(pkg.Filename));
      await writeFile(deb, data);
      await extractDeb(deb, root, path.join(work, 'ar', pkg.Package));
      await rm(deb);
    }
    await rm(path.join(work, 'ar'), { recursive: true, force: true });
    await rm(path.join(work, 'indexes'), { recursive: true, force: true });

    const server = path.join(root, 'usr', 'bin', 'redis-server');
    if (!(await exists(server))) await symlink('redis-check-rdb', server);
    const libDirs = await libraryDirs(root, ['libjemalloc.so.2', 'liblzf.so.1']);
    await mkdir(path.join(work, 'bin'));
    const wrapper = path.join(work, 'bin', 'redis-server');
    await writeFile(wrapper, wrapperScript(libDirs));
    await chmod(wrapper, 0o755);
    await writeFile(
      path.join(work, 'packages.json'),
      `${JSON.stringify(
        chosen.map((p) => ({
          package: p.Package,
          version: p.Version,
          url: `${p.base}/${p.Filename}`,
          sha256: p.SHA256,
        })),
        null,
        2,
      )}\n`,
    );
    // Proves the libraries resolve before anything is cached under a version name.
    const { stdout } = await run(wrapper, ['--version']).catch((err) => {
      throw new Error(`the fetched redis-server does not run: ${err.stderr || err.message}`);
    });
    if (!/Redis server v=/.test(stdout)) throw new Error(`the fetched redis-server printed: ${stdout}`);

    await chmod(work, 0o755); // mkdtemp makes it private
    const final = path.join(cacheDir, tools.Version.replace(/^\d+:/, ''));
    try {
      await rename(work, final);
    } catch (err) {
      // Another run finished the same version first: use its copy.
      if (!['ENOTEMPTY', 'EEXIST'].includes(err.code)) throw err;
      if (!(await isExecutableFile(path.join(final, 'bin', 'redis-server')))) throw err;
    }
    const binary = path.join(final, 'bin', 'redis-server');
    log(`fetch-redis: ${stdout.trim()} at ${binary}`);
    return binary;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  ensureRedisServer({ refresh: process.argv.includes('--refresh') }).then(
    (binary) => process.stdout.write(`${binary}\n`),
    (err) => {
      process.stderr.write(`fetch-redis: ${err.message}\n`);
      process.exitCode = 1;
    },
  );
}
