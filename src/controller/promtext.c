/* The Prometheus text format reader (see promtext.h). */
#include "controller/promtext.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/cleanup.h"
#include "util/error.h"

struct cursor {
  const char *p, *end;
};

static bool name_char(char c, bool first)
{
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
         c == ':' || (!first && c >= '0' && c <= '9');
}

static void skip_blanks(struct cursor *c)
{
  while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
    c->p++;
}

static char *take_name(struct cursor *c)
{
  const char *start = c->p;

  while (c->p < c->end && name_char(*c->p, c->p == start))
    c->p++;
  if (c->p == start)
    return NULL;
  return strndup(start, (size_t)(c->p - start));
}

/* A quoted label value, unescaped. */
static char *take_value(struct cursor *c)
{
  char *out, *o;

  if (c->p >= c->end || *c->p != '"')
    return NULL;
  c->p++;
  out = o = malloc((size_t)(c->end - c->p) + 1);
  if (!out)
    return NULL;
  while (c->p < c->end && *c->p != '"' && *c->p != '\n') {
    if (*c->p == '\\') {
      if (++c->p >= c->end)
        break;
      *o++ = *c->p == 'n' ? '\n' : *c->p;
      c->p++;
      continue;
    }
    *o++ = *c->p++;
  }
  if (c->p >= c->end || *c->p != '"') {
    free(out);
    return NULL;
  }
  c->p++;
  *o = 0;
  return out;
}

static int parse_labels(struct cursor *c, struct promtext_sample *s)
{
  c->p++; /* '{' */
  for (;;) {
    struct promtext_label *l;

    skip_blanks(c);
    if (c->p < c->end && *c->p == '}') {
      c->p++;
      return 0;
    }
    if (s->nlabels == PROMTEXT_MAX_LABELS)
      return -EINVAL;
    l = &s->labels[s->nlabels];
    if (!(l->name = take_name(c)))
      return -EINVAL;
    s->nlabels++;
    skip_blanks(c);
    if (c->p >= c->end || *c->p != '=')
      return -EINVAL;
    c->p++;
    skip_blanks(c);
    if (!(l->value = take_value(c)))
      return -EINVAL;
    skip_blanks(c);
    if (c->p < c->end && *c->p == ',')
      c->p++;
    else if (c->p >= c->end || *c->p != '}')
      return -EINVAL;
  }
}

static int parse_value(struct cursor *c, double *ret)
{
  char buf[64], *endp;
  size_t n = 0;

  while (c->p < c->end && *c->p != ' ' && *c->p != '\t' && *c->p != '\n' &&
         n < sizeof buf - 1)
    buf[n++] = *c->p++;
  buf[n] = 0;
  if (n == 0 || n == sizeof buf - 1)
    return -EINVAL;
  if (streq(buf, "+Inf") || streq(buf, "-Inf") || streq(buf, "NaN")) {
    *ret = streq(buf, "NaN") ? NAN : buf[0] == '-' ? -INFINITY : INFINITY;
    return 0;
  }
  errno = 0;
  *ret = strtod(buf, &endp);
  if (*endp || errno == ERANGE || isnan(*ret) || isinf(*ret))
    return -EINVAL;
  return 0;
}

static void sample_clear(struct promtext_sample *s)
{
  size_t i;

  free((char *)s->name);
  for (i = 0; i < s->nlabels; i++) {
    free(s->labels[i].name);
    free(s->labels[i].value);
  }
  memset(s, 0, sizeof *s);
}

/* One line (without its newline); 0, the callback's value, or -EINVAL. */
static int parse_line(struct cursor *c,
                      int (*fn)(const struct promtext_sample *, void *),
                      void *ud)
{
  struct promtext_sample s = {0};
  int r = -EINVAL;

  skip_blanks(c);
  if (c->p >= c->end || *c->p == '#')
    return 0;
  if (!(s.name = take_name(c)))
    goto out;
  if (c->p < c->end && *c->p == '{' && parse_labels(c, &s) < 0)
    goto out;
  skip_blanks(c);
  if (parse_value(c, &s.value) < 0)
    goto out;
  skip_blanks(c);
  if (c->p < c->end) { /* a timestamp: an integer */
    double ts;

    if (parse_value(c, &ts) < 0 || isnan(ts))
      goto out;
    skip_blanks(c);
    if (c->p < c->end)
      goto out;
  }
  r = fn(&s, ud);
out:
  sample_clear(&s);
  return r;
}

int promtext_parse(const char *text, size_t len,
                   int (*fn)(const struct promtext_sample *s, void *ud),
                   void *ud)
{
  const char *p = text, *end = text + len;
  unsigned line = 0;

  if (len > PROMTEXT_MAX_TEXT)
    return error_set(EFBIG, "metrics: more than %d bytes", PROMTEXT_MAX_TEXT);
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    struct cursor c = {p, nl ? nl : end};
    int r;

    line++;
    if (memchr(p, 0, (size_t)(c.end - p)))
      return error_set(EINVAL, "metrics: line %u holds a NUL byte", line);
    r = parse_line(&c, fn, ud);
    if (r == -EINVAL)
      return error_set(EINVAL, "metrics: line %u is not a sample", line);
    if (r)
      return r;
    p = nl ? nl + 1 : end;
  }
  return 0;
}

const char *promtext_label(const struct promtext_sample *s, const char *name)
{
  size_t i;

  for (i = 0; i < s->nlabels; i++)
    if (streq(s->labels[i].name, name))
      return s->labels[i].value;
  return NULL;
}

struct pop_ctx {
  const char *uid;
  struct populator_metrics *m;
};

static bool as_u64(double v, uint64_t *ret)
{
  if (!(v >= 0 && v < 18446744073709551616.0))
    return false;
  *ret = (uint64_t)v;
  return true;
}

static int on_sample(const struct promtext_sample *s, void *ud)
{
  struct pop_ctx *ctx = ud;
  const char *owner = promtext_label(s, "owner_uid");

  if (ctx->uid && (!owner || !streq(owner, ctx->uid)))
    return 0;
  if (streq(s->name, "hoist_populator_bytes_copied"))
    ctx->m->have_copied = as_u64(s->value, &ctx->m->bytes_copied);
  else if (streq(s->name, "hoist_populator_bytes_total"))
    ctx->m->have_total = as_u64(s->value, &ctx->m->bytes_total);
  return 0;
}

int promtext_populator(const char *text, size_t len, const char *uid,
                       struct populator_metrics *m)
{
  struct pop_ctx ctx = {uid, m};

  memset(m, 0, sizeof *m);
  return promtext_parse(text, len, on_sample, &ctx);
}
