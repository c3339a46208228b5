/* The guest clock of an oVirt VM.
 *
 * oVirt gives each VM a time_zone {name, utc_offset}: Linux guests an
 * IANA name ("Etc/GMT" by default), Windows guests a Windows zone name
 * ("W. Europe Standard Time"), because Windows keeps its hardware clock in
 * local time. KubeVirt's clock.timezone takes an IANA name (the TZ
 * variable's format). So:
 *  - an IANA name is kept as it is;
 *  - a Windows name is mapped to the IANA zone of its main region
 *    (Unicode CLDR's windowsZones table, territory "001"), with an info
 *    concern naming both;
 *  - any other name becomes a fixed offset (clock.utc.offsetSeconds) from
 *    utc_offset when the engine gave one, with a warning (no daylight
 *    saving time), or else UTC, with a warning.
 */
#ifndef HOIST_SOURCES_OVIRT_TIMEZONE_H
#define HOIST_SOURCES_OVIRT_TIMEZONE_H

#include <stdbool.h>

#include "model/vm.h"

/* True for names of the IANA form: "UTC", "GMT", or AREA/LOCATION[/SUB]
 * with a known area and characters [A-Za-z0-9_+-]. */
bool ovirt_tz_is_iana(const char *name);

/* The IANA zone for a Windows zone name, or NULL. */
const char *ovirt_tz_from_windows(const char *name);

/* Parses "+HH:MM" / "-HH:MM" into seconds east of UTC; -1 if malformed. */
int ovirt_tz_parse_offset(const char *s, int *ret);

/* Sets vm->timezone (or the fixed offset) from oVirt's time_zone name and
 * utc_offset (either may be NULL) and adds the concerns above. 0 or
 * -ENOMEM. */
int ovirt_tz_apply(struct vm *vm, const char *name, const char *utc_offset);

#endif
