/* Where the populator reads from: an oVirt disk through an image transfer
 * the populator starts on the engine (ovirt mode), or an imageio ticket
 * URL given directly (imageio mode). */
#ifndef HOIST_POPULATOR_SOURCE_H
#define HOIST_POPULATOR_SOURCE_H

#include "disk/disk.h"
#include "populator/populator.h"

struct ovirt_engine;
struct ovirt_transfer;

struct pop_source {
  struct disk *disk;
  /* Names the source in a checkpoint, without secrets: "ovirt-disk:ID",
   * --source-id, or "imageio:HOST:PORT/images/sha256:…" (a hash of the
   * ticket). */
  char *id;
  char *shown; /* for messages */
  struct ovirt_engine *engine;
  struct ovirt_transfer *transfer;
  bool finished;
};

int pop_source_open_imageio(const struct pop_args *a,
                            const struct pop_credentials *c,
                            struct pop_source *s);
int pop_source_open_openstack(const struct pop_args *a,
                              const struct pop_credentials *c,
                              const _Atomic bool *stop, struct pop_source *s);
int pop_source_open_ovirt(const struct pop_args *a,
                          const struct pop_credentials *c,
                          const _Atomic bool *stop, struct pop_source *s);

/* After a complete copy: ends the source's side (finalizes the image
 * transfer). */
int pop_source_finish(struct pop_source *s);

/* Frees; an unfinished transfer is cancelled. */
void pop_source_close(struct pop_source *s);
/* The ovirt part of pop_source_close(). */
void pop_source_close_transfer(struct pop_source *s);

#endif
