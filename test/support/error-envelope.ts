// Assertions on the spec's error envelope {errors:[{code,message,detail}]}: status and code, never message text.
import assert from 'node:assert/strict';
import type { RawResponse } from './raw-http.js';

interface Envelope {
  errors: Array<{ code: string; message?: unknown; detail?: unknown }>;
}

function checkEnvelope(text: string, status: number, code: string, context: string): void {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    assert.fail(`${context}: error body is not JSON: ${text.slice(0, 200)}`);
  }
  const envelope = parsed as Envelope;
  assert.ok(Array.isArray(envelope.errors) && envelope.errors.length > 0, `${context}: body has a non-empty errors array`);
  assert.deepEqual(
    envelope.errors.map((error) => error.code),
    [code],
    `${context}: expected ${status} ${code}`,
  );
  assert.equal(typeof envelope.errors[0]?.message, 'string', `${context}: error has a message`);
}

/** Asserts a fetch Response is the error `code` with `status`; consumes the body. */
export async function assertError(response: Response, status: number, code: string, context = `${response.url}`): Promise<void> {
  const text = await response.text();
  assert.equal(response.status, status, `${context}: status (body ${text.slice(0, 300)})`);
  assert.match(response.headers.get('content-type') ?? '', /^application\/json/, `${context}: error Content-Type`);
  checkEnvelope(text, status, code, context);
}

/** The same for a node:http response. */
export function assertRawError(response: RawResponse, status: number, code: string, context = 'raw request'): void {
  const text = response.body.toString('utf8');
  assert.equal(response.status, status, `${context}: status (body ${text.slice(0, 300)})`);
  checkEnvelope(text, status, code, context);
}
