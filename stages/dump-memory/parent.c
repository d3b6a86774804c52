/* dump-memory/parent.c: what the parent iteration holds of a process, for
 * an incremental dump (--prev-images-dir). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "images/image.h"
#include "images/pagemap.pb-c.h"
#include "lib/grow.h"
#include "stages/dump-memory/dump-memory.h"

int dm_parent_load(int pdir, uint64_t parent_id, pid_t id, struct dm_parent *pp, struct err *e)
{
	struct image img;
	char name[64];
	size_t cap = 0, cap2 = 0;
	int ret;

	pp->start = pp->end = NULL;
	pp->nr = 0;
	snprintf(name, sizeof(name), "pagemap-%d.img", id);
	ret = image_open_inspect(&img, pdir, "pagemap", name, e);
	if (ret == -ENOENT)
		return 0;	/* a process the parent did not have: everything is copied */
	if (ret < 0)
		return err_wrap(e, "the parent images directory");
	if ((ret = image_check(&img, parent_id, e)) < 0) {
		image_close(&img);
		return err_wrap(e, "the parent images directory");
	}
	for (;;) {
		ProtobufCMessage *m;
		const PagemapEntry *p;

		if ((ret = image_read(&img, &m, e)) <= 0)
			break;
		if (img.rd.nr == 1) {
			protobuf_c_message_free_unpacked(m, NULL);
			continue;
		}
		p = (const PagemapEntry *)m;
		if (pp->nr && p->vaddr < pp->end[pp->nr - 1]) {
			ret = err_input(e, "parent's '%s' entry %zu at %#llx is not after the one before it", name, pp->nr,
					(unsigned long long)p->vaddr);
		} else if (grow_cap(&pp->start, &cap, pp->nr + 1) < 0 || grow_cap(&pp->end, &cap2, pp->nr + 1) < 0) {
			ret = err_errno(e, "read the parent's '%s'", name);
		} else {
			pp->start[pp->nr] = p->vaddr;
			pp->end[pp->nr++] = p->vaddr + (uint64_t)p->nr_pages * 4096;
		}
		protobuf_c_message_free_unpacked(m, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}

void dm_parent_free(struct dm_parent *pp)
{
	free(pp->start);
	free(pp->end);
	pp->start = pp->end = NULL;
	pp->nr = 0;
}
