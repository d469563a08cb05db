/** README's examples, taken from its code blocks as they are written (never rewritten). */
import { readFileSync } from 'node:fs';
import { expect } from 'chai';

const blocks = (): { lang: string; code: string }[] =>
  [...readFileSync('README.md', 'utf8').matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].map((m) => ({ lang: m[1]!, code: m[2]! }));

/** The block whose first line is `// NAME` (or `# NAME`). */
export function exampleFile(name: string): string {
  const found = blocks().filter((b) => b.code.startsWith(`// ${name}\n`) || b.code.startsWith(`# ${name}\n`));
  expect(found, `README has one example starting with "${name}"`).to.have.length(1);
  return found[0]!.code;
}

/** The one `sh` block that contains `needle`. */
export function shellBlock(needle: string): string {
  const found = blocks().filter((b) => b.lang === 'sh' && b.code.includes(needle));
  expect(found, `README has one sh block with "${needle}"`).to.have.length(1);
  return found[0]!.code;
}
