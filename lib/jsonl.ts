/**
 * Reading benchmark records: JSONL files (whole or streamed in chunks) and typed field access with errors
 * that name the file, the line and the field (`queries.jsonl:12: field "qid" must be a string, got 42`).
 */
import * as fs from 'fs';
import * as readline from 'readline';

/** A parsed record: a plain JSON object. */
export type JsonRecord = Record<string, unknown>;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '…' : value);
  if (typeof value === 'object') return 'an object';
  return `${typeof value} ${String(value)}`;
}

/** Checks that a parsed value is a JSON object. */
export function asRecord(value: unknown, where: string): JsonRecord {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new Error(`${where}: expected a JSON object, got ${describe(value)}.`);
  }
  return value as JsonRecord;
}

/** A required string field. */
export function stringField(rec: JsonRecord, field: string, where: string): string {
  const v = rec[field];
  if (typeof v !== 'string') {
    const missing = v === undefined ? ` (the record has fields: ${Object.keys(rec).join(', ') || 'none'})` : '';
    throw new Error(`${where}: field "${field}" must be a string, got ${describe(v)}${missing}.`);
  }
  return v;
}

/** An optional string field: a missing field or null reads as undefined. */
export function optionalStringField(rec: JsonRecord, field: string, where: string): string | undefined {
  const v = rec[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw new Error(`${where}: field "${field}" must be a string or null, got ${describe(v)}.`);
  return v;
}

/** A required array-of-strings field (null entries read as '' when `nullAsEmpty`). */
export function stringArrayField(rec: JsonRecord, field: string, where: string, nullAsEmpty = false): string[] {
  const v = rec[field];
  if (!Array.isArray(v)) {
    throw new Error(`${where}: field "${field}" must be an array of strings, got ${describe(v)}.`);
  }
  return v.map((x, i) => {
    if (x === null && nullAsEmpty) return '';
    if (typeof x !== 'string') throw new Error(`${where}: field "${field}"[${i}] must be a string, got ${describe(x)}.`);
    return x;
  });
}

/** A required integer field. */
export function integerField(rec: JsonRecord, field: string, where: string): number {
  const v = rec[field];
  if (typeof v !== 'number' || !Number.isInteger(v)) {
    throw new Error(`${where}: field "${field}" must be an integer, got ${describe(v)}.`);
  }
  return v;
}

function parseLine<T>(line: string, where: string, parse: (rec: JsonRecord, where: string) => T): T {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (e) {
    throw new Error(`${where}: not valid JSON (${(e as Error).message}). Each line of a JSONL file must be one JSON object.`);
  }
  return parse(asRecord(value, where), where);
}

/** Parses JSONL text (blank lines skipped); `parse` turns each object into a typed record. */
export function parseJsonl<T>(text: string, file: string, parse: (rec: JsonRecord, where: string) => T): T[] {
  const out: T[] = [];
  const lines = text.split('\n');
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    out.push(parseLine(line, `${file}:${i + 1}`, parse));
  });
  return out;
}

/** Reads a whole JSONL file. */
export function readJsonl<T>(file: string, parse: (rec: JsonRecord, where: string) => T): T[] {
  if (!fs.existsSync(file)) throw new Error(`JSONL file not found: ${file}. Check the benchmark root.`);
  return parseJsonl(fs.readFileSync(file, 'utf8'), file, parse);
}

/** Streams a JSONL file in chunks of `chunkSize` records (for pools too large to hold as records). */
export async function* streamJsonl<T>(file: string, parse: (rec: JsonRecord, where: string) => T, chunkSize = 4096): AsyncGenerator<T[]> {
  if (!fs.existsSync(file)) throw new Error(`JSONL file not found: ${file}. Check the benchmark root.`);
  const lines = readline.createInterface({ input: fs.createReadStream(file, 'utf8'), crlfDelay: Infinity });
  let chunk: T[] = [];
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === '') continue;
    chunk.push(parseLine(line, `${file}:${n}`, parse));
    if (chunk.length >= chunkSize) {
      yield chunk;
      chunk = [];
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** Throws on the first path that is not on disk: `what` names the kind, `fix` says how to repair it. */
export function checkFilesExist(paths: Iterable<string>, what: string, fix: string): void {
  const seen = new Set<string>();
  for (const p of paths) {
    if (seen.has(p)) continue;
    seen.add(p);
    if (!fs.existsSync(p)) throw new Error(`${what}: ${p} not found. ${fix}`);
  }
}
