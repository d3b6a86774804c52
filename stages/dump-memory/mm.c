/* dump-memory/mm.c: the layout of an address space, into mm-PID.img. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "images/image.h"
#include "stages/dump-memory/dump-memory.h"

/* What is read (images/collect.h, shared with the verify stage) is what is
 * written: no field is filled in here. */
int dm_write_mm(int dirfd, pid_t id, const struct collect_mm *c, struct err *e)
{
	char name[64];

	snprintf(name, sizeof(name), "mm-%d.img", id);
	return image_write_one(dirfd, "mm", name, &c->mm.base, e);
}
