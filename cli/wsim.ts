#!/usr/bin/env node
// The package bin, compiled to dist/cli/wsim.js: plain Node, no tsx. (Working in the
// repository, `npm run wsim --` runs the TypeScript sources through tsx instead.)
import './main.ts';
