#!/usr/bin/env node
/**
 * The API documentation of @spritzle/engine and @spritzle/server, from their TSDoc, with TypeDoc:
 *
 *   node docs/build-api-docs.mjs           docs/api/ (HTML), after validating
 *   node docs/build-api-docs.mjs --check   validation only (what CI runs, through test/api-docs.test.ts)
 *
 * Validation fails the build on: an export of a public index without a doc comment (classes, functions,
 * interfaces, type aliases, variables, methods, accessors), a {@link} that resolves nowhere, and a type the
 * public API uses but does not export. TypeDoc runs on the TypeScript 5 of this folder's package.json
 * (TypeDoc needs the compiler's JavaScript API, which the workspace's TypeScript 7 does not have); the
 * sources are read as they are, @spritzle/engine resolved to its sources so the server's pages link to it.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Application, LogLevel } from 'typedoc';

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(HERE, '..');
const { values: args } = parseArgs({ options: { check: { type: 'boolean', default: false } } });

// A tsconfig for TypeDoc alone: the workspace's options, both packages' sources, the engine by its name.
const tsconfig = join(HERE, 'tsconfig.api-docs.json');
writeFileSync(tsconfig, JSON.stringify({
  extends: '../tsconfig.base.json',
  compilerOptions: {
    composite: false, declaration: false, declarationMap: false, noEmit: true, rootDir: '..',
    paths: { '@spritzle/engine': ['../packages/engine/src/index.ts'] },
  },
  include: ['../packages/engine/src', '../packages/server/src', '../types'],
}, null, 2));

// One TypeDoc run per package: each package's index is its own site (docs/api/<package>/).
let failed = false;
for (const pkg of ['engine', 'server']) {
  const app = await Application.bootstrapWithPlugins({
    name: `@spritzle/${pkg}`,
    entryPoints: [join(ROOT, `packages/${pkg}/src/index.ts`)],
    entryPointStrategy: 'resolve',
    tsconfig,
    readme: join(ROOT, `packages/${pkg}/README.md`),
    // No source links: a clone has no (or a local) git remote, which TypeDoc would warn about.
    disableSources: true,
    excludePrivate: true,
    excludeInternal: true,
    logLevel: LogLevel.Warn,
    validation: { notExported: true, invalidLink: true, notDocumented: true, rewrittenLink: true },
    requiredToBeDocumented: ['Class', 'Function', 'Interface', 'TypeAlias', 'Variable', 'Enum', 'Method', 'Accessor'],
    treatValidationWarningsAsErrors: true,
  });
  const project = await app.convert();
  if (!project) {
    failed = true;
    continue;
  }
  app.validate(project);
  if (app.logger.hasErrors() || app.logger.hasWarnings()) {
    console.error(`api docs: @spritzle/${pkg}: fix the above (every export of the public index needs a doc comment)`);
    failed = true;
    continue;
  }
  if (!args.check) {
    await app.generateDocs(project, join(HERE, 'api', pkg));
    console.log(`api docs: ${join(HERE, 'api', pkg, 'index.html')}`);
  }
}
if (failed) process.exit(1);
if (args.check) console.log('api docs: every public export is documented and every link resolves');
