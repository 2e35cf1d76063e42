// Sizes in configuration: a number of bytes, or a number with a decimal or binary unit.
type Fail = (message: string, key: string) => never;

const UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4 };

/** Bytes of `500MB`, `10GiB`, `1048576` (or a non-negative integer); fails with the key otherwise. */
export function parseSize(value: unknown, key: string, fail: Fail, what = 'limit'): number {
  if (typeof value === 'number' && Number.isInteger(value) && value >= 0) return value;
  const match = typeof value === 'string' ? /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim()) : null;
  const unit = UNITS[(match?.[2] ?? '').toLowerCase() || 'b'];
  if (match === null || unit === undefined) return fail(`${what} must be a size in bytes, or with a unit: 500MB, 10GiB`, key);
  return Math.floor(Number(match[1]) * unit);
}
