/* Parsers of what OpenStack services send: a Keystone token body (and
 * endpoint lookups in its catalog), a Glance image, times; and the
 * Nova/Cinder/Neutron inventory replies turned into VMs. The same bytes go
 * to each. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sources/openstack/glance.h"
#include "sources/openstack/inventory.h"
#include "sources/openstack/keystone.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void catalog_lookups(const struct os_token_info *t)
{
  static const char *const types[] = {"image", "compute", "volumev3", "network",
                                      "identity"};
  static const char *const regions[] = {NULL, "RegionOne", ""};
  size_t i, j;
  int k;

  for (i = 0; i < sizeof types / sizeof *types; i++)
    for (j = 0; j < sizeof regions / sizeof *regions; j++)
      for (k = 0; k < 3; k++) {
        char *url = NULL;
        if (os_catalog_find(&t->catalog, types[i], (enum os_interface)k,
                            regions[j], &url) == 0 &&
            !url)
          abort();
        free(url);
        error_clear();
      }
}

/* Every parser appends what it accepts to one inventory; then every
 * server becomes a VM, with and without the bytes as its image. */
static void inventory(const char *buf, size_t size)
{
  struct os_inventory inv = {0};
  json_t *image;
  size_t i;

  (void)os_parse_servers(buf, size, "fuzz", &inv.servers);
  error_clear();
  (void)os_parse_volumes(buf, size, "fuzz", &inv.volumes);
  error_clear();
  (void)os_parse_volume_types(buf, size, "fuzz", &inv.volume_types);
  error_clear();
  (void)os_parse_ports(buf, size, "fuzz", &inv.ports);
  error_clear();
  (void)os_parse_networks(buf, size, "fuzz", &inv.networks);
  error_clear();
  (void)os_parse_floating_ips(buf, size, "fuzz", &inv.floating_ips);
  error_clear();
  image = json_loadb(buf, size, 0, NULL);
  for (i = 0; i < inv.servers.len; i++) {
    struct vm *vm = NULL;
    if (os_vm_build(&inv, &inv.servers.ptr[i], NULL, "fuzz", &vm) == 0)
      vm_free(vm);
    error_clear();
    if (os_vm_build(&inv, &inv.servers.ptr[i], image, "fuzz", &vm) == 0) {
      if (!vm->sockets || vm->disks.len > 1 + inv.volumes.len)
        abort();
      vm_free(vm);
    }
    error_clear();
  }
  json_decref(image);
  os_inventory_clear(&inv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct os_token_info t;
  struct glance_image img;
  char *text;

  if (keystone_parse_token((const char *)data, size, "fuzz", &t) == 0) {
    catalog_lookups(&t);
    os_token_info_clear(&t);
  }
  error_clear();
  if (glance_parse_image((const char *)data, size, "fuzz", &img) == 0) {
    if (!img.id || !glance_id_ok(img.id))
      abort();
    (void)glance_image_prop(&img, "hw_disk_bus");
    glance_image_clear(&img);
  }
  error_clear();
  inventory((const char *)data, size);
  text = strndup((const char *)data, size);
  if (text) {
    time_t when = keystone_parse_time(text);
    (void)when;
    (void)glance_id_ok(text);
    free(text);
  }
  return 0;
}
