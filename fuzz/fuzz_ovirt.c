/* The oVirt inventory parsers on the same bytes: the collections
 * (networks, vNIC profiles, storage domains, clusters, hosts) read from
 * one JSON object, then its VMs with that inventory (concerns, time
 * zones and all); and the provider file parser. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/vm.h"
#include "sources/ovirt/inventory.h"
#include "sources/ovirt/provider.h"
#include "sources/ovirt/timezone.h"
#include "util/error.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_vm(const struct vm *vm)
{
  size_t i;

  /* A VM always has its id; every disk can be located; every concern
   * says something. */
  if (!vm->id || !vm->uuid || !vm->source_kind)
    abort();
  for (i = 0; i < vm->disks.len; i++)
    if (!vm->disks.ptr[i].locator || !vm->disks.ptr[i].format)
      abort();
  for (i = 0; i < vm->nics.len; i++)
    if (!vm->nics.ptr[i].model)
      abort();
  for (i = 0; i < vm->concerns.len; i++)
    if (!vm->concerns.ptr[i].message || !vm->concerns.ptr[i].category)
      abort();
  if (vm->timezone && !ovirt_tz_is_iana(vm->timezone))
    abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  struct ovirt_inventory inv = {0};
  struct ovirt_provider prov = {0};
  struct vm_list vms = {0};
  json_t *root;
  size_t i;

  root = json_loadb((const char *)data, size, 0, NULL);
  if (root) {
    if (ovirt_parse_networks(root, "fuzz", &inv.networks) < 0)
      error_clear();
    if (ovirt_parse_vnic_profiles(root, "fuzz", &inv.profiles) < 0)
      error_clear();
    if (ovirt_parse_storage_domains(root, "fuzz", &inv.storage) < 0)
      error_clear();
    if (ovirt_parse_clusters(root, "fuzz", &inv.clusters) < 0)
      error_clear();
    if (ovirt_parse_hosts(root, "fuzz", &inv.hosts) < 0)
      error_clear();
    if (ovirt_parse_vms(root, "fuzz", &inv, "https://engine", &vms) < 0)
      error_clear();
    for (i = 0; i < vms.len; i++)
      check_vm(vms.ptr[i]);
    vm_list_free(&vms);
    ovirt_inventory_clear(&inv);
    json_decref(root);
  }

  if (ovirt_provider_parse((const char *)data, size, "fuzz.yaml", &prov) == 0)
    ovirt_provider_clear(&prov);
  error_clear();
  return 0;
}
