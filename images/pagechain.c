/* pagechain: see pagechain.h. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "images/image.h"
#include "images/pagechain.h"
#include "images/pagemap.pb-c.h"
#include "lib/grow.h"

int pagechain_inventory(int dirfd, InventoryEntry **inv, uint64_t *id, struct err *e)
{
	struct image img;
	int ret;

	if ((ret = image_open_inspect(&img, dirfd, "inventory", "inventory.img", e)) < 0)
		return ret;
	*id = img.hdr.dump_id;
	ret = image_check(&img, *id, e);
	if (ret == 0) {
		ProtobufCMessage *m = NULL;

		ret = image_read(&img, &m, e);
		if (ret == 0)
			ret = err_input(e, "inventory.img is empty; the dump was cut short");
		else if (ret > 0)
			ret = 0;
		*inv = (InventoryEntry *)m;
	}
	image_close(&img);
	return ret;
}

int pagechain_open_parent(int dirfd, const char *what, const InventoryEntry *inv, int *pfd, struct err *e)
{
	InventoryEntry *pinv = NULL;
	uint64_t pid = 0;
	int fd, ret;

	*pfd = -1;
	if (!inv->has_parent_dump_id)
		return 0;
	/* The link is followed on purpose: it names another directory. */
	fd = openat(dirfd, PAGECHAIN_LINK, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENOTDIR
			       ? err_input(e, "%s is an incremental dump of dump %016llx, but its '%s' link is missing or "
					   "names no directory: put the parent images back where the link points",
					   what, (unsigned long long)inv->parent_dump_id, PAGECHAIN_LINK)
			       : err_errno(e, "open the parent of %s (its '%s' link)", what, PAGECHAIN_LINK);
	ret = pagechain_inventory(fd, &pinv, &pid, e);
	if (ret < 0) {
		close(fd);
		return err_wrap(e, "the parent of %s (its '%s' link)", what, PAGECHAIN_LINK);
	}
	inventory_entry__free_unpacked(pinv, NULL);
	if (pid != inv->parent_dump_id) {
		close(fd);
		return err_input(e, "the parent of %s (its '%s' link) holds dump %016llx, not dump %016llx which %s was made "
				 "against: the link names the wrong directory, or the parent was dumped again",
				 what, PAGECHAIN_LINK, (unsigned long long)pid, (unsigned long long)inv->parent_dump_id, what);
	}
	*pfd = fd;
	return 0;
}

/* The first entry of l that ends after addr (entries in address order). */
static int pagechain_find(const struct pagechain_level *l, uint64_t addr)
{
	int lo = 0, hi = l->nr;

	while (lo < hi) {
		int mid = lo + (hi - lo) / 2;

		if (l->ent[mid].vaddr + l->ent[mid].len <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct pagechain_out {
	struct pagechain_run *runs;
	int nr;
	size_t cap;
	bool need_more;
};

/* Resolves [a, b), which level k-1 says is in its parent, at level k. */
static int pagechain_range(const struct pagechain_level *lv, int nr, int k, uint64_t a, uint64_t b,
			   struct pagechain_out *o, struct err *e)
{
	const struct pagechain_level *l;
	int i, ret;

	if (k >= nr) {
		o->need_more = true;
		return 0;
	}
	l = &lv[k];
	for (i = pagechain_find(l, a); a < b; i++) {
		const struct pagechain_ent *p = i < l->nr ? &l->ent[i] : NULL;
		uint64_t end;

		if (!p || p->vaddr > a)
			return err_input(e, "level %d of the chain says pages %#llx-%#llx are in its parent, but the parent has "
					 "no page at %#llx", k - 1, (unsigned long long)a, (unsigned long long)b,
					 (unsigned long long)a);
		end = p->vaddr + p->len < b ? p->vaddr + p->len : b;
		if (p->in_parent) {
			if ((ret = pagechain_range(lv, nr, k + 1, a, end, o, e)) < 0)
				return ret;
		} else {
			if (grow_cap(&o->runs, &o->cap, (size_t)o->nr + 1) < 0)
				return err_errno(e, "plan the pages of the chain");
			o->runs[o->nr++] = (struct pagechain_run){ a, end - a, p->off + (a - p->vaddr), k };
		}
		a = end;
	}
	return 0;
}

int pagechain_resolve(const struct pagechain_level *lv, int nr, struct pagechain_run **runs, int *nr_runs,
		      bool *need_more, struct err *e)
{
	struct pagechain_out o = { 0 };
	int ret = 0;

	for (int i = 0; ret == 0 && nr > 0 && i < lv[0].nr; i++) {
		const struct pagechain_ent *p = &lv[0].ent[i];

		if (!p->in_parent)
			continue;
		ret = pagechain_range(lv, nr, 1, p->vaddr, p->vaddr + p->len, &o, e);
	}
	if (ret < 0) {
		free(o.runs);
		return ret;
	}
	*runs = o.runs;
	*nr_runs = o.nr;
	*need_more = o.need_more;
	return 0;
}

int pagechain_read_pagemap(int dirfd, uint32_t pid, int level, struct pagechain_ent **out, int *nr, struct err *e)
{
	struct image img;
	char name[64];
	size_t cap = 0;
	int ret;

	*out = NULL;
	*nr = 0;
	snprintf(name, sizeof(name), "pagemap-%u.img", pid);
	if ((ret = image_open_read(&img, dirfd, "pagemap", name, e)) < 0)
		return level ? err_wrap(e, "parent %d of the images directory", level) : ret;
	for (;;) {
		ProtobufCMessage *m;
		const PagemapEntry *p;

		if ((ret = image_read(&img, &m, e)) <= 0)
			break;
		/* The first record is the head. */
		if (img.rd.nr == 1) {
			protobuf_c_message_free_unpacked(m, NULL);
			continue;
		}
		p = (const PagemapEntry *)m;
		if (*nr && p->vaddr < (*out)[*nr - 1].vaddr + (*out)[*nr - 1].len)
			ret = err_input(e, "level %d: '%s' entry %d at %#llx is not after the one before it", level, name, *nr,
					(unsigned long long)p->vaddr);
		else if (grow_cap(out, &cap, (size_t)*nr + 1) < 0)
			ret = err_errno(e, "read '%s' of level %d", name, level);
		else
			(*out)[(*nr)++] = (struct pagechain_ent){ p->vaddr, (uint64_t)p->nr_pages * PAGECHAIN_PAGE, p->offset,
								  p->has_in_parent && p->in_parent };
		protobuf_c_message_free_unpacked(m, NULL);
		if (ret < 0)
			break;
	}
	image_close(&img);
	return ret;
}
