import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * scripts/fetch-redis.mjs is an ES module, which jest's module sandbox does not load without
 * --experimental-vm-modules, so its exports are called in a child node process.
 */
const SCRIPT = path.resolve(__dirname, '..', '..', 'scripts', 'fetch-redis.mjs');

function callScript(code: string, input: unknown, env: NodeJS.ProcessEnv = process.env): any {
  const program = `import * as m from ${JSON.stringify(SCRIPT)};
const input = JSON.parse(process.argv[1]);
const out = await (${code});
process.stdout.write(JSON.stringify(out ?? null));`;
  const stdout = execFileSync(process.execPath, ['--input-type=module', '-e', program, JSON.stringify(input)], {
    encoding: 'utf8',
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return JSON.parse(stdout);
}

describe('compareDebianVersions', () => {
  it('orders versions as dpkg does', () => {
    // [a, b, sign of a - b], as `dpkg --compare-versions` answers.
    const cases: Array<[string, string, number]> = [
      ['5:7.0.15-1~deb12u10', '5:7.0.15-1~deb12u7', 1], // numbers compare as numbers
      ['5:7.0.15-1~deb12u7', '5:7.0.15-1', -1], // ~ sorts before the end of the string
      ['1.0~rc1', '1.0', -1],
      ['1.0~~', '1.0~', -1],
      ['1:0.1', '2.0', 1], // the epoch comes first
      ['1.0', '1.0-1', -1], // no revision sorts first
      ['1.0a', '1.0', 1],
      ['1.0+b1', '1.0', 1],
      ['1.0.0', '1.0', 1],
      ['1.10', '1.9', 1],
      ['3.6-3', '3.6-3', 0],
    ];
    const signs = callScript(
      'input.map(([a, b]) => Math.sign(m.compareDebianVersions(a, b)))',
      cases.map(([a, b]) => [a, b]),
    );
    expect(signs).toEqual(cases.map(([, , sign]) => sign));
  });
});

describe('ensureRedisServer without the network', () => {
  let dir: string;
  const fakeBinary = (file: string) => {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, '#!/bin/sh\n');
    chmodSync(file, 0o755);
    return file;
  };
  const env = (extra: NodeJS.ProcessEnv) => {
    const { REDIS_SERVER: _ignored, ...rest } = process.env;
    return { ...rest, PATH: path.join(dir, 'empty-path'), ...extra };
  };
  const ensure = (extra: NodeJS.ProcessEnv) =>
    callScript('m.ensureRedisServer({ cacheDir: input, log: () => {} })', path.join(dir, 'cache'), env(extra));

  beforeEach(() => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'fetch-redis-test-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('uses REDIS_SERVER first, and refuses one that is not an executable file', () => {
    const binary = fakeBinary(path.join(dir, 'custom', 'redis-server'));
    fakeBinary(path.join(dir, 'bin', 'redis-server'));
    expect(ensure({ REDIS_SERVER: binary, PATH: path.join(dir, 'bin') })).toBe(binary);
    expect(() => ensure({ REDIS_SERVER: path.join(dir, 'missing') })).toThrow(
      `REDIS_SERVER=${path.join(dir, 'missing')} is not an executable file`,
    );
  });

  it('uses a redis-server on PATH before any fetched copy', () => {
    const onPath = fakeBinary(path.join(dir, 'bin', 'redis-server'));
    fakeBinary(path.join(dir, 'cache', '7.0.15-1~deb12u10', 'bin', 'redis-server'));
    expect(ensure({ PATH: `${path.join(dir, 'nothing')}:${path.join(dir, 'bin')}` })).toBe(onPath);
  });

  it('reuses the newest complete fetched copy, skipping unfinished ones', () => {
    const cache = path.join(dir, 'cache');
    fakeBinary(path.join(cache, '7.0.15-1~deb12u7', 'bin', 'redis-server'));
    const newest = fakeBinary(path.join(cache, '7.0.15-1~deb12u10', 'bin', 'redis-server'));
    fakeBinary(path.join(cache, '.tmp-abc123', 'bin', 'redis-server')); // a run still unpacking
    mkdirSync(path.join(cache, '7.2.0-1')); // no bin/redis-server: not a complete copy
    expect(ensure({})).toBe(newest);
  });
});
