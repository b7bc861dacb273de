/** Reading JSON files validated by a zod schema, with errors that name the file. */
import { readFileSync } from 'node:fs';
import * as z from 'zod';

/**
 * Reads `path` as JSON and validates it with `schema`.
 *
 * @param what what the file should be, for the message ("sample-store manifest")
 * @throws Error naming the file: unreadable, not JSON, or not of the schema (each issue listed)
 */
export function readJsonFile<S extends z.ZodType>(path: string, schema: S, what: string): z.infer<S> {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: cannot read the ${what} as JSON (${(err as Error).message})`);
  }
  return parseJson(raw, schema, what, path);
}

/** Validates an already-parsed value; errors name `source`. */
export function parseJson<S extends z.ZodType>(raw: unknown, schema: S, what: string, source: string): z.infer<S> {
  const parsed = schema.safeParse(raw);
  if (!parsed.success) throw new Error(`${source}: invalid ${what}\n${z.prettifyError(parsed.error)}`);
  return parsed.data;
}
