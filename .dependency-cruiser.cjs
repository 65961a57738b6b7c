/**
 * Import rules, checked by `npm run lint` (`depcruise`): no import cycle between
 * files, none between folders (a folder's files never import a module that imports
 * back into the folder), the engine seam free of the server's heavy parts, and no
 * package reaching into another's sources. The rooms and their order are drawn in
 * docs/architecture.md.
 */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'Files that import each other: move the shared part down into its own module.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'no-circular-folders',
      severity: 'error',
      scope: 'folder',
      comment: 'Folders that import each other: an arrow runs back up; move the shared part into the lower room.',
      from: {},
      to: { circular: true },
    },
    {
      name: 'engine-entry-is-light',
      severity: 'error',
      comment: '@taskwire/server/engine is for engine authors: it must not load Fastify, SQLite, ws or pino.',
      from: { path: '^packages/server/src/(engine/[^/]+\\.ts$|util/)' },
      to: { path: 'node_modules/(fastify|@fastify|better-sqlite3|ws|pino)/' },
    },
    {
      name: 'engine-seam-below-engines',
      severity: 'error',
      comment: 'The seam (engine/*.ts) knows no engine; engines know no other engine.',
      from: { path: '^packages/server/src/engine/([^/]+\\.ts|memory/)' },
      to: { path: '^packages/server/src/engine/sqlite/' },
    },
    {
      name: 'no-reaching-into-other-packages',
      severity: 'error',
      comment: 'A package imports another by its name (@taskwire/…), never by a path into its folder.',
      from: { path: '^packages/([^/]+)/src/' },
      to: { dependencyTypesNot: ['aliased'], path: '^packages/([^/]+)/', pathNot: '^packages/$1/' },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(dist|node_modules)/|\\.test\\.tsx?$|/test/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.check.json' },
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'types', 'default'] },
  },
};
