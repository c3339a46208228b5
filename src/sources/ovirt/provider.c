/* oVirt provider files (see provider.h). */
#include "sources/ovirt/provider.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/readfile.h"

#define P(s) names_printable((s), (char[96]){0}, 96)

static void wipe_free(char *s)
{
  if (s)
    explicit_bzero(s, strlen(s));
  free(s);
}

void ovirt_provider_clear(struct ovirt_provider *p)
{
  free(p->url);
  free(p->user);
  wipe_free(p->password);
  free(p->password_file);
  free(p->cacert);
  memset(p, 0, sizeof *p);
}

/* path relative to the folder of file (unless absolute). */
static char *resolve(const char *file, const char *path)
{
  const char *slash = file ? strrchr(file, '/') : NULL;
  char *out;

  if (path[0] == '/' || !slash)
    return strdup(path);
  if (asprintf(&out, "%.*s/%s", (int)(slash - file), file, path) < 0)
    return NULL;
  return out;
}

static int set_bool(const char *file, unsigned line, const char *key,
                    const char *value, bool *ret)
{
  if (strcasecmp(value, "true") == 0 || strcasecmp(value, "yes") == 0 ||
      streq(value, "1"))
    *ret = true;
  else if (strcasecmp(value, "false") == 0 || strcasecmp(value, "no") == 0 ||
           streq(value, "0") || !*value)
    *ret = false;
  else
    return error_set(EINVAL, "%s:%u: %s takes true or false, not \"%s\"", file,
                     line, key, P(value));
  return 0;
}

/* One key and its value. */
static int set_key(struct ovirt_provider *p, const char *file, unsigned line,
                   const char *key, const char *value)
{
  char **slot = NULL;
  bool path = false;

  if (streq(key, "url"))
    slot = &p->url;
  else if (streq(key, "user"))
    slot = &p->user;
  else if (streq(key, "password"))
    slot = &p->password;
  else if (streq(key, "passwordFile"))
    slot = &p->password_file, path = true;
  else if (streq(key, "cacert") || streq(key, "caFile"))
    slot = &p->cacert, path = true;
  else if (streq(key, "insecureSkipVerify")) {
    p->insecure_set = true;
    return set_bool(file, line, key, value, &p->insecure);
  } else
    return error_set(EINVAL,
                     "%s:%u: unknown key \"%s\"; the keys are url, user, "
                     "password, passwordFile, cacert and insecureSkipVerify",
                     file, line, P(key));
  if (*slot)
    return error_set(EINVAL, "%s:%u: %s is given twice", file, line, key);
  if (!*value)
    return error_set(EINVAL, "%s:%u: %s is empty", file, line, key);
  *slot = path ? resolve(file, value) : strdup(value);
  if (!*slot)
    return error_set(ENOMEM, "out of memory");
  return 0;
}

static char *trim(char *s)
{
  char *end;

  s += strspn(s, " \t");
  end = s + strlen(s);
  while (end > s && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
    *--end = 0;
  return s;
}

static int parse_lines(char *text, const char *file, struct ovirt_provider *p)
{
  char *line = text, *next;
  unsigned n = 0;
  int r;

  for (; line; line = next) {
    char *eq, *key, *value;

    next = strchr(line, '\n');
    if (next)
      *next++ = 0;
    n++;
    line = trim(line);
    if (!*line || *line == '#')
      continue;
    eq = strchr(line, '=');
    if (!eq)
      return error_set(EINVAL, "%s:%u: expected KEY=VALUE", file, n);
    *eq = 0;
    key = trim(line);
    value = trim(eq + 1);
    r = set_key(p, file, n, key, value);
    if (r < 0)
      return r;
  }
  return 0;
}

static int parse_yaml(const char *data, size_t len, const char *file,
                      struct ovirt_provider *p)
{
  yaml_parser_t parser;
  yaml_event_t ev;
  _cleanup_free_ char *key = NULL;
  unsigned depth = 0, line = 0;
  bool done = false, seen_map = false;
  int r = 0;

  if (!yaml_parser_initialize(&parser))
    return error_set(ENOMEM, "out of memory");
  yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
  while (r == 0 && !done) {
    if (!yaml_parser_parse(&parser, &ev)) {
      r = error_set(EINVAL, "%s:%zu: not valid YAML: %s", file,
                    parser.problem_mark.line + 1,
                    parser.problem ? parser.problem : "syntax error");
      break;
    }
    line = ev.start_mark.line + 1;
    switch (ev.type) {
    case YAML_STREAM_END_EVENT:
      done = true;
      break;
    case YAML_MAPPING_START_EVENT:
      if (depth > 0 || seen_map)
        r = error_set(EINVAL,
                      "%s:%u: expected plain KEY: VALUE lines, not a nested "
                      "mapping",
                      file, line);
      depth++;
      seen_map = true;
      break;
    case YAML_MAPPING_END_EVENT:
      depth--;
      break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_ALIAS_EVENT:
      r = error_set(EINVAL,
                    "%s:%u: expected plain KEY: VALUE lines, not a list or "
                    "an alias",
                    file, line);
      break;
    case YAML_SCALAR_EVENT:
      if (depth != 1) {
        r = error_set(EINVAL, "%s:%u: expected KEY: VALUE lines", file, line);
      } else if (!key) {
        key =
            strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
        if (!key)
          r = error_set(ENOMEM, "out of memory");
      } else if (strlen((const char *)ev.data.scalar.value) !=
                 ev.data.scalar.length) {
        r = error_set(EINVAL, "%s:%u: %s holds a NUL character", file, line,
                      key);
      } else {
        r = set_key(p, file, line, key, (const char *)ev.data.scalar.value);
        free(key);
        key = NULL;
      }
      break;
    default:
      break;
    }
    yaml_event_delete(&ev);
  }
  yaml_parser_delete(&parser);
  if (r == 0 && !seen_map)
    r = error_set(EINVAL, "%s: empty; expected url, user and a password", file);
  return r;
}

/* key=value if the first meaningful line has '=' before any ':'. */
static bool is_key_value(const char *data, size_t len)
{
  size_t i = 0;

  while (i < len) {
    size_t end = i;
    while (end < len && data[end] != '\n')
      end++;
    while (i < end && (data[i] == ' ' || data[i] == '\t' || data[i] == '\r'))
      i++;
    if (i < end && data[i] != '#') {
      for (; i < end; i++) {
        if (data[i] == '=')
          return true;
        if (data[i] == ':')
          return false;
      }
      return false;
    }
    i = end + 1;
  }
  return false;
}

int ovirt_provider_parse(const char *data, size_t len, const char *file,
                         struct ovirt_provider *out)
{
  struct ovirt_provider p = {0};
  char *text;
  int r;

  if (!file)
    file = "provider";
  if (len > OVIRT_PROVIDER_MAX)
    return error_set(EFBIG,
                     "%s: larger than %d bytes; is it a provider "
                     "file?",
                     file, OVIRT_PROVIDER_MAX);
  if (memchr(data, 0, len))
    return error_set(EINVAL, "%s: holds a NUL byte; is it a provider file?",
                     file);
  if (is_key_value(data, len)) {
    text = strndup(data, len);
    if (!text)
      return error_set(ENOMEM, "out of memory");
    r = parse_lines(text, file, &p);
    explicit_bzero(text, len);
    free(text);
  } else {
    r = parse_yaml(data, len, file, &p);
  }
  if (r == 0 && p.password && p.password_file)
    r = error_set(EINVAL, "%s: give password or passwordFile, not both", file);
  if (r < 0) {
    ovirt_provider_clear(&p);
    return r;
  }
  *out = p;
  return 0;
}

int ovirt_provider_load(const char *path, struct ovirt_provider *out)
{
  char *data;
  size_t len;
  int r;

  r = read_file_whole(path, OVIRT_PROVIDER_MAX, &data, &len);
  if (r < 0)
    return r;
  r = ovirt_provider_parse(data, len, path, out);
  explicit_bzero(data, len);
  free(data);
  return r;
}

int ovirt_read_password_file(const char *path, char **ret)
{
  char *data;
  size_t len;
  int r;

  r = read_file_whole(path, OVIRT_PASSWORD_MAX, &data, &len);
  if (r < 0)
    return r;
  data[strcspn(data, "\r\n")] = 0;
  if (!*data) {
    wipe_free(data);
    return error_set(EINVAL, "%s: the password file is empty", path);
  }
  *ret = data;
  return 0;
}
