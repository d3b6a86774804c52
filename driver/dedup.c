/* dedup: see dedup.h. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "driver/dedup.h"
#include "images/image.h"
#include "images/pagechain.h"
#include "images/pagemap.pb-c.h"
#include "lib/cleanup.h"
#include "lib/grow.h"

struct dedup_map {
	PagemapEntry **ent;	/* the entries, without the head */
	size_t nr;
	uint32_t pages_id;
};

static void dedup_map_free(struct dedup_map *m)
{
	for (size_t i = 0; i < m->nr; i++)
		pagemap_entry__free_unpacked(m->ent[i], NULL);
	free(m->ent);
	m->ent = NULL;
	m->nr = 0;
}

/* Reads a pagemap image, checked against dump_id (0: the directory's own). */
static int dedup_read(int dirfd, const char *name, uint64_t dump_id, struct dedup_map *m, struct err *e)
{
	struct image img;
	int ret = dump_id ? image_open_inspect(&img, dirfd, "pagemap", name, e) : image_open_read(&img, dirfd, "pagemap", name, e);

	memset(m, 0, sizeof(*m));
	if (ret < 0)
		return ret;
	if (dump_id && (ret = image_check(&img, dump_id, e)) < 0) {
		image_close(&img);
		return ret;
	}
	for (;;) {
		ProtobufCMessage *msg;

		if ((ret = image_read(&img, &msg, e)) <= 0)
			break;
		if (img.rd.nr == 1) {
			m->pages_id = ((PagemapHead *)msg)->pages_id;
			protobuf_c_message_free_unpacked(msg, NULL);
			continue;
		}
		if (grow_one(&m->ent, m->nr) < 0) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = err_errno(e, "read '%s'", name);
			break;
		}
		m->ent[m->nr++] = (PagemapEntry *)msg;
	}
	image_close(&img);
	return ret;
}

/* Punches what child copied out of the parent's pages file. */
static int dedup_one(int dirfd, int pfd, uint64_t parent_id, const char *name, uint64_t *bytes, struct err *e)
{
	struct dedup_map c, p;
	char pages[64];
	_cleanup_close_ int fd = -1;
	int ret;

	if ((ret = dedup_read(dirfd, name, 0, &c, e)) < 0)
		return ret;
	ret = dedup_read(pfd, name, parent_id, &p, e);
	if (ret == -ENOENT) {	/* a process the parent did not have */
		dedup_map_free(&c);
		return 0;
	}
	if (ret == 0) {
		snprintf(pages, sizeof(pages), "pages-%u.img", p.pages_id);
		fd = image_openat(pfd, pages, O_WRONLY, 0);
		if (fd < 0)
			ret = err_errno(e, "open the parent's '%s' to punch it", pages);
	}
	/* Both lists are in address order: one pass. */
	for (size_t i = 0, k = 0; ret == 0 && i < c.nr; i++) {
		const PagemapEntry *ce = c.ent[i];
		uint64_t a = ce->vaddr, b = ce->vaddr + (uint64_t)ce->nr_pages * 4096;

		if (ce->has_in_parent && ce->in_parent)
			continue;
		while (k < p.nr && p.ent[k]->vaddr + (uint64_t)p.ent[k]->nr_pages * 4096 <= a)
			k++;
		for (size_t j = k; ret == 0 && j < p.nr && p.ent[j]->vaddr < b; j++) {
			const PagemapEntry *pe = p.ent[j];
			uint64_t pend = pe->vaddr + (uint64_t)pe->nr_pages * 4096;
			uint64_t s = a > pe->vaddr ? a : pe->vaddr, t = b < pend ? b : pend;

			if ((pe->has_in_parent && pe->in_parent) || s >= t)
				continue;
			if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
				      IMAGE_PAGES_HDR_SIZE + pe->offset + (s - pe->vaddr), t - s) < 0)
				ret = err_errno(e, "punch the parent's '%s'", pages);
			else
				*bytes += t - s;
		}
	}
	dedup_map_free(&c);
	dedup_map_free(&p);
	return ret;
}

int dedup_parent(const char *images, uint64_t *bytes, struct err *e)
{
	_cleanup_close_ int dirfd = open(images, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	_cleanup_close_ int pfd = -1;
	InventoryEntry *inv = NULL, *pinv = NULL;
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	uint64_t id, parent_id;
	int ret;

	*bytes = 0;
	if (dirfd < 0)
		return err_errno(e, "open '%s'", images);
	if ((ret = pagechain_inventory(dirfd, &inv, &id, e)) < 0)
		return ret;
	ret = pagechain_open_parent(dirfd, "the new dump", inv, &pfd, e);
	inventory_entry__free_unpacked(inv, NULL);
	if (ret < 0 || pfd < 0)
		return ret;
	if ((ret = pagechain_inventory(pfd, &pinv, &parent_id, e)) < 0)
		return ret;
	if (!(pinv->has_pre_dump && pinv->pre_dump)) {
		inventory_entry__free_unpacked(pinv, NULL);
		return err_input(e, "--auto-dedup punches only pre-dumps, and the parent is a dump that can be restored "
				 "itself; it was left whole");
	}
	inventory_entry__free_unpacked(pinv, NULL);
	d = fdopendir(dup(dirfd));
	if (!d)
		return err_errno(e, "list '%s'", images);
	while (ret == 0 && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (strncmp(de->d_name, "pagemap-", 8) || n < 5 || strcmp(de->d_name + n - 4, ".img"))
			continue;
		ret = dedup_one(dirfd, pfd, parent_id, de->d_name, bytes, e);
	}
	return ret;
}
