/* First-error-wins error messages.
 *
 * Library code never prints. When something fails, the code that saw it
 * first records the most specific message it can (naming the file and the
 * problem) and returns a negative errno; callers above it may add context
 * with error_prefix(). The message lives in thread-local storage; the
 * program at the edge prints it once and calls error_clear() before the
 * next job. Worker threads hand theirs to the job with error_take().
 */
#ifndef HOIST_UTIL_ERROR_H
#define HOIST_UTIL_ERROR_H

#include <stdbool.h>

/* Records "message" unless a message is already set; returns -errnum so
 * that callers can write `return error_set(EINVAL, "…")`. */
int error_set(int errnum, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* As error_set(), with ": strerror(errno)" appended; returns -errno. */
int error_errno(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Prepends "context: " to the current message (if any). */
void error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The current message, or NULL. */
const char *error_message(void);
/* The errno recorded with the current message (0 if none). */
int error_code(void);
bool error_is_set(void);
void error_clear(void);

/* Moves this thread's message out (caller frees), leaving none set. */
char *error_take(int *ret_errnum);
/* Installs a message taken from another thread, first-wins. */
void error_put(char *msg, int errnum);

#endif
