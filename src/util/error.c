#include "util/error.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local char *error_msg;
static _Thread_local int error_num;

static __attribute__((format(printf, 3, 0))) void
error_vset(int errnum, const char *suffix, const char *fmt, va_list ap)
{
  char *msg = NULL;

  if (error_msg)
    return;
  if (vasprintf(&msg, fmt, ap) < 0)
    msg = NULL;
  if (msg && suffix) {
    char *full = NULL;
    if (asprintf(&full, "%s: %s", msg, suffix) >= 0) {
      free(msg);
      msg = full;
    }
  }
  error_msg = msg ? msg : strdup("out of memory");
  error_num = errnum;
}

int error_set(int errnum, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  error_vset(errnum, NULL, fmt, ap);
  va_end(ap);
  return -errnum;
}

int error_errno(const char *fmt, ...)
{
  int saved = errno ? errno : EIO;
  va_list ap;

  va_start(ap, fmt);
  error_vset(saved, strerror(saved), fmt, ap);
  va_end(ap);
  errno = saved;
  return -saved;
}

void error_prefix(const char *fmt, ...)
{
  char *ctx = NULL, *full = NULL;
  va_list ap;

  if (!error_msg)
    return;
  va_start(ap, fmt);
  if (vasprintf(&ctx, fmt, ap) < 0)
    ctx = NULL;
  va_end(ap);
  if (ctx && asprintf(&full, "%s: %s", ctx, error_msg) >= 0) {
    free(error_msg);
    error_msg = full;
  }
  free(ctx);
}

const char *error_message(void)
{
  return error_msg;
}

int error_code(void)
{
  return error_num;
}

bool error_is_set(void)
{
  return error_msg != NULL;
}

void error_clear(void)
{
  free(error_msg);
  error_msg = NULL;
  error_num = 0;
}

char *error_take(int *ret_errnum)
{
  char *msg = error_msg;

  if (ret_errnum)
    *ret_errnum = error_num;
  error_msg = NULL;
  error_num = 0;
  return msg;
}

void error_put(char *msg, int errnum)
{
  if (!msg)
    return;
  if (error_msg) {
    free(msg);
    return;
  }
  error_msg = msg;
  error_num = errnum;
}
