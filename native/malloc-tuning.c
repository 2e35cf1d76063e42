// tuneMalloc(mmapThreshold, trimThreshold): glibc's mallopt(M_MMAP_THRESHOLD) and
// mallopt(M_TRIM_THRESHOLD) for the running process; returns true when both were set, false where
// the C library is not glibc. Written by hand: Node exposes no mallopt and no package does it; the
// reason for the values is in src/cli/malloc-tuning.ts.
#include <node_api.h>
#include <stdbool.h>
#include <stdint.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif

static napi_value tune_malloc(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int64_t mmap_threshold = 0, trim_threshold = 0;
  if (argc != 2 || napi_get_value_int64(env, argv[0], &mmap_threshold) != napi_ok ||
      napi_get_value_int64(env, argv[1], &trim_threshold) != napi_ok ||
      mmap_threshold <= 0 || trim_threshold <= 0 || mmap_threshold > INT32_MAX || trim_threshold > INT32_MAX) {
    napi_throw_type_error(env, NULL, "tuneMalloc(mmapThreshold, trimThreshold): positive 32-bit integers");
    return NULL;
  }
  bool done = false;
#ifdef __GLIBC__
  done = mallopt(M_MMAP_THRESHOLD, (int)mmap_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, (int)trim_threshold) == 1;
#endif
  napi_value result;
  napi_get_boolean(env, done, &result);
  return result;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "tuneMalloc", NAPI_AUTO_LENGTH, tune_malloc, NULL, &fn);
  napi_set_named_property(env, exports, "tuneMalloc", fn);
  return exports;
}
