/**
 * Reads PROTOCOL.md: its tables (requirements with their covering tests, the
 * limits, the hash vectors, the error and close codes) and where a covering
 * test is said to be. Pure parsing and file look-ups; the spec judges.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';

// ---- types -----------------------------------------------------------------

/** A test named by the doc: a spec file and a piece of one of its test titles. */
export interface TestRef {
  file: string;
  title: string;
}

export interface Requirement {
  id: string;
  text: string;
  refs: TestRef[];
}

/** A markdown table: header cells, then rows of cells. */
export interface Table {
  header: string[];
  rows: string[][];
}

export const ROOT = path.resolve(import.meta.dirname, '../..');
export const ID_PATTERN = /\bWS-[A-Z]+-\d+\b/g;

// ---- tables ----------------------------------------------------------------

function cells(line: string): string[] {
  return line.trim().replace(/^\|/, '').replace(/\|$/, '').split('|').map((c) => c.trim());
}

const isSeparator = (row: string[]): boolean => row.every((c) => /^:?-{3,}:?$/.test(c));

/** Every table of a markdown text (runs of lines starting with '|' outside code blocks). */
export function tables(markdown: string): Table[] {
  const out: Table[] = [];
  let current: string[][] | null = null;
  let inCode = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) inCode = !inCode;
    if (!inCode && line.trim().startsWith('|')) {
      (current ??= []).push(cells(line));
      continue;
    }
    if (current) out.push(toTable(current));
    current = null;
  }
  if (current) out.push(toTable(current));
  return out;
}

function toTable(lines: string[][]): Table {
  const [header = [], ...rest] = lines;
  return { header, rows: rest.filter((r) => !isSeparator(r)) };
}

/** The tables whose header is exactly these cells. */
export function tablesWith(all: Table[], header: string[]): Table[] {
  return all.filter((t) => t.header.join('|') === header.join('|'));
}

// ---- requirements ----------------------------------------------------------

const REF = /`([^`]+\.spec\.ts)`\s*"([^"]+)"/g;

export function requirements(all: Table[]): Requirement[] {
  return tablesWith(all, ['id', 'requirement', 'covered by']).flatMap((t) =>
    t.rows.map(([id = '', text = '', covered = '']) => ({
      id,
      text,
      refs: [...covered.matchAll(REF)].map((m) => ({ file: m[1]!, title: m[2]! })),
    })),
  );
}

// ---- the specs the doc names -----------------------------------------------

const sources = new Map<string, string>();

export function source(file: string): string {
  let text = sources.get(file);
  if (text === undefined) {
    text = readFileSync(path.join(ROOT, file), 'utf8');
    sources.set(file, text);
  }
  return text;
}

export const specExists = (file: string): boolean => file.startsWith('spec/') && existsSync(path.join(ROOT, file));

/** The category a scenario suite proves (`proveCategory('x')`), or null for any other spec. */
export function provedCategory(file: string): string | null {
  return /proveCategory\('([a-z-]+)'\)/.exec(source(file))?.[1] ?? null;
}

/** A test title in this file contains `title`: a line that holds it and opens a test (`it(`), or follows a line that does (a formatter may wrap the title). */
export function hasTestTitled(file: string, title: string): boolean {
  const lines = source(file).split('\n');
  const opensTest = (line: string | undefined): boolean => line !== undefined && /\bit\(/.test(line);
  return lines.some((line, i) => line.includes(title) && (opensTest(line) || (opensTest(lines[i - 1]) && /^\s*['"`]/.test(line))));
}

/** Every spec source under spec/ (helpers included: they hold test titles too). */
export function specFiles(dir = 'spec'): string[] {
  return readdirSync(path.join(ROOT, dir), { withFileTypes: true }).flatMap((entry) => {
    const rel = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return specFiles(rel);
    return entry.name.endsWith('.ts') ? [rel] : [];
  });
}

/** A numeric table cell: "65,536" → 65536; NaN for anything else. */
export function numberCell(cell: string): number {
  const plain = cell.replace(/[,\s]/g, '');
  return /^-?\d+(\.\d+)?$/.test(plain) ? Number(plain) : NaN;
}

/** A cell holding one backquoted value: "`x`" → "x". */
export const unquote = (cell: string): string => /^`(.*)`$/.exec(cell)?.[1] ?? cell;
