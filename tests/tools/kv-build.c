/* Test-only driver of the KubeVirt builder without a source:
 *
 *   kv-build [OPTIONS] VMS.json OUT   builds OUT/<name>/{virtualmachine,
 *                                     pvcs}.yaml for VMs described in JSON
 *   kv-build --scalar STRING…         prints "- <scalar>" per string
 *   kv-build --netmap FILE            prints the parsed map, one entry a line
 *
 * Options: --network-map FILE, --namespace NS, --storage-class SC,
 * --volume-mode MODE. Concerns go to stderr as "concern: LEVEL: MESSAGE".
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "kubevirt/builder.h"
#include "kubevirt/yaml.h"
#include "model/mapping.h"
#include "model/names.h"
#include "util/cleanup.h"
#include "util/error.h"

static char *jstr(json_t *o, const char *key)
{
  const char *s = json_string_value(json_object_get(o, key));
  return s ? strdup(s) : NULL;
}

static uint64_t jint(json_t *o, const char *key, uint64_t def)
{
  json_t *v = json_object_get(o, key);
  return json_is_integer(v) ? (uint64_t)json_integer_value(v) : def;
}

static struct vm *vm_from_json(json_t *o)
{
  struct vm *vm = vm_new();
  const char *fw = json_string_value(json_object_get(o, "firmware"));
  size_t i;
  json_t *v;

  vm->name = jstr(o, "name");
  vm->id = jstr(o, "id");
  vm->source_kind = jstr(o, "source_kind");
  vm->source_ref = jstr(o, "source_ref");
  vm->machine_type = jstr(o, "machine_type");
  vm->uuid = jstr(o, "uuid");
  vm->description = jstr(o, "description");
  vm->firmware = !fw                ? FIRMWARE_UNKNOWN
                 : streq(fw, "efi") ? FIRMWARE_EFI
                                    : FIRMWARE_BIOS;
  vm->secure_boot = json_is_true(json_object_get(o, "secure_boot"));
  vm->sockets = jint(o, "sockets", 1);
  vm->cores_per_socket = jint(o, "cores_per_socket", 1);
  vm->threads_per_core = jint(o, "threads_per_core", 1);
  vm->memory = jint(o, "memory", 0);
  json_array_foreach(json_object_get(o, "disks"), i, v)
  {
    const char *bus = json_string_value(json_object_get(v, "bus"));
    struct vm_disk d = {
        .id = jstr(v, "id"),
        .name = jstr(v, "name"),
        .capacity = jint(v, "capacity", 0),
        .bus = !bus                 ? DISK_BUS_VIRTIO
               : streq(bus, "scsi") ? DISK_BUS_SCSI
               : streq(bus, "sata") ? DISK_BUS_SATA
                                    : DISK_BUS_VIRTIO,
        .source_controller = jstr(v, "controller"),
        .boot_order = (int)jint(v, "boot_order", 0),
        .serial = jstr(v, "serial"),
        .shareable = json_is_true(json_object_get(v, "shareable")),
    };
    vm_disk_list_append(&vm->disks, d);
  }
  json_array_foreach(json_object_get(o, "nics"), i, v)
  {
    struct vm_nic n = {
        .name = jstr(v, "name"),
        .mac = jstr(v, "mac"),
        .network = jstr(v, "network"),
        .model = jstr(v, "model"),
    };
    vm_nic_list_append(&vm->nics, n);
  }
  return vm;
}

static int write_text(const char *dir, const char *name, const char *text)
{
  _cleanup_free_ char *path = NULL;
  FILE *f;

  if (asprintf(&path, "%s/%s", dir, name) < 0 || !(f = fopen(path, "w")))
    return -1;
  fputs(text, f);
  return fclose(f) == 0 ? 0 : -1;
}

static int build_one(struct vm *vm, struct name_set *names,
                     const struct netmap *map, const struct kv_options *o,
                     const char *out)
{
  _cleanup_free_ char *name = NULL, *dir = NULL, *a = NULL, *b = NULL;
  _cleanup_free_ struct nic_target *nics =
      calloc(vm->nics.len + 1, sizeof *nics);
  _cleanup_free_ struct kv_disk_target *disks =
      calloc(vm->disks.len + 1, sizeof *disks);
  size_t i;

  if (names_assign_vm(names, vm, &name) < 0 ||
      mapping_assign_networks(vm, map, nics) < 0 || kv_check_vm(vm) < 0)
    return -1;
  for (i = 0; i < vm->disks.len; i++)
    kv_pvc_name(name, i, (char **)&disks[i].pvc_name);
  for (i = 0; i < vm->concerns.len; i++)
    fprintf(stderr, "concern: %s: %s\n",
            vm_concern_level_name(vm->concerns.ptr[i].level),
            vm->concerns.ptr[i].message);
  printf("%s\n", name);
  if (asprintf(&dir, "%s/%s", out, name) < 0 || mkdir(dir, 0777) < 0)
    return -1;
  {
    const struct kv_vm_target t = {name, disks, nics};
    int r = kv_render_vm(vm, &t, o, &a);
    if (r == 0)
      r = kv_render_pvcs(vm, &t, o, &b);
    if (r == 0)
      r = write_text(dir, "virtualmachine.yaml", a) ||
          write_text(dir, "pvcs.yaml", b);
    for (i = 0; i < vm->disks.len; i++)
      free((char *)disks[i].pvc_name);
    return r;
  }
}

int main(int argc, char **argv)
{
  struct kv_options o = {0};
  struct netmap *map = NULL;
  struct name_set names = {0};
  json_t *root;
  json_error_t jerr;
  size_t i;
  int arg = 1, rc = 0;
  json_t *v;

  if (argc > 2 && streq(argv[1], "--scalar")) {
    for (arg = 2; arg < argc; arg++) {
      fputs("- ", stdout);
      yaml_write_scalar(stdout, argv[arg]);
      fputc('\n', stdout);
    }
    return 0;
  }
  if (argc == 3 && streq(argv[1], "--netmap")) {
    if (netmap_load(argv[2], &map) < 0) {
      fprintf(stderr, "error: %s\n", error_message());
      return 1;
    }
    for (i = 0; i < map->entries.len; i++) {
      const struct netmap_entry *e = &map->entries.ptr[i];
      printf("%s|%s|%s|%s|%s\n", e->source_name ? e->source_name : "",
             e->source_id ? e->source_id : "", netmap_type_name(e->type),
             e->ns ? e->ns : "", e->name ? e->name : "");
    }
    netmap_free(map);
    return 0;
  }
  for (; arg + 1 < argc && strncmp(argv[arg], "--", 2) == 0; arg += 2) {
    if (streq(argv[arg], "--network-map")) {
      if (netmap_load(argv[arg + 1], &map) < 0) {
        fprintf(stderr, "error: %s\n", error_message());
        return 1;
      }
    } else if (streq(argv[arg], "--namespace")) {
      o.ns = argv[arg + 1];
    } else if (streq(argv[arg], "--storage-class")) {
      o.storage_class = argv[arg + 1];
    } else if (streq(argv[arg], "--volume-mode")) {
      kv_parse_volume_mode(argv[arg + 1], &o.volume_mode);
    }
  }
  if (argc - arg != 2) {
    fprintf(stderr, "usage: kv-build [OPTIONS] VMS.json OUT\n");
    return 2;
  }
  root = json_load_file(argv[arg], 0, &jerr);
  if (!root) {
    fprintf(stderr, "%s: %s\n", argv[arg], jerr.text);
    return 1;
  }
  json_array_foreach(json_object_get(root, "vms"), i, v)
  {
    struct vm *vm = vm_from_json(v);
    if (build_one(vm, &names, map, &o, argv[arg + 1]) < 0) {
      fprintf(stderr, "error: %s\n", error_message());
      rc = 1;
    }
    vm_free(vm);
  }
  json_decref(root);
  name_set_reset(&names);
  netmap_free(map);
  return rc;
}
