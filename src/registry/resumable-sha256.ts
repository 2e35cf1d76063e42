// A running sha256 whose state can be saved (into the upload session's shared state, store.ts
// UploadState) and restored by another instance, which then goes on hashing where the last writer
// stopped instead of re-reading the bytes already stored. node:crypto cannot export a hash's state.
//
// Two engines, each with its own tag in a saved state (a state one engine saved is not loaded by the
// other: the caller then hashes the stored bytes, correct and slower):
// - 'native': OpenSSL's SHA256_CTX through native/sha256-state.c, the OpenSSL node links (SHA-NI);
//   the same speed as node:crypto. The state is machine words: the tag names the byte order and size.
// - 'wasm': hash-wasm's sha256 (save/load), where the native helper could not be built (a state it
//   saved is loaded by either kind of instance).
// Measured on this machine (2 cores, shared, 1 GiB in 1 MiB chunks): node:crypto 390–424 MiB/s,
// native 309–337 MiB/s in the same run (load varied), hash-wasm 73–89 MiB/s (about 5× slower); a
// save costs 16 µs and 112 (native) or 116 (wasm) bytes. So the native engine is used whenever it is
// built, and a state is saved once per PATCH, not per chunk.
import { createRequire } from 'node:module';
import { endianness } from 'node:os';
import { createSHA256, type IHasher } from 'hash-wasm';

export interface ResumableSha256 {
  update(chunk: Uint8Array): void;
  /** The state after every byte added so far, to restore with `restoreSha256`. */
  save(): Buffer;
  /** The hex digest; the hash is used up. */
  digest(): string;
}

interface NativeSha256 {
  init(): Buffer;
  update(state: Buffer, bytes: Uint8Array): void;
  digest(state: Buffer): Buffer;
  readonly STATE_SIZE: number;
}

function loadNative(): NativeSha256 | undefined {
  if (process.platform !== 'linux') return undefined;
  try {
    // dist/src/registry/ → dist/native/
    return createRequire(import.meta.url)('../../native/sha256-state.node') as NativeSha256;
  } catch {
    return undefined;
  }
}

const native = loadNative();
const NATIVE_TAG = native === undefined ? '' : `native:${endianness()}:${native.STATE_SIZE}:`;
const WASM_TAG = 'wasm:';

/** Which engine new hashes use (reported in logs and tests). */
export const resumableEngine: 'native' | 'wasm' = native === undefined ? 'wasm' : 'native';

function tagged(tag: string, state: Uint8Array): Buffer {
  return Buffer.concat([Buffer.from(tag, 'latin1'), state]);
}

class NativeHash implements ResumableSha256 {
  readonly #engine: NativeSha256;
  readonly #state: Buffer;
  constructor(engine: NativeSha256, state: Buffer) {
    this.#engine = engine;
    this.#state = state;
  }
  update(chunk: Uint8Array): void {
    this.#engine.update(this.#state, chunk);
  }
  save(): Buffer {
    return tagged(NATIVE_TAG, this.#state);
  }
  digest(): string {
    return this.#engine.digest(this.#state).toString('hex');
  }
}

class WasmHash implements ResumableSha256 {
  readonly #hasher: IHasher;
  constructor(hasher: IHasher) {
    this.#hasher = hasher;
  }
  update(chunk: Uint8Array): void {
    this.#hasher.update(chunk);
  }
  save(): Buffer {
    return tagged(WASM_TAG, this.#hasher.save());
  }
  digest(): string {
    return this.#hasher.digest('hex');
  }
}

/** A fresh hash, on the native engine when it is built (a test may ask for the other one). */
export async function newSha256(engine: 'native' | 'wasm' = resumableEngine): Promise<ResumableSha256> {
  if (engine === 'native' && native !== undefined) return new NativeHash(native, native.init());
  const hasher = await createSHA256();
  hasher.init();
  return new WasmHash(hasher);
}

/** The hash a saved state describes; undefined when this process cannot load it (another engine or machine). */
export async function restoreSha256(saved: Buffer): Promise<ResumableSha256 | undefined> {
  const text = saved.subarray(0, 32).toString('latin1');
  if (native !== undefined && text.startsWith(NATIVE_TAG) && saved.length === NATIVE_TAG.length + native.STATE_SIZE) {
    return new NativeHash(native, Buffer.from(saved.subarray(NATIVE_TAG.length)));
  }
  if (text.startsWith(WASM_TAG)) {
    const hasher = await createSHA256();
    try {
      hasher.load(saved.subarray(WASM_TAG.length));
    } catch {
      return undefined;
    }
    return new WasmHash(hasher);
  }
  return undefined;
}
