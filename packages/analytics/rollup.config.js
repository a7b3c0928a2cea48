// Builds: ESM for bundlers (browser), ESM + CommonJS for Node, a minified IIFE for the script tag,
// the minified snippet, and bundled type declarations. `pnpm build` then checks the exports map with publint.
import { nodeResolve } from '@rollup/plugin-node-resolve';
import terser from '@rollup/plugin-terser';
import { dts } from 'rollup-plugin-dts';
import esbuild from 'rollup-plugin-esbuild';

const browserTarget = 'es2022';
const minify = terser({
  ecma: 2020,
  module: true,
  toplevel: true,
  compress: { passes: 3, unsafe: true, pure_getters: true, unsafe_arrows: true, unsafe_methods: true },
});

export default [
  {
    input: 'src/browser/index.ts',
    external: ['idb-keyval'],
    plugins: [esbuild({ target: browserTarget })],
    output: { file: 'dist/index.js', format: 'es' },
  },
  {
    input: 'src/node/index.ts',
    plugins: [esbuild({ target: 'node20' })],
    output: [
      { file: 'dist/node.js', format: 'es' },
      { file: 'dist/node.cjs', format: 'cjs' },
    ],
  },
  {
    input: 'src/browser/standalone.ts',
    plugins: [nodeResolve({ browser: true }), esbuild({ target: browserTarget })],
    output: { file: 'dist/analytics.min.js', format: 'iife', plugins: [minify] },
  },
  {
    input: 'src/browser/snippet.js',
    output: { file: 'dist/snippet.min.js', format: 'iife', strict: false, plugins: [terser({ ecma: 5 })] },
  },
  {
    input: 'src/browser/index.ts',
    external: ['idb-keyval'],
    plugins: [dts({ respectExternal: true, tsconfig: 'tsconfig.json' })],
    output: { file: 'dist/index.d.ts', format: 'es' },
  },
  {
    input: 'src/node/index.ts',
    plugins: [dts({ respectExternal: true, tsconfig: 'tsconfig.json' })],
    output: [
      { file: 'dist/node.d.ts', format: 'es' },
      { file: 'dist/node.d.cts', format: 'es' },
    ],
  },
];
