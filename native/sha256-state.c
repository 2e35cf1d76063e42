// A sha256 whose running state is a plain Buffer the caller holds, so that it can be saved and
// restored (an upload continued on another instance resumes its hash instead of re-reading the
// bytes already stored). The state is OpenSSL's SHA256_CTX, from the OpenSSL that node itself links
// and exports (its SHA-NI / AVX code: as fast as node:crypto); node:crypto has no way to export it.
//
//   init()                 -> Buffer(STATE_SIZE)  a fresh state
//   update(state, bytes)   -> undefined            hashes bytes into state, in place
//   digest(state)          -> Buffer(32)           the digest; state is used up
//   STATE_SIZE                                      sizeof(SHA256_CTX) of this build
//
// A state is an array of 32-bit words in the machine's byte order: instances that share one must run
// the same architecture (the caller tags saved states with STATE_SIZE and the byte order).
#define OPENSSL_SUPPRESS_DEPRECATED
#include <node_api.h>
#include <openssl/sha.h>
#include <string.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "sha256-state: " #call " failed"); return NULL; } } while (0)

static SHA256_CTX *state_of(napi_env env, napi_value value) {
  bool is_buffer = false;
  void *data = NULL;
  size_t length = 0;
  if (napi_is_buffer(env, value, &is_buffer) != napi_ok || !is_buffer) return NULL;
  if (napi_get_buffer_info(env, value, &data, &length) != napi_ok || length != sizeof(SHA256_CTX)) return NULL;
  return data;
}

static napi_value init(napi_env env, napi_callback_info info) {
  (void)info;
  void *data = NULL;
  napi_value result;
  CHECK(napi_create_buffer(env, sizeof(SHA256_CTX), &data, &result));
  if (SHA256_Init((SHA256_CTX *)data) != 1) { napi_throw_error(env, NULL, "sha256-state: SHA256_Init failed"); return NULL; }
  return result;
}

static napi_value update(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  SHA256_CTX *ctx = argc == 2 ? state_of(env, argv[0]) : NULL;
  if (ctx == NULL) { napi_throw_type_error(env, NULL, "sha256-state: update(state, bytes) needs a state"); return NULL; }
  bool typed = false;
  if (napi_is_typedarray(env, argv[1], &typed) != napi_ok || !typed) { napi_throw_type_error(env, NULL, "sha256-state: bytes must be a Uint8Array"); return NULL; }
  napi_typedarray_type type;
  size_t length = 0;
  void *data = NULL;
  CHECK(napi_get_typedarray_info(env, argv[1], &type, &length, &data, NULL, NULL));
  if (type != napi_uint8_array) { napi_throw_type_error(env, NULL, "sha256-state: bytes must be a Uint8Array"); return NULL; }
  if (length > 0 && SHA256_Update(ctx, data, length) != 1) { napi_throw_error(env, NULL, "sha256-state: SHA256_Update failed"); return NULL; }
  return NULL;
}

static napi_value digest(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  SHA256_CTX *ctx = argc == 1 ? state_of(env, argv[0]) : NULL;
  if (ctx == NULL) { napi_throw_type_error(env, NULL, "sha256-state: digest(state) needs a state"); return NULL; }
  void *out = NULL;
  napi_value result;
  CHECK(napi_create_buffer(env, SHA256_DIGEST_LENGTH, &out, &result));
  if (SHA256_Final(out, ctx) != 1) { napi_throw_error(env, NULL, "sha256-state: SHA256_Final failed"); return NULL; }
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_value size;
  if (napi_create_function(env, "init", NAPI_AUTO_LENGTH, init, NULL, &fn) != napi_ok || napi_set_named_property(env, exports, "init", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "update", NAPI_AUTO_LENGTH, update, NULL, &fn) != napi_ok || napi_set_named_property(env, exports, "update", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "digest", NAPI_AUTO_LENGTH, digest, NULL, &fn) != napi_ok || napi_set_named_property(env, exports, "digest", fn) != napi_ok) return NULL;
  if (napi_create_uint32(env, (uint32_t)sizeof(SHA256_CTX), &size) != napi_ok || napi_set_named_property(env, exports, "STATE_SIZE", size) != napi_ok) return NULL;
  return exports;
}
