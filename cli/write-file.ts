/** Write a file whole or not at all: a temp file next to it, then rename. */
import { randomBytes } from 'node:crypto';
import { rename, unlink, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export type WriteResult = { ok: true } | { ok: false; message: string };

export async function writeAtomic(file: string, text: string): Promise<WriteResult> {
  const temp = join(dirname(file), `.${basename(file)}.${randomBytes(4).toString('hex')}.tmp`);
  try {
    await writeFile(temp, text);
    await rename(temp, file);
    return { ok: true };
  } catch (err) {
    await unlink(temp).catch(() => {});
    return { ok: false, message: `cannot write ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` };
  }
}
