/* The guest clock of an oVirt VM (see timezone.h). */
#include "sources/ovirt/timezone.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "model/names.h"
#include "util/cleanup.h"

#define TZ_NAME_MAX 64

/* Windows zone -> IANA zone of its main region (CLDR windowsZones,
 * territory 001). */
static const struct {
  const char *windows, *iana;
} windows_zones[] = {
    {"Dateline Standard Time", "Etc/GMT+12"},
    {"UTC-11", "Etc/GMT+11"},
    {"Hawaiian Standard Time", "Pacific/Honolulu"},
    {"Alaskan Standard Time", "America/Anchorage"},
    {"Pacific Standard Time (Mexico)", "America/Tijuana"},
    {"Pacific Standard Time", "America/Los_Angeles"},
    {"US Mountain Standard Time", "America/Phoenix"},
    {"Mountain Standard Time (Mexico)", "America/Mazatlan"},
    {"Mountain Standard Time", "America/Denver"},
    {"Central America Standard Time", "America/Guatemala"},
    {"Central Standard Time (Mexico)", "America/Mexico_City"},
    {"Central Standard Time", "America/Chicago"},
    {"Canada Central Standard Time", "America/Regina"},
    {"SA Pacific Standard Time", "America/Bogota"},
    {"US Eastern Standard Time", "America/Indiana/Indianapolis"},
    {"Eastern Standard Time", "America/New_York"},
    {"Venezuela Standard Time", "America/Caracas"},
    {"Atlantic Standard Time", "America/Halifax"},
    {"SA Western Standard Time", "America/La_Paz"},
    {"Pacific SA Standard Time", "America/Santiago"},
    {"Newfoundland Standard Time", "America/St_Johns"},
    {"E. South America Standard Time", "America/Sao_Paulo"},
    {"Argentina Standard Time", "America/Argentina/Buenos_Aires"},
    {"SA Eastern Standard Time", "America/Cayenne"},
    {"Greenland Standard Time", "America/Nuuk"},
    {"Montevideo Standard Time", "America/Montevideo"},
    {"UTC-02", "Etc/GMT+2"},
    {"Mid-Atlantic Standard Time", "Etc/GMT+2"},
    {"Azores Standard Time", "Atlantic/Azores"},
    {"Cape Verde Standard Time", "Atlantic/Cape_Verde"},
    {"UTC", "Etc/UTC"},
    {"GMT Standard Time", "Europe/London"},
    {"Greenwich Standard Time", "Atlantic/Reykjavik"},
    {"Morocco Standard Time", "Africa/Casablanca"},
    {"W. Europe Standard Time", "Europe/Berlin"},
    {"Central Europe Standard Time", "Europe/Budapest"},
    {"Romance Standard Time", "Europe/Paris"},
    {"Central European Standard Time", "Europe/Warsaw"},
    {"W. Central Africa Standard Time", "Africa/Lagos"},
    {"Jordan Standard Time", "Asia/Amman"},
    {"GTB Standard Time", "Europe/Bucharest"},
    {"Middle East Standard Time", "Asia/Beirut"},
    {"Egypt Standard Time", "Africa/Cairo"},
    {"South Africa Standard Time", "Africa/Johannesburg"},
    {"FLE Standard Time", "Europe/Helsinki"},
    {"Turkey Standard Time", "Europe/Istanbul"},
    {"Israel Standard Time", "Asia/Jerusalem"},
    {"E. Europe Standard Time", "Europe/Chisinau"},
    {"Arabic Standard Time", "Asia/Baghdad"},
    {"Arab Standard Time", "Asia/Riyadh"},
    {"Russian Standard Time", "Europe/Moscow"},
    {"E. Africa Standard Time", "Africa/Nairobi"},
    {"Iran Standard Time", "Asia/Tehran"},
    {"Arabian Standard Time", "Asia/Dubai"},
    {"Azerbaijan Standard Time", "Asia/Baku"},
    {"Caucasus Standard Time", "Asia/Yerevan"},
    {"Afghanistan Standard Time", "Asia/Kabul"},
    {"Ekaterinburg Standard Time", "Asia/Yekaterinburg"},
    {"West Asia Standard Time", "Asia/Tashkent"},
    {"Pakistan Standard Time", "Asia/Karachi"},
    {"India Standard Time", "Asia/Kolkata"},
    {"Sri Lanka Standard Time", "Asia/Colombo"},
    {"Nepal Standard Time", "Asia/Kathmandu"},
    {"Central Asia Standard Time", "Asia/Almaty"},
    {"Bangladesh Standard Time", "Asia/Dhaka"},
    {"N. Central Asia Standard Time", "Asia/Novosibirsk"},
    {"Myanmar Standard Time", "Asia/Yangon"},
    {"SE Asia Standard Time", "Asia/Bangkok"},
    {"North Asia Standard Time", "Asia/Krasnoyarsk"},
    {"China Standard Time", "Asia/Shanghai"},
    {"North Asia East Standard Time", "Asia/Irkutsk"},
    {"Singapore Standard Time", "Asia/Singapore"},
    {"W. Australia Standard Time", "Australia/Perth"},
    {"Taipei Standard Time", "Asia/Taipei"},
    {"Tokyo Standard Time", "Asia/Tokyo"},
    {"Korea Standard Time", "Asia/Seoul"},
    {"Yakutsk Standard Time", "Asia/Yakutsk"},
    {"Cen. Australia Standard Time", "Australia/Adelaide"},
    {"AUS Central Standard Time", "Australia/Darwin"},
    {"E. Australia Standard Time", "Australia/Brisbane"},
    {"AUS Eastern Standard Time", "Australia/Sydney"},
    {"West Pacific Standard Time", "Pacific/Port_Moresby"},
    {"Tasmania Standard Time", "Australia/Hobart"},
    {"Vladivostok Standard Time", "Asia/Vladivostok"},
    {"Magadan Standard Time", "Asia/Magadan"},
    {"Central Pacific Standard Time", "Pacific/Guadalcanal"},
    {"UTC+12", "Etc/GMT-12"},
    {"New Zealand Standard Time", "Pacific/Auckland"},
    {"Fiji Standard Time", "Pacific/Fiji"},
    {"Kamchatka Standard Time", "Asia/Kamchatka"},
    {"Tonga Standard Time", "Pacific/Tongatapu"},
    {"Samoa Standard Time", "Pacific/Apia"},
    {"Line Islands Standard Time", "Pacific/Kiritimati"},
};

static const char *const iana_areas[] = {
    "Africa",    "America", "Antarctica", "Arctic",  "Asia", "Atlantic",
    "Australia", "Europe",  "Indian",     "Pacific", "Etc",
};

bool ovirt_tz_is_iana(const char *name)
{
  const char *p = name, *slash;
  size_t i, parts = 0;
  bool area = false;

  if (!name || !*name || strlen(name) > TZ_NAME_MAX)
    return false;
  if (streq(name, "UTC") || streq(name, "GMT"))
    return true;
  slash = strchr(name, '/');
  for (i = 0; slash && i < ARRAY_SIZE(iana_areas); i++)
    if ((size_t)(slash - name) == strlen(iana_areas[i]) &&
        strncmp(name, iana_areas[i], slash - name) == 0)
      area = true;
  if (!area)
    return false;
  /* Each part: a letter, then letters, digits, '_', '+', '-'. */
  while (*p) {
    size_t n = strcspn(p, "/");
    if (n == 0 || parts == 3)
      return false;
    if (!((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z')))
      return false;
    if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                  "0123456789_+-") != n)
      return false;
    parts++;
    p += n;
    if (*p == '/' && !*++p)
      return false;
  }
  return parts >= 2;
}

const char *ovirt_tz_from_windows(const char *name)
{
  size_t i;

  for (i = 0; name && i < ARRAY_SIZE(windows_zones); i++)
    if (streq(name, windows_zones[i].windows))
      return windows_zones[i].iana;
  return NULL;
}

int ovirt_tz_parse_offset(const char *s, int *ret)
{
  int sign, h, m;

  if (!s || (s[0] != '+' && s[0] != '-') || strlen(s) != 6 || s[3] != ':')
    return -1;
  if (s[1] < '0' || s[1] > '9' || s[2] < '0' || s[2] > '9' || s[4] < '0' ||
      s[4] > '5' || s[5] < '0' || s[5] > '9')
    return -1;
  sign = s[0] == '-' ? -1 : 1;
  h = (s[1] - '0') * 10 + (s[2] - '0');
  m = (s[4] - '0') * 10 + (s[5] - '0');
  if (h > 14)
    return -1;
  *ret = sign * (h * 3600 + m * 60);
  return 0;
}

int ovirt_tz_apply(struct vm *vm, const char *name, const char *utc_offset)
{
  const char *iana;
  char shown[96];
  int offset;

  if (!name)
    return 0;
  if (ovirt_tz_is_iana(name)) {
    vm->timezone = strdup(name);
    return vm->timezone ? 0 : -ENOMEM;
  }
  iana = ovirt_tz_from_windows(name);
  names_printable(name, shown, sizeof shown);
  if (iana) {
    vm->timezone = strdup(iana);
    if (!vm->timezone)
      return -ENOMEM;
    return vm_add_concern(vm, CONCERN_INFO, "timezone",
                          "Windows time zone \"%s\" becomes the IANA zone %s "
                          "for the guest's clock",
                          shown, iana);
  }
  if (ovirt_tz_parse_offset(utc_offset, &offset) == 0) {
    vm->utc_offset_set = true;
    vm->utc_offset = offset;
    return vm_add_concern(vm, CONCERN_WARNING, "timezone",
                          "time zone \"%s\" is not a known zone name; the "
                          "guest's clock gets the fixed offset %s from UTC, "
                          "without daylight saving time",
                          shown, utc_offset);
  }
  return vm_add_concern(vm, CONCERN_WARNING, "timezone",
                        "time zone \"%s\" is not a known zone name; the "
                        "guest's clock runs in UTC",
                        shown);
}
