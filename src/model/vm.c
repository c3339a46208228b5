#include "model/vm.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct vm *vm_new(void)
{
  struct vm *vm = calloc(1, sizeof *vm);

  if (vm) {
    vm->sockets = vm->cores_per_socket = vm->threads_per_core = 1;
  }
  return vm;
}

static void disk_free_fields(struct vm_disk *d)
{
  free(d->id);
  free(d->name);
  free(d->format);
  free(d->source_controller);
  free(d->serial);
  free(d->locator);
  free(d->compression);
  free(d->storage);
}

static void nic_free_fields(struct vm_nic *n)
{
  free(n->name);
  free(n->mac);
  free(n->network);
  free(n->source_model);
  free(n->model);
}

void vm_free(struct vm *vm)
{
  size_t i;

  if (!vm)
    return;
  for (i = 0; i < vm->disks.len; i++)
    disk_free_fields(&vm->disks.ptr[i]);
  for (i = 0; i < vm->nics.len; i++)
    nic_free_fields(&vm->nics.ptr[i]);
  for (i = 0; i < vm->concerns.len; i++) {
    free(vm->concerns.ptr[i].category);
    free(vm->concerns.ptr[i].message);
  }
  vm_disk_list_reset(&vm->disks);
  vm_nic_list_reset(&vm->nics);
  vm_concern_list_reset(&vm->concerns);
  free(vm->name);
  free(vm->id);
  free(vm->description);
  free(vm->source_kind);
  free(vm->source_ref);
  free(vm->os_type);
  free(vm->os_description);
  free(vm->machine_type);
  free(vm->uuid);
  free(vm->serial);
  free(vm->timezone);
  free(vm);
}

void vm_list_free(struct vm_list *l)
{
  size_t i;

  for (i = 0; i < l->len; i++)
    vm_free(l->ptr[i]);
  vm_list_reset(l);
}

int vm_add_concern(struct vm *vm, enum vm_concern_level level,
                   const char *category, const char *fmt, ...)
{
  struct vm_concern c = {.level = level};
  va_list ap;
  int r;

  va_start(ap, fmt);
  r = vasprintf(&c.message, fmt, ap);
  va_end(ap);
  if (r < 0)
    return -ENOMEM;
  c.category = strdup(category);
  if (!c.category || vm_concern_list_append(&vm->concerns, c) < 0) {
    free(c.category);
    free(c.message);
    return -ENOMEM;
  }
  return 0;
}

bool vm_has_critical_concern(const struct vm *vm)
{
  size_t i;

  for (i = 0; i < vm->concerns.len; i++)
    if (vm->concerns.ptr[i].level == CONCERN_CRITICAL)
      return true;
  return false;
}

const char *vm_concern_level_name(enum vm_concern_level level)
{
  switch (level) {
  case CONCERN_INFO:
    return "info";
  case CONCERN_WARNING:
    return "warning";
  case CONCERN_CRITICAL:
    return "critical";
  }
  return "?";
}

const char *vm_firmware_name(enum vm_firmware fw)
{
  switch (fw) {
  case FIRMWARE_BIOS:
    return "bios";
  case FIRMWARE_EFI:
    return "efi";
  case FIRMWARE_UNKNOWN:
    break;
  }
  return "unknown";
}

const char *vm_disk_bus_name(enum vm_disk_bus bus)
{
  switch (bus) {
  case DISK_BUS_VIRTIO:
    return "virtio";
  case DISK_BUS_SCSI:
    return "scsi";
  case DISK_BUS_SATA:
    return "sata";
  }
  return "virtio";
}
