/* show_dir: the dump-directory part of 'amber show', and the two helpers
 * it shares with the single-image part in driver/show.c. */
#ifndef AMBER_DRIVER_SHOW_DIR_H
#define AMBER_DRIVER_SHOW_DIR_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "images/image.h"
#include "lib/err.h"

/* Sums up the dump in directory path, as text or JSON; 0, or <0 with e set
 * when the dump is incomplete or has problems (listed on stderr). */
int show_dir(FILE *out, const char *path, bool json, struct err *e);
/* Whether images of kind k hold raw pages rather than records (show.c). */
bool show_kind_is_raw(const struct image_kind *k);
/* The dump id of the inventory.img in directory dirfd, or 0 (show.c). */
uint64_t show_dir_dump_id(int dirfd);

#endif
