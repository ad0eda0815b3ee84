#!/usr/bin/env node
// Import cycles among the TypeScript sources of packages/*/src (type-only imports count: a cycle of types
// is still two modules that cannot be understood apart). Prints each cycle; exits 1 if there is one.
//
//   node scripts/check-cycles.mjs [root]
import { readdirSync, readFileSync, existsSync } from 'node:fs';
import { join, dirname, resolve, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(process.argv[2] ?? dirname(dirname(fileURLToPath(import.meta.url))));

function* sources(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) yield* sources(p);
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) yield p;
  }
}

/** Relative specifiers of `import … from`, `export … from`, `import '…'` and `import('…')`. */
const SPECIFIER = /(?:\bfrom\s*|\bimport\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g;

export function importGraph(files) {
  const graph = new Map();
  for (const file of files) {
    const text = readFileSync(file, 'utf8').replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, '');
    const deps = new Set();
    for (const m of text.matchAll(SPECIFIER)) {
      const target = resolve(dirname(file), m[1]).replace(/\.js$/, '');
      for (const candidate of [`${target}.ts`, `${target}.tsx`, join(target, 'index.ts')]) {
        if (existsSync(candidate)) {
          deps.add(candidate);
          break;
        }
      }
    }
    graph.set(file, deps);
  }
  return graph;
}

/** Strongly connected components of more than one module (or a module importing itself): Tarjan's algorithm. */
export function cycles(graph) {
  let index = 0;
  const stack = [], onStack = new Set(), idx = new Map(), low = new Map(), out = [];
  const visit = (v) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v), low.get(w)));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v), idx.get(w)));
    }
    if (low.get(v) === idx.get(v)) {
      const scc = [];
      let w;
      do {
        w = stack.pop();
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || graph.get(v)?.has(v)) out.push(scc.reverse());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return out;
}

const pkgs = join(root, 'packages');
const files = [];
for (const p of readdirSync(pkgs)) {
  const src = join(pkgs, p, 'src');
  if (existsSync(src)) files.push(...sources(src));
}
const found = cycles(importGraph(files));
for (const scc of found) console.log(`import cycle: ${scc.map((f) => relative(root, f)).join(' ↔ ')}`);
console.log(`${files.length} modules, ${found.length} import cycle(s)`);
process.exitCode = found.length > 0 ? 1 : 0;
