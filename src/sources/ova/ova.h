/* OVA archives: a tar file holding an OVF descriptor, an optional manifest
 * (.mf) and the disk files, read in place (never unpacked). Also accepts
 * an unpacked export: a path to an .ovf file whose disk files sit next to
 * it.
 */
#ifndef HOIST_SOURCES_OVA_H
#define HOIST_SOURCES_OVA_H

#include <stdbool.h>

#include "disk/disk.h"
#include "model/vm.h"

struct ova;

/* Opens the archive: indexes its members, parses the OVF (all VMs of a
 * VirtualSystemCollection) into the neutral model, reads the manifest and
 * checks the OVF's own digest against it. Each vm_disk's locator is the
 * member name of its file and `compression` is "gzip" where the OVF says
 * so. Concerns the OVF reveals (passthrough devices, unknown controllers,
 * NICs without a MAC, …) are attached to each VM.
 *
 * path is a tar archive (.ova), an .ovf file whose disk files lie next to
 * it, or a directory holding exactly one .ovf (an unpacked export); the
 * kind is told from the content.
 *
 * A disk the OVF declares without a file (an empty disk to create) has
 * locator NULL, its capacity, and an info concern "empty-disk". Every
 * file a disk refers to must be in the package, else ova_open fails. */
int ova_open(const char *path, struct ova **ret);
void ova_close(struct ova *ova);

const struct vm_list *ova_vms(const struct ova *ova);
const char *ova_path(const struct ova *ova);
bool ova_has_manifest(const struct ova *ova);

/* The names of the descriptor and the manifest (NULL if none). */
const char *ova_ovf_name(const struct ova *ova);
const char *ova_manifest_name(const struct ova *ova);

/* The package's files, in archive order, named relative to the .ovf's
 * folder (member names are that relative form everywhere): every regular
 * member of an archive in that folder; for an unpacked export, the .ovf, the
 * manifest and the files of the References section that exist. */
size_t ova_file_count(const struct ova *ova);
const char *ova_file_name(const struct ova *ova, size_t i);

/* Verifies a member's bytes (as stored: compressed if gzip) against the
 * manifest digest (SHA-1, SHA-256 or SHA-512). 0 if it matches or the manifest
 * does not list it (*listed tells which); a mismatch is an error naming the
 * member. */
int ova_verify_member(struct ova *ova, const char *member, bool *listed);

/* Opens member `member` as a disk, decoding gzip and the disk format on
 * the fly. The member must be the file of a disk of the OVF; the format
 * found in its content must be the one the OVF declares. The disk keeps
 * its own handle on the archive: it may outlive the ova. */
int ova_open_member_disk(struct ova *ova, const char *member,
                         struct disk **ret);

/* One-shot: opens the disk stored as `member` of the OVA at path. */
int ova_open_disk(const char *path, const char *member, struct disk **ret);

#endif
