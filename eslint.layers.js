// @ts-check
const fs = require('node:fs');
const path = require('node:path');
/**
 * The layers of src/ and the order of its features, enforced by eslint-plugin-boundaries in
 * `npm run lint`. Each layer may import itself and the layers below it; each feature may import
 * only the features before it in FEATURES. Type-only imports are free (they vanish at compile
 * time and create no load order). Together these rule out import cycles between the top-level
 * folders of src/. docs/architecture.md explains the layers.
 */
const LAYERS = [
  { type: 'core', pattern: 'src/core' }, // the kernel: config, errors, logger, validation, the module contract
  { type: 'observability', pattern: 'src/observability' }, // metrics, traces
  { type: 'infra', pattern: 'src/infra' }, // database, embedded engine, event buses, rate-limit storage
  { type: 'http', pattern: 'src/http' }, // the edge: headers, CORS, documents, limits, errors, access rules
  { type: 'feature', pattern: 'src/*', capture: ['name'] }, // one folder per feature
  { type: 'app', pattern: 'src/app' }, // the composition root
  { type: 'entry', pattern: 'src/cli' }, // the CLI (src/index.ts, the process, is above everything)
];

/**
 * Features, each built on the ones before it, in the order of the module list in
 * src/app/modules.ts, which is read here so that the list stays the one place a feature is added:
 * each entry `fooModule` is imported from `../<folder>/<folder>.module`.
 */
function featureOrder() {
  const source = fs.readFileSync(path.join(__dirname, 'src/app/modules.ts'), 'utf8');
  const folderOf = new Map(
    [...source.matchAll(/import \{ (\w+) \} from '\.\.\/(\w+)\/\2\.module';/g)].map(([, name, folder]) => [
      name,
      folder,
    ]),
  );
  const list = /MODULES[^=]*=\s*\[([^\]]*)\]/.exec(source)?.[1] ?? '';
  const order = list
    .split(',')
    .map((entry) => entry.trim())
    .filter(Boolean)
    .map((entry) => folderOf.get(entry));
  if (order.length === 0 || order.some((folder) => !folder))
    throw new Error('eslint.layers.js: cannot read the module list of src/app/modules.ts');
  return order;
}
const FEATURES = featureOrder();

const element = (type, captured) => ({ element: { type, ...(captured && { captured }) } });
const below = (type) => LAYERS.slice(0, LAYERS.findIndex((l) => l.type === type) + 1).map((l) => l.type);

const policies = [
  // A type-only import carries no code.
  { allow: { dependency: { kind: 'type' } } },
  ...LAYERS.filter((l) => l.type !== 'feature').map((l) => ({
    from: element(l.type),
    allow: { to: below(l.type).map((type) => element(type)) },
  })),
  ...FEATURES.map((name, i) => ({
    from: element('feature', { name }),
    allow: {
      to: [...below('http').map((type) => element(type)), element('feature', { name: FEATURES.slice(0, i + 1) })],
    },
  })),
];

// The first matching pattern classifies a file: the named layers before the feature catch-all.
const elements = [...LAYERS.filter((l) => l.type !== 'feature'), LAYERS.find((l) => l.type === 'feature')];

module.exports = { elements, policies, FEATURES };
