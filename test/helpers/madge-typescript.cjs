// Preloaded into madge (test/no-cycles.test.ts): madge parses TypeScript with
// typescript-estree, which needs TypeScript 5's JavaScript API; the project
// compiles with TypeScript 7, whose package has none. `typescript5` is
// TypeScript 5 installed under another name; this hands it to madge.
const Module = require('node:module');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return resolve.call(this, request === 'typescript' ? 'typescript5' : request, ...rest);
};
