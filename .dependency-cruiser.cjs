// @ts-check
/**
 * The import rules of src/ (run by `npm run lint`, and by test/architecture.spec.ts,
 * which also plants violations to prove that each rule fails):
 * - layers: a module imports only modules below it in LAYERS (never a sibling of
 *   its own layer, never one above);
 * - public surface: another module is imported through its index.ts only;
 * - the generated Prisma client belongs to the database module;
 * - no import cycles.
 * Specs may import test support; they are left out.
 */

/** Bottom to top; modules on one line share a layer and must not import each other. */
const LAYERS = [
  ['config'],
  ['common'],
  ['database'],
  ['telemetry'],
  ['access-control'],
  ['keys'],
  ['encryption'],
  ['auth'],
  ['key-rotation', 'metrics', 'health'],
  ['cli'],
  ['web'],
];

const layerOf = (module) => LAYERS.findIndex((layer) => layer.includes(module));
const notBelow = (module) =>
  LAYERS.flat().filter((other) => other !== module && layerOf(other) >= layerOf(module));

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    ...LAYERS.flat().map((module) => ({
      name: `layers: ${module}`,
      comment: `${module} may import only modules below it (see LAYERS in .dependency-cruiser.cjs)`,
      severity: 'error',
      from: { path: `^src/${module}/` },
      to: { path: `^src/(${notBelow(module).join('|')})/` },
    })),
    {
      name: 'layers: root',
      comment: 'No module imports the application root (main, app.module, app.factory); the command line may',
      severity: 'error',
      from: { path: '^src/[^/]+/', pathNot: '^src/cli/' },
      to: { path: '^src/[^/]+\\.ts$' },
    },
    {
      name: 'public surface',
      comment: "Another module is used through its index.ts only, never its internals",
      severity: 'error',
      from: { path: '^src/([^/]+)/' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/$1/', '^src/[^/]+/index\\.ts$', '^src/generated/'] },
    },
    {
      name: 'public surface: root',
      comment: 'The application root uses modules through their index.ts too',
      severity: 'error',
      from: { path: '^src/[^/]+\\.ts$' },
      to: { path: '^src/[^/]+/', pathNot: ['^src/[^/]+/index\\.ts$'] },
    },
    {
      name: 'generated client',
      comment: 'Only the database module imports the generated Prisma client',
      severity: 'error',
      from: { path: '^src/', pathNot: ['^src/database/', '^src/generated/'] },
      to: { path: '^src/generated/' },
    },
    {
      name: 'no cycles',
      severity: 'error',
      from: { path: '^src/' },
      to: { circular: true },
    },
  ],
  options: {
    includeOnly: '^src/',
    exclude: { path: ['\\.spec\\.ts$', '\\.repo-spec\\.ts$'] },
    doNotFollow: { path: ['node_modules', '^src/generated/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    moduleSystems: ['cjs', 'es6'],
  },
};
