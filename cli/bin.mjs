#!/usr/bin/env node
// The package bin: runs the TypeScript CLI through tsx so `wsim` works without a build step.
import { register } from 'tsx/esm/api';
register();
await import('./main.ts');
