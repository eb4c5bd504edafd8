/**
 * The tokenizer: gpt-tokenizer's byte-level BPE (`o200k_base`, multilingual) remapped to a compact
 * vocabulary built from a corpus, so the embedding table of a small model stays small.
 *
 * Id layout (fixed, so a checkpoint and its vocabulary agree by construction):
 *
 * | ids            | tokens                                                                      |
 * |----------------|-----------------------------------------------------------------------------|
 * | 0..5           | specials: `<|pad|>` (0), `<|im_start|>`, `<|im_end|>`, `<|emb|>`, `<|mask|>`, `<|image|>` |
 * | 6..261         | byte fallback: byte b has id 6 + b (also every single-byte BPE token)       |
 * | 262..          | the multi-byte BPE tokens seen in the corpus, most frequent first           |
 *
 * A BPE token that is not in the compact vocabulary is emitted as its bytes, so ANY string encodes. Text
 * is handled as WTF-8 (UTF-8 that also carries lone surrogates), so `decode(encode(s)) === s` for every
 * JavaScript string. Special-token strings inside text are plain text: `encode('<|emb|>')` gives byte/BPE
 * ids, never the `<|emb|>` id. Only the dialogue renderer (lib/dialogue.ts) emits special ids.
 */
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';

/** The special tokens, in id order: `<|pad|>` is id 0. */
export const SPECIAL_TOKENS = ['<|pad|>', '<|im_start|>', '<|im_end|>', '<|emb|>', '<|mask|>', '<|image|>'] as const;
export type SpecialToken = (typeof SPECIAL_TOKENS)[number];

export const PAD_ID = 0;
/** Id of byte 0 in the byte-fallback block. */
export const BYTE_OFFSET = SPECIAL_TOKENS.length;
/** Id of the first corpus BPE token. */
export const BPE_OFFSET = BYTE_OFFSET + 256;

/** The ids of the special tokens (the same for every vocabulary). */
export interface SpecialIds {
  pad: number;
  imStart: number;
  imEnd: number;
  emb: number;
  mask: number;
  image: number;
}

export const SPECIAL_IDS: Readonly<SpecialIds> = Object.freeze({
  pad: 0,
  imStart: 1,
  imEnd: 2,
  emb: 3,
  mask: 4,
  image: 5,
});

export const VOCABULARY_FORMAT = 'muco-ts/vocabulary';
export const VOCABULARY_VERSION = 1;

/** The saved vocabulary (JSON). `bpeIds[i]` is the o200k_base id of compact id `BPE_OFFSET + i`. */
export interface VocabularyJson {
  format: typeof VOCABULARY_FORMAT;
  version: number;
  encoding: 'o200k_base';
  specialTokens: string[];
  byteFallback: 256;
  bpeIds: number[];
}

/** Options of `Tokenizer.fromCorpus`. */
export interface VocabularyOptions {
  /** Keep at most this many corpus BPE tokens (the most frequent); `null` keeps all. */
  maxBpeTokens: number | null;
  /** Keep a BPE token only if it occurs at least this often in the corpus. */
  minCount: number;
}

export const DEFAULT_VOCABULARY_OPTIONS: Readonly<VocabularyOptions> = Object.freeze({
  maxBpeTokens: null,
  minCount: 1,
});

/** The raw o200k_base table: index = BPE id, value = the token's text or, when not valid UTF-8, its bytes. */
type BpeRanks = readonly (string | readonly number[])[];
interface O200kEncoding {
  encode(text: string, options: { allowedSpecial: Set<string>; disallowedSpecial: Set<string> }): number[];
}

let ranksCache: BpeRanks | undefined;
let encodingCache: O200kEncoding | undefined;

/*
 * gpt-tokenizer is loaded lazily with a typed `require`: its .d.ts files use syntax (string import names)
 * that the TypeScript bundled with tslab (5.0) cannot parse, and loading the 200k-entry table costs ~0.1 s
 * that an import of this module should not pay.
 */
function ranks(): BpeRanks {
  ranksCache ??= (require('gpt-tokenizer/cjs/bpeRanks/o200k_base') as { default: BpeRanks }).default;
  return ranksCache;
}

function o200k(): O200kEncoding {
  encodingCache ??= require('gpt-tokenizer/cjs/encoding/o200k_base') as O200kEncoding;
  return encodingCache;
}

const NO_SPECIALS = { allowedSpecial: new Set<string>(), disallowedSpecial: new Set<string>() };
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g;
const utf8Encoder = new TextEncoder();
const utf8Decoder = new TextDecoder('utf-8');
const strictUtf8Decoder = new TextDecoder('utf-8', { fatal: true });

/** The bytes of one o200k_base token. */
function bpeBytes(bpeId: number): Uint8Array {
  const entry = ranks()[bpeId];
  if (entry === undefined) throw new Error(`o200k_base has no token ${bpeId} (it has ${ranks().length}).`);
  return typeof entry === 'string' ? utf8Encoder.encode(entry) : Uint8Array.from(entry);
}

let singleByteCache: Int32Array | undefined;

/**
 * o200k id → byte-fallback id for the 256 single-byte BPE tokens, -1 elsewhere. Single-byte tokens share
 * the byte ids so every byte string has one canonical id. Built once, on first use (not at import).
 */
function singleByteTable(): Int32Array {
  if (singleByteCache === undefined) {
    singleByteCache = new Int32Array(ranks().length).fill(-1);
    for (let bpeId = 0; bpeId < ranks().length; bpeId++) {
      const entry = ranks()[bpeId];
      if (entry === undefined || entry.length > 4) continue;
      const bytes = bpeBytes(bpeId);
      if (bytes.length === 1) singleByteCache[bpeId] = BYTE_OFFSET + (bytes[0] as number);
    }
  }
  return singleByteCache;
}

/**
 * Split a string into well-formed runs (BPE-encoded) and lone surrogates (encoded as 3 WTF-8 bytes).
 * Calls `onText` / `onSurrogate` in string order.
 */
function splitLoneSurrogates(text: string, onText: (s: string) => void, onSurrogate: (code: number) => void): void {
  let last = 0;
  const pattern = new RegExp(LONE_SURROGATE.source, 'g');
  for (let m = pattern.exec(text); m !== null; m = pattern.exec(text)) {
    const at = m.index;
    if (at > last) onText(text.slice(last, at));
    onSurrogate(text.charCodeAt(at));
    last = at + 1;
  }
  if (last < text.length) onText(text.slice(last));
}

/** The o200k_base ids of a well-formed string, special-token strings treated as plain text. */
function bpeEncode(text: string): number[] {
  return o200k().encode(text, NO_SPECIALS);
}

/** A surrogate code unit (0xD800..0xDFFF) as its 3 generalized-UTF-8 bytes. */
function surrogateBytes(code: number): [number, number, number] {
  return [0xe0 | (code >> 12), 0x80 | ((code >> 6) & 0x3f), 0x80 | (code & 0x3f)];
}

/**
 * Decode WTF-8: UTF-8 where a 3-byte sequence `ED A0..BF 80..BF` is a lone surrogate. Well-formed runs go
 * through TextDecoder (invalid bytes become U+FFFD, as usual), surrogate sequences become their code unit.
 */
export function decodeWtf8(bytes: Uint8Array): string {
  let out = '';
  let start = 0;
  for (let i = 0; i + 2 < bytes.length; i++) {
    const b0 = bytes[i] as number;
    const b1 = bytes[i + 1] as number;
    const b2 = bytes[i + 2] as number;
    if (b0 === 0xed && b1 >= 0xa0 && b1 <= 0xbf && b2 >= 0x80 && b2 <= 0xbf) {
      out += utf8Decoder.decode(bytes.subarray(start, i));
      out += String.fromCharCode(0xd000 | ((b1 & 0x3f) << 6) | (b2 & 0x3f));
      i += 2;
      start = i + 1;
    }
  }
  return out + utf8Decoder.decode(bytes.subarray(start));
}

/**
 * A compact-vocabulary tokenizer over o200k_base. Immutable; build with `fromCorpus`, restore with
 * `fromJSON` / `load`.
 */
export class Tokenizer {
  /** Total number of ids: specials + 256 bytes + corpus BPE tokens. */
  readonly vocabSize: number;
  readonly specialIds: Readonly<SpecialIds> = SPECIAL_IDS;
  private readonly bpeIds: readonly number[];
  /** o200k id → compact id, or -1 when the token is not in the vocabulary (emitted as bytes). */
  private readonly toCompact: Int32Array;
  /** compact id → bytes, for every id (specials hold their string's UTF-8). */
  private readonly idBytes: Uint8Array[];
  private fingerprintCache: string | undefined;

  private constructor(bpeIds: readonly number[]) {
    this.bpeIds = bpeIds;
    this.vocabSize = BPE_OFFSET + bpeIds.length;
    this.toCompact = singleByteTable().slice();
    this.idBytes = SPECIAL_TOKENS.map((s) => utf8Encoder.encode(s));
    for (let b = 0; b < 256; b++) this.idBytes.push(Uint8Array.of(b));
    bpeIds.forEach((bpeId, i) => {
      const bytes = bpeBytes(bpeId);
      if (bytes.length < 2) {
        throw new Error(
          `Vocabulary entry ${i} (o200k id ${bpeId}) is a single byte; bytes have fixed ids ${BYTE_OFFSET}..${BPE_OFFSET - 1}. Rebuild the vocabulary with Tokenizer.fromCorpus.`,
        );
      }
      if ((this.toCompact[bpeId] as number) >= BPE_OFFSET) {
        throw new Error(`Vocabulary lists o200k id ${bpeId} twice (entries ${(this.toCompact[bpeId] as number) - BPE_OFFSET} and ${i}).`);
      }
      this.toCompact[bpeId] = BPE_OFFSET + i;
      this.idBytes.push(bytes);
    });
  }

  /**
   * Build the vocabulary from a corpus: the o200k ids its texts use, most frequent first (ties: lower
   * o200k id first), optionally capped.
   */
  static fromCorpus(texts: Iterable<string>, options: Partial<VocabularyOptions> = {}): Tokenizer {
    for (const key of Object.keys(options)) {
      if (!(key in DEFAULT_VOCABULARY_OPTIONS))
        throw new Error(`Unknown vocabulary option "${key}"; known options: ${Object.keys(DEFAULT_VOCABULARY_OPTIONS).join(', ')}.`);
    }
    const opts = { ...DEFAULT_VOCABULARY_OPTIONS, ...options };
    if (opts.maxBpeTokens !== null && !(Number.isInteger(opts.maxBpeTokens) && opts.maxBpeTokens >= 0)) {
      throw new Error(`maxBpeTokens must be a non-negative integer or null, got ${opts.maxBpeTokens}.`);
    }
    const counts = new Map<number, number>();
    for (const text of texts) {
      splitLoneSurrogates(
        text,
        (s) => {
          for (const id of bpeEncode(s)) counts.set(id, (counts.get(id) ?? 0) + 1);
        },
        () => undefined,
      );
    }
    let ids = [...counts.entries()]
      .filter(([id, n]) => n >= opts.minCount && bpeBytes(id).length >= 2)
      .sort((a, b) => b[1] - a[1] || a[0] - b[0])
      .map(([id]) => id);
    if (opts.maxBpeTokens !== null) ids = ids.slice(0, opts.maxBpeTokens);
    return new Tokenizer(ids);
  }

  /** Restore from `toJSON()` output; checks format, version, encoding and special tokens. */
  static fromJSON(json: unknown): Tokenizer {
    const v = json as Partial<VocabularyJson> | null;
    const where = 'Tokenizer.fromJSON';
    if (v === null || typeof v !== 'object' || v.format !== VOCABULARY_FORMAT) {
      throw new Error(
        `${where}: expected an object with format "${VOCABULARY_FORMAT}", got ${JSON.stringify(v?.format ?? v)}. Save vocabularies with Tokenizer.save / toJSON.`,
      );
    }
    if (v.version !== VOCABULARY_VERSION) {
      throw new Error(`${where}: vocabulary version ${v.version} is not supported (this library reads version ${VOCABULARY_VERSION}).`);
    }
    if (v.encoding !== 'o200k_base' || v.byteFallback !== 256) {
      throw new Error(`${where}: expected encoding o200k_base with 256 byte-fallback tokens, got ${v.encoding} / ${v.byteFallback}.`);
    }
    if (JSON.stringify(v.specialTokens) !== JSON.stringify(SPECIAL_TOKENS)) {
      throw new Error(`${where}: special tokens ${JSON.stringify(v.specialTokens)} differ from ${JSON.stringify(SPECIAL_TOKENS)}.`);
    }
    if (!Array.isArray(v.bpeIds) || !v.bpeIds.every((id) => Number.isInteger(id) && id >= 0 && id < ranks().length)) {
      throw new Error(`${where}: bpeIds must be an array of o200k_base ids in [0, ${ranks().length}).`);
    }
    return new Tokenizer(v.bpeIds);
  }

  /** Read a vocabulary saved by `save`. */
  static load(path: string): Tokenizer {
    return Tokenizer.fromJSON(JSON.parse(readFileSync(path, 'utf8')));
  }

  toJSON(): VocabularyJson {
    return {
      format: VOCABULARY_FORMAT,
      version: VOCABULARY_VERSION,
      encoding: 'o200k_base',
      specialTokens: [...SPECIAL_TOKENS],
      byteFallback: 256,
      bpeIds: [...this.bpeIds],
    };
  }

  save(path: string): void {
    writeFileSync(path, JSON.stringify(this.toJSON()) + '\n');
  }

  /** A stable hash of the vocabulary (16 hex chars): a checkpoint stores it and checks it on load. */
  fingerprint(): string {
    if (this.fingerprintCache === undefined) {
      this.fingerprintCache = createHash('sha256').update(JSON.stringify(this.toJSON())).digest('hex').slice(0, 16);
    }
    return this.fingerprintCache;
  }

  /** Number of BPE tokens from the corpus (vocabSize - specials - 256 bytes). */
  get bpeTokenCount(): number {
    return this.bpeIds.length;
  }

  /** Encode plain text. Special-token strings in `text` are text, never special ids. */
  encode(text: string): number[] {
    const out: number[] = [];
    splitLoneSurrogates(
      text,
      (s) => {
        for (const bpeId of bpeEncode(s)) {
          const id = this.toCompact[bpeId];
          if (id !== undefined && id >= 0) {
            out.push(id);
          } else {
            for (const b of bpeBytes(bpeId)) out.push(BYTE_OFFSET + b);
          }
        }
      },
      (code) => {
        for (const b of surrogateBytes(code)) out.push(BYTE_OFFSET + b);
      },
    );
    return out;
  }

  /** Decode ids to text; special ids decode to their strings (`<|emb|>`), byte runs to WTF-8 text. */
  decode(ids: Iterable<number>): string {
    const parts: Uint8Array[] = [];
    let length = 0;
    for (const id of ids) {
      const bytes = this.idBytes[id];
      if (bytes === undefined) {
        throw new Error(
          `Tokenizer.decode: id ${id} is outside the vocabulary [0, ${this.vocabSize}). Was the checkpoint trained with another vocabulary (fingerprint ${this.fingerprint()})?`,
        );
      }
      parts.push(bytes);
      length += bytes.length;
    }
    const all = new Uint8Array(length);
    let at = 0;
    for (const p of parts) {
      all.set(p, at);
      at += p.length;
    }
    return decodeWtf8(all);
  }

  /** A readable form of one id, for tables and debugging: `<|emb|>`, `<0xE3>`, or the token's text. */
  tokenString(id: number): string {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new Error(`Tokenizer.tokenString: id ${id} is outside the vocabulary [0, ${this.vocabSize}).`);
    }
    if (id < BYTE_OFFSET) return SPECIAL_TOKENS[id] as string;
    const bytes = this.idBytes[id] as Uint8Array;
    const hex = (): string => [...bytes].map((b) => `<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`).join('');
    if (id < BPE_OFFSET) return hex();
    try {
      return strictUtf8Decoder.decode(bytes);
    } catch {
      return hex(); // a BPE token holding part of a multi-byte character
    }
  }

  /** The id of a special token string. */
  specialId(token: SpecialToken): number {
    return SPECIAL_TOKENS.indexOf(token);
  }
}
