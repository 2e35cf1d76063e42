// sendFile(socketFd, fileFd, offset, count): sendfile(2) from a file to a socket on a thread of its
// own, resolving with the bytes sent. Node has no sendfile; this is the one native piece of Berth,
// written by hand because no maintained package does it (docs: README, Performance).
//
// - Both descriptors are dup'ed first: Node may close its socket descriptor (the client went away)
//   while the transfer runs, and a closed number can be reused by another open; the dups keep the
//   same socket and file for this thread, whatever happens to the originals.
// - The socket stays non-blocking (libuv owns it): on EAGAIN the thread waits in poll(2) for
//   POLLOUT, which leaves libuv's epoll registration of the descriptor alone.
// - The caller must not write to the socket until the promise settles. SIGPIPE is ignored by Node,
//   so a peer that went away gives EPIPE or ECONNRESET here.
#define _GNU_SOURCE
#include <node_api.h>
#include <sys/sendfile.h>
#include <poll.h>
#include <unistd.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  int socket_fd;   // a dup: Node may close its own descriptor meanwhile
  int file_fd;     // a dup as well
  off_t offset;
  size_t remaining;
  size_t sent;
  int error;       // errno of the failure, 0 on success
  napi_deferred deferred;
  napi_threadsafe_function done;
  pthread_t thread;
} transfer_t;

static void *run(void *arg) {
  transfer_t *t = arg;
  while (t->remaining > 0) {
    ssize_t n = sendfile(t->socket_fd, t->file_fd, &t->offset, t->remaining > 0x7ffff000 ? 0x7ffff000 : t->remaining);
    if (n > 0) { t->sent += (size_t)n; t->remaining -= (size_t)n; continue; }
    if (n == 0) { t->error = EIO; break; }  // the file is shorter than promised
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      struct pollfd p = { .fd = t->socket_fd, .events = POLLOUT };
      int r = poll(&p, 1, 60000);
      if (r == 0) { t->error = ETIMEDOUT; break; }
      if (r < 0 && errno != EINTR) { t->error = errno; break; }
      if (r > 0 && (p.revents & (POLLERR | POLLHUP | POLLNVAL))) { t->error = EPIPE; break; }
      continue;
    }
    t->error = errno;
    break;
  }
  close(t->socket_fd);
  close(t->file_fd);
  napi_call_threadsafe_function(t->done, t, napi_tsfn_blocking);
  return NULL;
}

static void finish(napi_env env, napi_value js_cb, void *context, void *data) {
  transfer_t *t = data;
  (void)js_cb; (void)context;
  pthread_join(t->thread, NULL);
  napi_value result;
  if (t->error == 0) {
    napi_create_double(env, (double)t->sent, &result);
    napi_resolve_deferred(env, t->deferred, result);
  } else {
    napi_value code, message;
    napi_create_string_utf8(env, strerror(t->error), NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_create_double(env, (double)t->sent, &code);
    napi_set_named_property(env, result, "bytesSent", code);
    napi_value errno_value;
    napi_create_int32(env, t->error, &errno_value);
    napi_set_named_property(env, result, "errno", errno_value);
    napi_reject_deferred(env, t->deferred, result);
  }
  napi_release_threadsafe_function(t->done, napi_tsfn_release);
  free(t);
}

// sendFile(socketFd, fileFd, offset, count) → Promise<number>
static napi_value send_file(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
  int32_t socket_fd, file_fd;
  double offset, count;
  if (argc < 4 || napi_get_value_int32(env, argv[0], &socket_fd) != napi_ok || napi_get_value_int32(env, argv[1], &file_fd) != napi_ok ||
      napi_get_value_double(env, argv[2], &offset) != napi_ok || napi_get_value_double(env, argv[3], &count) != napi_ok || offset < 0 || count < 0) {
    napi_throw_type_error(env, NULL, "sendFile(socketFd, fileFd, offset, count)");
    return NULL;
  }
  transfer_t *t = calloc(1, sizeof(transfer_t));
  t->socket_fd = dup(socket_fd);
  t->file_fd = dup(file_fd);
  if (t->socket_fd < 0 || t->file_fd < 0) {
    int e = errno;
    if (t->socket_fd >= 0) close(t->socket_fd);
    if (t->file_fd >= 0) close(t->file_fd);
    free(t);
    napi_throw_error(env, NULL, strerror(e));
    return NULL;
  }
  t->offset = (off_t)offset;
  t->remaining = (size_t)count;
  napi_value promise, name;
  napi_create_promise(env, &t->deferred, &promise);
  napi_create_string_utf8(env, "sendFile", NAPI_AUTO_LENGTH, &name);
  napi_create_threadsafe_function(env, NULL, NULL, name, 0, 1, NULL, NULL, NULL, finish, &t->done);
  if (pthread_create(&t->thread, NULL, run, t) != 0) {
    int e = errno;
    close(t->socket_fd); close(t->file_fd);
    napi_release_threadsafe_function(t->done, napi_tsfn_release);
    napi_value err, msg;
    napi_create_string_utf8(env, strerror(e), NAPI_AUTO_LENGTH, &msg);
    napi_create_error(env, NULL, msg, &err);
    napi_reject_deferred(env, t->deferred, err);
    free(t);
  }
  return promise;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  napi_create_function(env, "sendFile", NAPI_AUTO_LENGTH, send_file, NULL, &fn);
  napi_set_named_property(env, exports, "sendFile", fn);
  return exports;
}
