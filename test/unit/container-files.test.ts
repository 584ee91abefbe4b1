import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parse } from 'yaml';
import { isKnownVariable, KNOWN_VARIABLES, loadConfig } from '../../src/core/config';
import { createMetrics } from '../../src/observability/metrics.registry';
import { PROJECT_ROOT, TRUSTED_DOCUMENTS_FILE } from '../../src/core/paths';

/**
 * No Docker engine runs where the tests run, so the container files are checked statically:
 * their structure, and that everything they hand to the API is configuration it understands.
 */

const ROOT = path.resolve(__dirname, '..', '..');
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

type Service = {
  image?: string;
  build?: unknown;
  ports?: Array<string | number | { target: number | string; published?: number | string; host_ip?: string }>;
  environment?: Record<string, string | number | boolean | null> | string[];
  env_file?: unknown;
  secrets?: Array<string | { source: string; target?: string }>;
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: {
    test?: string | string[];
    interval?: string;
    timeout?: string;
    retries?: number;
    start_period?: string;
  };
  volumes?: Array<string | { type?: string; source?: string; target?: string }>;
  profiles?: string[];
};
type Compose = {
  services: Record<string, Service & { command?: string | string[] }>;
  secrets?: Record<string, { file?: string; environment?: string }>;
  volumes?: Record<string, unknown>;
};

/** `environment` in either map form or list form (`KEY=VALUE`, or a bare `KEY` passed through). */
function environmentOf(service: Service): Record<string, string | undefined> {
  const env = service.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((entry) => {
        const eq = entry.indexOf('=');
        return eq === -1 ? [entry, undefined] : [entry.slice(0, eq), entry.slice(eq + 1)];
      }),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v === null ? undefined : String(v)]));
}

/** Compose's `${NAME}` / `${NAME:-default}` interpolation, from the shell environment `shell`. */
function interpolate(env: Record<string, string | undefined>, shell: Record<string, string> = {}) {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => [
      k,
      v?.replace(
        /\$\{(\w+)(?::-([^}]*))?\}/g,
        (_m, name: string, fallback?: string) => shell[name] || (fallback ?? ''),
      ),
    ]),
  );
}

/** Host ports a service publishes, from short (`[ip:]host:container[/proto]`) or long syntax. */
function publishedPorts(service: Service): Array<{ published: number; target: number; hostIp?: string }> {
  return (service.ports ?? []).map((port) => {
    if (typeof port === 'object') {
      return { published: Number(port.published), target: Number(port.target), hostIp: port.host_ip };
    }
    const parts = String(port)
      .replace(/\/(tcp|udp)$/, '')
      .split(':');
    const target = Number(parts.pop());
    const published = parts.length ? Number(parts.pop()) : target;
    return { published, target, hostIp: parts.length ? parts.join(':') : undefined };
  });
}

function secretNames(service: Service): string[] {
  return (service.secrets ?? []).map((s) => (typeof s === 'string' ? s : s.source));
}

function dependencyCondition(service: Service, name: string): string | undefined {
  const deps = service.depends_on;
  if (!deps) return undefined;
  if (Array.isArray(deps)) return deps.includes(name) ? 'service_started' : undefined;
  return deps[name] ? (deps[name].condition ?? 'service_started') : undefined;
}

/** Dockerfile instructions, with comments dropped and `\` continuations joined. */
function dockerInstructions(text: string): Array<{ keyword: string; args: string }> {
  const logical = text
    .split(/\r?\n/)
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\r?\n/g, ' ')
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean);
  return logical.map((line) => {
    const [keyword, ...rest] = line.split(/\s+/);
    return { keyword: keyword!.toUpperCase(), args: rest.join(' ') };
  });
}

describe('docker-compose.yml', () => {
  const compose = parse(read('docker-compose.yml')) as Compose;
  const { api, mongo } = compose.services;
  const mongoExpress = compose.services['mongo-express'];
  const apiEnv = environmentOf(api!);

  it('defines the api, mongo and mongo-express services', () => {
    expect(Object.keys(compose.services)).toEqual(expect.arrayContaining(['api', 'mongo', 'mongo-express']));
    expect(api!.build).toBeDefined();
    expect(mongo!.image).toMatch(/^mongo:/);
    expect(mongoExpress!.image).toMatch(/^mongo-express:/);
  });

  it('publishes the api on port 4000', () => {
    expect(publishedPorts(api!)).toContainEqual(expect.objectContaining({ published: 4000, target: 4000 }));
  });

  it('starts api only once mongo is healthy', () => {
    expect(dependencyCondition(api!, 'mongo')).toBe('service_healthy');
  });

  it('runs redis unpublished with a ping healthcheck, and starts api once it is healthy', () => {
    const redis = compose.services.redis;
    expect(redis?.image).toMatch(/^redis:7(-alpine)?$/);
    expect(redis!.ports ?? []).toEqual([]);
    expect([redis!.healthcheck?.test].flat().join(' ')).toMatch(/redis-cli\b.*\bping\b/);
    expect(dependencyCondition(api!, 'redis')).toBe('service_healthy');
    expect(apiEnv.REDIS_URL).toBe('redis://redis:6379');
  });

  it('gives the api its JWT secret from a Compose secret or env file, never inline', () => {
    expect(apiEnv.JWT_SECRET ?? '').toBe('');
    const file = apiEnv.JWT_SECRET_FILE;
    if (file === undefined) {
      expect(api!.env_file).toBeDefined();
      return;
    }
    const match = /^\/run\/secrets\/([\w.-]+)$/.exec(file);
    expect(match).not.toBeNull();
    const name = match![1]!;
    expect(secretNames(api!)).toContain(name);
    expect(compose.secrets?.[name]?.file).toBeDefined();
  });

  it('keeps secret files out of git', () => {
    for (const secret of Object.values(compose.secrets ?? {})) {
      if (secret.file) expect(path.posix.normalize(secret.file)).toMatch(/^secrets\//);
    }
    expect(read('secrets/.gitignore').split(/\r?\n/)).toEqual(expect.arrayContaining(['*', '!.gitignore']));
  });

  it('reports mongo healthy only after a ping succeeds', () => {
    const check = mongo!.healthcheck;
    expect(check?.test).toBeDefined();
    expect([check!.test].flat().join(' ')).toMatch(/mongosh.*ping/);
    expect(check).toEqual(
      expect.objectContaining({
        interval: expect.any(String),
        timeout: expect.any(String),
        retries: expect.any(Number),
        start_period: expect.any(String),
      }),
    );
  });

  it('keeps mongo data in a named volume declared at top level', () => {
    const dataVolume = (mongo!.volumes ?? [])
      .map((v) => (typeof v === 'string' ? { source: v.split(':')[0], target: v.split(':')[1] } : v))
      .find((v) => v.target === '/data/db');
    expect(dataVolume?.source).toMatch(/^[\w-]+$/); // a name, not a ./host/path
    expect(compose.volumes).toHaveProperty([dataVolume!.source!]);
  });

  it('runs mongo-express only under the admin profile, on port 8083, once mongo is healthy', () => {
    expect(mongoExpress!.profiles).toEqual(['admin']);
    expect(publishedPorts(mongoExpress!)).toContainEqual(expect.objectContaining({ published: 8083, target: 8081 }));
    expect(dependencyCondition(mongoExpress!, 'mongo')).toBe('service_healthy');
  });

  it('runs Mailpit with its web inbox on 127.0.0.1:8025 and points the api at its SMTP port', () => {
    const mailpit = compose.services.mailpit;
    expect(mailpit?.image).toMatch(/^axllent\/mailpit(:|$)/);
    expect(publishedPorts(mailpit!)).toEqual([{ published: 8025, target: 8025, hostIp: '127.0.0.1' }]);
    expect(apiEnv.SMTP_URL).toBe('smtp://mailpit:1025');
    expect(apiEnv.MAIL_FROM).toMatch(/<[^>]+@[^>]+>$/);
    expect(apiEnv.PUBLIC_URL).toBe('http://localhost:4000');
    expect(dependencyCondition(api!, 'mailpit')).toBeDefined();
  });

  it('sets only environment variables the api understands', () => {
    const unknown = Object.keys(apiEnv).filter((name) => !isKnownVariable(name));
    expect(unknown).toEqual([]);
  });

  it('gives the api an environment that loadConfig accepts', () => {
    // What the documented `openssl rand -base64 48` writes (production refuses a repeated character).
    const JWT_SECRET = randomBytes(48).toString('base64');
    const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-secrets-'));
    try {
      const env: Record<string, string | undefined> = interpolate(apiEnv);
      for (const [name, value] of Object.entries(env)) {
        if (!name.endsWith('_FILE') || value === undefined) continue;
        const file = path.join(dir, name);
        writeFileSync(file, name === 'JWT_SECRET_FILE' ? `${JWT_SECRET}\n` : 'placeholder\n');
        env[name] = file;
      }
      const config = loadConfig(env);
      expect(config).toMatchObject({ env: 'production', isProduction: true, port: 4000, host: '0.0.0.0' });
      expect(config.mongodbUri).toMatch(/^mongodb:\/\/mongo:27017\//);
      expect(config.jwt).toMatchObject({ secret: JWT_SECRET, generated: false });
      expect(config.mail).toMatchObject({ transport: 'smtp', smtpUrl: 'smtp://mailpit:1025' });
      expect(config.mail.links.verifyEmail).toBe('http://localhost:4000/account/verify-email?token={token}');
      // Started without OTEL_EXPORTER_OTLP_ENDPOINT in the shell: no tracing.
      expect(config.tracing).toBeUndefined();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('docker-compose.yml: the observability profile', () => {
  const compose = parse(read('docker-compose.yml')) as Compose;
  const { api, prometheus, jaeger } = compose.services;
  const apiEnv = environmentOf(api!);
  const promConfig = parse(read('deploy/prometheus/prometheus.yml')) as {
    rule_files?: string[];
    scrape_configs: Array<{
      job_name: string;
      metrics_path?: string;
      static_configs?: Array<{ targets: string[] }>;
      dns_sd_configs?: Array<{ names: string[]; type?: string; port: number }>;
    }>;
  };
  /** `host:container[:ro]` bind mounts of a service, as { source, target }. */
  const mounts = (service: Service) =>
    (service.volumes ?? []).map((v) =>
      typeof v === 'string'
        ? { source: v.split(':')[0]!, target: v.split(':')[1]! }
        : { source: v.source!, target: v.target! },
    );

  it('runs Prometheus and Jaeger only under the observability profile, with pinned image tags', () => {
    expect(prometheus?.profiles).toEqual(['observability']);
    expect(jaeger?.profiles).toEqual(['observability']);
    expect(prometheus!.image).toMatch(/^prom\/prometheus:v\d+\.\d+\.\d+$/);
    expect(jaeger!.image).toMatch(/^jaegertracing\/jaeger:\d+\.\d+\.\d+$/);
    // The base services stay outside every profile: `docker compose up` is unchanged.
    for (const name of ['api', 'mongo', 'redis', 'mailpit']) expect(compose.services[name]!.profiles).toBeUndefined();
  });

  it('serves the api metrics on the Compose network only, and Prometheus scrapes that service and port', () => {
    expect(apiEnv.METRICS_HOST).toBe('0.0.0.0');
    const metricsPort = Number(apiEnv.METRICS_PORT);
    expect(metricsPort).toBeGreaterThan(0);
    expect(publishedPorts(api!).map((p) => p.target)).not.toContain(metricsPort);

    const job = promConfig.scrape_configs.find((c) => c.job_name === 'api');
    expect(job?.metrics_path ?? '/metrics').toBe('/metrics');
    const targets = [
      ...(job?.static_configs ?? []).flatMap((c) => c.targets),
      ...(job?.dns_sd_configs ?? []).flatMap((c) => c.names.map((n) => `${n}:${c.port}`)),
    ];
    expect(targets).toEqual(['api:' + metricsPort]);
    expect(compose.services).toHaveProperty('api');
  });

  it('mounts committed Prometheus files where its command and rule_files read them', () => {
    const mounted = mounts(prometheus!);
    for (const { source } of mounted.filter((m) => m.source.startsWith('./'))) {
      expect(() => read(source)).not.toThrow();
    }
    const configFile = /--config\.file=(\S+)/.exec([prometheus!.command ?? []].flat().join(' '))?.[1];
    expect(mounted.find((m) => m.target === configFile)?.source).toBe('./deploy/prometheus/prometheus.yml');
    for (const rules of promConfig.rule_files ?? []) {
      expect(mounted.find((m) => m.target === rules)?.source).toBe('./deploy/prometheus/alerts.yml');
    }
    expect(promConfig.rule_files).toHaveLength(1);
    // Its data in a named volume declared at top level.
    const data = mounted.find((m) => m.target === '/prometheus');
    expect(compose.volumes).toHaveProperty([data!.source]);
  });

  it('alerts only on metrics the api exports', () => {
    const metrics = createMetrics();
    const exported = new Set(metrics.registry.getMetricsAsArray().map((m) => m.name));
    // Gauges src/app/server.ts registers at start-up (read at scrape time).
    for (const [, name] of read('src/app/server.ts').matchAll(/metrics\?\.watch\('(\w+)'/g)) exported.add(name!);
    expect(exported).toContain('mail_outbox_backlog');

    const rules = (
      parse(read('deploy/prometheus/alerts.yml')) as {
        groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
      }
    ).groups.flatMap((g) => g.rules);
    expect(rules.length).toBeGreaterThanOrEqual(10);
    const FUNCTIONS = new Set(['sum', 'max', 'min', 'avg', 'rate', 'increase', 'histogram_quantile', 'by', 'without']);
    for (const rule of rules) {
      const names = rule.expr
        .replace(/\{[^}]*\}/g, ' ') // label matchers
        .replace(/\b(by|without)\s*\([^)]*\)/g, ' ') // grouping labels
        .replace(/\[[^\]]*\]/g, ' ') // ranges
        .match(/\b[a-z_][a-z0-9_]*\b/g)!
        .filter((word) => !FUNCTIONS.has(word));
      expect(names.length).toBeGreaterThan(0);
      for (const name of names) {
        // The alert's name in the comparison says which rule names an unknown metric.
        const known = exported.has(name) || exported.has(name.replace(/_(bucket|sum|count)$/, ''));
        expect({ alert: rule.alert, metric: name, known }).toEqual({ alert: rule.alert, metric: name, known: true });
      }
    }
  });

  it('sends traces to Jaeger only when OTEL_EXPORTER_OTLP_ENDPOINT is given, and the documented value reaches Jaeger', () => {
    expect(apiEnv.OTEL_EXPORTER_OTLP_ENDPOINT).toBe('${OTEL_EXPORTER_OTLP_ENDPOINT:-}');
    const env = (shell: Record<string, string>) => {
      const dir = mkdtempSync(path.join(os.tmpdir(), 'compose-otel-'));
      try {
        const e = interpolate(apiEnv, shell);
        const secret = path.join(dir, 'jwt');
        writeFileSync(secret, randomBytes(48).toString('base64'));
        return loadConfig({ ...e, JWT_SECRET_FILE: secret });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    };
    expect(env({}).tracing).toBeUndefined();
    const documented = /OTEL_EXPORTER_OTLP_ENDPOINT=(\S+) docker compose --profile observability/.exec(
      read('docker-compose.yml'),
    )?.[1];
    expect(documented).toBe('http://jaeger:4318');
    expect(read('docs/operating.md')).toContain(
      `OTEL_EXPORTER_OTLP_ENDPOINT=${documented} docker compose --profile observability`,
    );
    expect(env({ OTEL_EXPORTER_OTLP_ENDPOINT: documented! }).tracing?.tracesUrl).toBe('http://jaeger:4318/v1/traces');
    // Jaeger's OTLP/HTTP receiver listens on 4318 on every interface, unpublished.
    expect(environmentOf(jaeger!).JAEGER_LISTEN_HOST).toBe('0.0.0.0');
    expect(publishedPorts(jaeger!).map((p) => p.target)).not.toContain(4318);
  });

  it('publishes the Prometheus and Jaeger UIs on the loopback interface only', () => {
    expect(publishedPorts(prometheus!)).toEqual([{ published: 9090, target: 9090, hostIp: '127.0.0.1' }]);
    expect(publishedPorts(jaeger!)).toEqual([{ published: 16686, target: 16686, hostIp: '127.0.0.1' }]);
  });
});

describe('Dockerfile', () => {
  const instructions = dockerInstructions(read('Dockerfile'));
  const froms = instructions.map((ins, i) => ({ ...ins, i })).filter((ins) => ins.keyword === 'FROM');
  const finalStage = instructions.slice(froms.at(-1)!.i);
  const args = (keyword: string) => finalStage.filter((ins) => ins.keyword === keyword).map((ins) => ins.args);

  it('builds in one stage and runs from another', () => {
    expect(froms.length).toBeGreaterThanOrEqual(2);
    expect(args('COPY').some((a) => /--from=/.test(a) && /dist/.test(a))).toBe(true);
  });

  it('installs only production dependencies in the final stage', () => {
    const installs = args('RUN').filter((a) => /\bnpm (ci|install|i)\b/.test(a));
    expect(installs.length).toBeGreaterThan(0);
    for (const install of installs) expect(install).toContain('--omit=dev');
    expect(args('ENV').join(' ')).toMatch(/NODE_ENV=production/);
  });

  it('runs as a non-root user', () => {
    const user = args('USER').at(-1);
    expect(user).toBeDefined();
    expect(user!.split(':')[0]).not.toMatch(/^(root|0)$/);
  });

  it('copies the trusted-documents manifest to where the server reads it, and the build context has it', () => {
    const manifest = path.relative(PROJECT_ROOT, TRUSTED_DOCUMENTS_FILE);
    const workdir = args('WORKDIR').at(-1)!;
    const copies = args('COPY')
      .filter((a) => !/--from=/.test(a))
      .map((a) => a.split(/\s+/).filter((w) => !w.startsWith('--')));
    const copied = copies.find((words) => words.slice(0, -1).includes(manifest));
    expect(copied).toBeDefined();
    const target = copied!.at(-1)!;
    const resolved = path.posix.resolve(
      workdir,
      target.endsWith('/') ? path.posix.join(target, path.basename(manifest)) : target,
    );
    expect(resolved).toBe(path.posix.join(workdir, manifest));
    // The image's root is the WORKDIR: dist/core/paths.js resolves two folders up from itself.
    expect(args('CMD').at(-1)).toMatch(/"dist\/index\.js"/);
    const ignored = read('.dockerignore')
      .split(/\r?\n/)
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored.filter((pattern) => manifest.startsWith(pattern.replace(/\/$/, '')))).toEqual([]);
  });

  it('exposes port 4000 and checks /health', () => {
    expect(args('EXPOSE').join(' ')).toMatch(/\b4000\b/);
    const healthcheck = args('HEALTHCHECK').at(-1);
    expect(healthcheck).toMatch(/\/health\b/);
    expect(args('CMD').at(-1)).toMatch(/dist\/index\.js/);
  });
});

describe('.env.example', () => {
  const assigned = read('.env.example')
    .split(/\r?\n/)
    .map((line) => /^#?\s*([A-Z][A-Z0-9_]*)=/.exec(line)?.[1])
    .filter((name): name is string => name !== undefined);

  it('documents every variable the configuration understands', () => {
    expect(KNOWN_VARIABLES.filter((name) => !assigned.includes(name))).toEqual([]);
  });

  it('mentions only variables the configuration understands', () => {
    expect(assigned.filter((name) => !isKnownVariable(name))).toEqual([]);
  });

  it('loads as-is with its defaults', () => {
    const env = Object.fromEntries(
      read('.env.example')
        .split(/\r?\n/)
        .map((line) => /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(line))
        .filter((m): m is RegExpExecArray => m !== null)
        .map((m) => [m[1]!, m[2]!]),
    );
    expect(() => loadConfig(env)).not.toThrow();
  });
});
