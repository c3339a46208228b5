/* Keystone token bodies and the service catalog (see keystone.h). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sources/openstack/keystone.h"
#include "util/cleanup.h"
#include "util/error.h"
#include "util/json_path.h"

/* More would be a catalog nobody runs; a cap keeps memory bounded. */
#define CATALOG_MAX 4096

static const char *const iface_names[] = {"public", "internal", "admin"};

const char *os_interface_name(enum os_interface i)
{
  return (unsigned)i < ARRAY_SIZE(iface_names) ? iface_names[i] : "public";
}

int os_parse_interface(const char *s, enum os_interface *ret)
{
  size_t i, n;

  for (i = 0; i < ARRAY_SIZE(iface_names); i++) {
    n = strlen(iface_names[i]);
    /* openstack clients also take "publicURL" and the like */
    if (strcasecmp(s, iface_names[i]) == 0 ||
        (strncasecmp(s, iface_names[i], n) == 0 &&
         strcasecmp(s + n, "URL") == 0)) {
      *ret = (enum os_interface)i;
      return 0;
    }
  }
  return -EINVAL;
}

static bool all_digits(const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++)
    if (s[i] < '0' || s[i] > '9')
      return false;
  return true;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
 * days_from_civil). */
static long long days_from_civil(long long y, unsigned m, unsigned d)
{
  long long era;
  unsigned yoe, doy, doe;

  y -= m <= 2;
  era = (y >= 0 ? y : y - 399) / 400;
  yoe = (unsigned)(y - era * 400);
  doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long long)doe - 719468;
}

time_t keystone_parse_time(const char *s)
{
  int y, mo, d, h, mi, se;
  const char *p;

  /* YYYY-MM-DDTHH:MM:SS */
  if (!s || strlen(s) < 19 || !all_digits(s, 4) || s[4] != '-' ||
      !all_digits(s + 5, 2) || s[7] != '-' || !all_digits(s + 8, 2) ||
      (s[10] != 'T' && s[10] != ' ') || !all_digits(s + 11, 2) ||
      s[13] != ':' || !all_digits(s + 14, 2) || s[16] != ':' ||
      !all_digits(s + 17, 2))
    return -1;
  if (sscanf(s, "%4d-%2d-%2d%*c%2d:%2d:%2d", &y, &mo, &d, &h, &mi, &se) != 6)
    return -1;
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
    return -1;
  p = s + 19;
  if (*p == '.') {
    p++;
    if (!(*p >= '0' && *p <= '9'))
      return -1;
    while (*p >= '0' && *p <= '9')
      p++;
  }
  if (*p == 'Z')
    p++;
  else if (streq(p, "+00:00"))
    p += 6;
  if (*p)
    return -1;
  return (time_t)(days_from_civil(y, mo, d) * 86400LL + h * 3600 + mi * 60 +
                  se);
}

static void endpoint_clear(struct os_endpoint *e)
{
  free(e->type);
  free(e->name);
  free(e->interface);
  free(e->region);
  free(e->url);
}

void os_token_info_clear(struct os_token_info *t)
{
  size_t i;

  if (!t)
    return;
  for (i = 0; i < t->catalog.len; i++)
    endpoint_clear(&t->catalog.ptr[i]);
  os_endpoint_list_reset(&t->catalog);
  free(t->user_id);
  free(t->project_id);
  free(t->project_name);
  memset(t, 0, sizeof *t);
}

static int add_endpoints(struct os_token_info *out, json_t *svc,
                         const char *name)
{
  const char *type = jp_str(svc, "type");
  json_t *eps = jp_get(svc, "endpoints"), *ep;
  size_t i;

  if (!type || !json_is_array(eps))
    return 0; /* nothing usable: skipped */
  json_array_foreach(eps, i, ep)
  {
    struct os_endpoint e = {0};
    const char *url = jp_str(ep, "url");
    const char *iface = jp_str(ep, "interface");
    const char *region = jp_str(ep, "region_id");
    bool oom = false;

    if (!url || !iface)
      continue;
    if (!region)
      region = jp_str(ep, "region");
    if (out->catalog.len >= CATALOG_MAX)
      return error_set(EPROTO,
                       "%s: the service catalog has more than %d "
                       "endpoints",
                       name, CATALOG_MAX);
    e.type = strdup(type);
    e.name = jp_dup(svc, "name", &oom);
    e.interface = strdup(iface);
    e.region = region ? strdup(region) : NULL;
    e.url = strdup(url);
    if (!e.type || !e.interface || !e.url || oom || (region && !e.region) ||
        os_endpoint_list_append(&out->catalog, e) < 0) {
      endpoint_clear(&e);
      return error_set(ENOMEM, "out of memory");
    }
  }
  return 0;
}

int keystone_parse_token(const char *buf, size_t len, const char *name,
                         struct os_token_info *out)
{
  _cleanup_(json_decrefp) json_t *j = NULL;
  json_t *tok, *cat, *svc;
  const char *s;
  bool oom = false;
  size_t i;
  int r;

  memset(out, 0, sizeof *out);
  r = jp_load(buf, len, name, &j);
  if (r < 0)
    return r;
  tok = jp_get(j, "token");
  if (!json_is_object(tok))
    return error_set(EPROTO,
                     "%s: the reply has no \"token\" object; is this a "
                     "Keystone v3 identity service?",
                     name);
  s = jp_str(tok, "expires_at");
  if (s && (out->expires_at = keystone_parse_time(s)) < 0)
    return error_set(EPROTO, "%s: the token's expires_at is not a time", name);
  s = jp_str(tok, "issued_at");
  if (s && (out->issued_at = keystone_parse_time(s)) < 0)
    out->issued_at = 0;
  out->user_id = jp_dup(tok, "user.id", &oom);
  out->project_id = jp_dup(tok, "project.id", &oom);
  out->project_name = jp_dup(tok, "project.name", &oom);
  if (oom)
    goto oom;
  cat = jp_get(tok, "catalog");
  json_array_foreach(cat, i, svc)
  {
    r = add_endpoints(out, svc, name);
    if (r < 0) {
      os_token_info_clear(out);
      return r;
    }
  }
  return 0;

oom:
  os_token_info_clear(out);
  return error_set(ENOMEM, "out of memory");
}

/* Appends "s" to a list in buf ("a, b"), once. */
static void list_add(char *buf, size_t size, const char *s)
{
  size_t n = strlen(buf);
  const char *p;

  for (p = buf; (p = strstr(p, s)); p++)
    if ((p == buf || p[-1] == ' ') && (p[strlen(s)] == ',' || !p[strlen(s)]))
      return;
  snprintf(buf + n, size - n, "%s%s", n ? ", " : "", s);
}

int os_catalog_find(const struct os_endpoint_list *catalog, const char *type,
                    enum os_interface iface, const char *region, char **ret)
{
  const char *want = os_interface_name(iface);
  const struct os_endpoint *found = NULL;
  char regions[256] = "", ifaces[128] = "";
  size_t i, matches = 0;
  bool any = false;

  for (i = 0; i < catalog->len; i++) {
    const struct os_endpoint *e = &catalog->ptr[i];
    if (!streq(e->type, type))
      continue;
    any = true;
    if (!streq(e->interface, want)) {
      list_add(ifaces, sizeof ifaces, e->interface);
      continue;
    }
    list_add(regions, sizeof regions, e->region ? e->region : "(none)");
    if (region && !(e->region && streq(e->region, region)))
      continue;
    if (!found || !streq(found->url, e->url))
      matches++;
    found = found ? found : e;
  }
  if (!any)
    return error_set(ENOENT,
                     "the service catalog has no %s service; ask the cloud's "
                     "operator, or check --os-auth-url",
                     type);
  if (!regions[0])
    return error_set(ENOENT,
                     "the service catalog has no %s endpoint of interface "
                     "%s (only %s); choose one with --os-interface",
                     type, want, ifaces);
  if (!found)
    return error_set(ENOENT,
                     "the service catalog has no %s endpoint (%s) in region "
                     "\"%s\"; regions that have one: %s",
                     type, want, region, regions);
  if (matches > 1)
    return error_set(EINVAL,
                     "several regions offer the %s service (%s): choose one "
                     "with --os-region-name",
                     type, regions);
  *ret = strdup(found->url);
  return *ret ? 0 : error_set(ENOMEM, "out of memory");
}
