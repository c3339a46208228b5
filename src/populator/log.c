/* hoist-populator's log: one line per event on stderr, secrets masked. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "populator/populator.h"
#include "util/cleanup.h"

#define MAX_SECRETS 8

/* Set at start, before any thread runs; read-only afterwards. */
static char *secrets[MAX_SECRETS];
static unsigned nsecrets;

double pop_now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec / 1e9;
}

void pop_log_add_secret(const char *secret)
{
  unsigned i;

  if (!secret || !*secret || nsecrets == MAX_SECRETS)
    return;
  for (i = 0; i < nsecrets; i++)
    if (streq(secrets[i], secret))
      return;
  secrets[nsecrets] = strdup(secret);
  if (secrets[nsecrets])
    nsecrets++;
}

void pop_log_add_ticket(const char *url)
{
  const char *t = url ? strstr(url, "/images/") : NULL;
  _cleanup_free_ char *ticket = NULL;

  if (!t)
    return;
  t += 8;
  ticket = strndup(t, strcspn(t, "/?#"));
  /* Messages show its first 8 characters: only the rest is masked. */
  if (ticket && strlen(ticket) > 8)
    pop_log_add_secret(ticket);
}

/* Replaces every occurrence of secret in *text (reallocated). */
static int mask(char **text, const char *secret)
{
  static const char stars[] = "***";
  size_t slen = strlen(secret), n = 0;
  char *p, *out, *o;
  const char *q;

  for (p = strstr(*text, secret); p; p = strstr(p + slen, secret))
    n++;
  if (n == 0)
    return 0;
  out = malloc(strlen(*text) + n * sizeof stars + 1);
  if (!out)
    return -1;
  o = out;
  for (q = *text; (p = strstr(q, secret)); q = p + slen) {
    memcpy(o, q, (size_t)(p - q));
    o += p - q;
    memcpy(o, stars, sizeof stars - 1);
    o += sizeof stars - 1;
  }
  strcpy(o, q);
  free(*text);
  *text = out;
  return 0;
}

char *pop_redact(const char *text)
{
  char *copy = strdup(text);
  unsigned i;

  for (i = 0; copy && i < nsecrets; i++)
    if (mask(&copy, secrets[i]) < 0) {
      free(copy);
      return NULL;
    }
  return copy;
}

void pop_log(const char *fmt, ...)
{
  _cleanup_free_ char *line = NULL, *clean = NULL;
  va_list ap;
  int n;

  va_start(ap, fmt);
  n = vasprintf(&line, fmt, ap);
  va_end(ap);
  if (n < 0) {
    line = NULL;
    return;
  }
  clean = pop_redact(line);
  /* Without memory to mask secrets, print nothing rather than them. */
  if (clean)
    fprintf(stderr, "%s: %s\n", POP_PROGRAM, clean);
}
