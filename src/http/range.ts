// HTTP Range (RFC 9110 §14) for blob GETs: one byte range, or a 416.
import { rangeNotSatisfiable } from '../registry/errors.js';
import type { ByteRange } from '../storage/driver.js';

/**
 * The single range a Range header asks for, or undefined for the whole blob. A header that is not a
 * single satisfiable bytes range is refused with 416 (the spec serves single ranges only).
 */
export function parseRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (match === null) throw rangeNotSatisfiable(size);
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') throw rangeNotSatisfiable(size);
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw rangeNotSatisfiable(size);
    return { start: Math.max(size - suffix, 0), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Math.min(Number(last), size - 1);
  if (start >= size || (last !== '' && Number(last) < start)) throw rangeNotSatisfiable(size);
  return { start, end };
}

/** Content-Range of a chunk PATCH: "<start>-<end>" as the spec writes it, also "bytes <start>-<end>[/<total>]". */
export function parseContentRange(header: string | undefined): ByteRange | undefined | 'invalid' {
  if (header === undefined) return undefined;
  const match = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (match === null) return 'invalid';
  const start = Number(match[1]);
  const end = Number(match[2]);
  return end < start ? 'invalid' : { start, end };
}
