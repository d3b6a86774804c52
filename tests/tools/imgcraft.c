/* imgcraft: edits a dump's images the way an attacker who can write them
 * would, for tests/e2e/t017-confine.sh and t018-verify.sh. Records are read and written with
 * amber's own image code (images/image.h), so a crafted image is well
 * formed and only what it says is a lie.
 *
 *	imgcraft remap DIR PATH [DEV INO]
 *		adds a REMAP_LINK record for PATH to remaps.img (with that
 *		device and inode, decimal as stat -c '%d %i' prints them)
 *	imgcraft tmpfs-symlink DIR MNT NAME TARGET
 *	imgcraft tmpfs-file DIR MNT NAME MODE [setid]
 *		appends a symlink, or a regular file with octal MODE (and the
 *		setid flag), to tmpfs-MNT.img
 *	imgcraft pagemap DIR PID FILE [private]
 *		appends to pagemap-PID.img an entry over the first page of the
 *		VMA that maps FILE shared, and a page of 'X' bytes to
 *		pages-PID.img; with "private" the VMA's kind says private too
 *		(its flags still MAP_SHARED)
 *	imgcraft unix-name DIR OLD NEW
 *		renames the unix socket named OLD to NEW in files.img
 *	imgcraft rlimit DIR TID RESOURCE MAX
 *		sets the hard limit of RESOURCE (a number) in core-TID.img to
 *		MAX (what a restore without CAP_SYS_RESOURCE cannot give back
 *		when MAX is above its own; for tests/e2e/t018-verify.sh)
 *
 * Exit status 0 when done, 1 with a message when not. */
#include <endian.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "images/core.pb-c.h"
#include "images/files.pb-c.h"
#include "images/image.h"
#include "images/mm.pb-c.h"
#include "images/mnt.pb-c.h"
#include "images/pagemap.pb-c.h"

/* The records of one image, read whole. */
struct records {
	ProtobufCMessage **m;
	size_t nr;
};

static void __attribute__((noreturn)) die(const char *what, const struct err *e)
{
	fprintf(stderr, "imgcraft: %s%s%s\n", what, e ? ": " : "", e ? e->msg : "");
	exit(1);
}

/* Reads every record of name (none if it is missing and missing_ok). */
static void load(int dir, const char *kind, const char *name, bool missing_ok, struct records *r)
{
	struct image img;
	struct err e = { 0 };
	ProtobufCMessage *m;
	int ret = image_open_read(&img, dir, kind, name, &e);

	r->m = NULL;
	r->nr = 0;
	if (ret == -ENOENT && missing_ok)
		return;
	if (ret < 0)
		die(name, &e);
	while ((ret = image_read(&img, &m, &e)) > 0) {
		r->m = realloc(r->m, (r->nr + 1) * sizeof(*r->m));
		r->m[r->nr++] = m;
	}
	if (ret < 0)
		die(name, &e);
	image_close(&img);
}

/* Frees what load read. */
static void unload(struct records *r)
{
	for (size_t i = 0; i < r->nr; i++)
		protobuf_c_message_free_unpacked(r->m[i], NULL);
	free(r->m);
	r->m = NULL;
	r->nr = 0;
}

/* Writes the records back (plus extra, if not NULL). */
static void store(int dir, const char *kind, const char *name, const struct records *r, const ProtobufCMessage *extra)
{
	struct image img;
	struct err e = { 0 };

	if (image_open_write(&img, dir, kind, name, &e) < 0)
		die(name, &e);
	for (size_t i = 0; i < r->nr; i++)
		if (image_write(&img, r->m[i], &e) < 0)
			die(name, &e);
	if (extra && image_write(&img, extra, &e) < 0)
		die(name, &e);
	if (image_close_write(&img, &e) < 0)
		die(name, &e);
}

static int craft_remap(int dir, int argc, char **argv)
{
	RemapEntry re = REMAP_ENTRY__INIT;
	struct records r;

	if (argc != 1 && argc != 3)
		die("usage: imgcraft remap DIR PATH [DEV INO]", NULL);
	load(dir, "remaps", "remaps.img", true, &r);
	re.file_id = 900 + r.nr;
	re.kind = REMAP_KIND__REMAP_LINK;
	re.path = argv[0];
	if (argc == 3) {
		re.has_dev = re.has_ino = true;
		re.dev = strtoull(argv[1], NULL, 10);
		re.ino = strtoull(argv[2], NULL, 10);
	}
	store(dir, "remaps", "remaps.img", &r, &re.base);
	unload(&r);
	return 0;
}

static int craft_tmpfs(int dir, bool symlink, int argc, char **argv)
{
	TmpfsFileEntry fe = TMPFS_FILE_ENTRY__INIT;
	struct records r;
	char name[64];

	if (argc < 3)
		die("usage: imgcraft tmpfs-symlink DIR MNT NAME TARGET | tmpfs-file DIR MNT NAME MODE [setid]", NULL);
	snprintf(name, sizeof(name), "tmpfs-%s.img", argv[0]);
	load(dir, "tmpfs", name, false, &r);
	fe.path = argv[1];
	if (symlink) {
		fe.mode = S_IFLNK | 0777;
		fe.target = argv[2];
	} else {
		fe.mode = S_IFREG | strtoul(argv[2], NULL, 8);
		fe.has_data = true;
		fe.data.data = (uint8_t *)"#!/bin/sh\nid\n";
		fe.data.len = strlen((char *)fe.data.data);
		fe.has_setid = fe.setid = argc > 3 && !strcmp(argv[3], "setid");
	}
	store(dir, "tmpfs", name, &r, &fe.base);
	unload(&r);
	return 0;
}

static int craft_pagemap(int dir, int argc, char **argv)
{
	char mmname[64], pmname[64], pgname[64], page[4096];
	struct image_header h;
	PagemapEntry pe = PAGEMAP_ENTRY__INIT;
	struct records mm, pm;
	MmEntry *m;
	VmaEntry *v = NULL;
	struct stat st;
	int fd;

	if (argc < 2)
		die("usage: imgcraft pagemap DIR PID FILE [private]", NULL);
	snprintf(mmname, sizeof(mmname), "mm-%s.img", argv[0]);
	snprintf(pmname, sizeof(pmname), "pagemap-%s.img", argv[0]);
	snprintf(pgname, sizeof(pgname), "pages-%s.img", argv[0]);
	load(dir, "mm", mmname, false, &mm);
	m = (MmEntry *)mm.m[0];
	for (size_t i = 0; i < m->n_vmas && !v; i++)
		if (m->vmas[i]->path && !strcmp(m->vmas[i]->path, argv[1]) && m->vmas[i]->kind == VMA_KIND__VMA_FILE_SHARED)
			v = m->vmas[i];
	if (!v)
		die("no VMA maps that file shared", NULL);
	if (argc > 2 && !strcmp(argv[2], "private")) {
		v->kind = VMA_KIND__VMA_FILE_PRIVATE;
		store(dir, "mm", mmname, &mm, NULL);
	}
	load(dir, "pagemap", pmname, false, &pm);
	fd = openat(dir, pgname, O_RDWR);
	if (fd < 0 || fstat(fd, &st) < 0 || pread(fd, &h, sizeof(h), 0) != sizeof(h))
		die(pgname, NULL);
	memset(page, 'X', sizeof(page));
	pe.vaddr = v->start;
	pe.nr_pages = 1;
	pe.offset = st.st_size - IMAGE_PAGES_HDR_SIZE;
	/* The page, and a header that counts it, so that only the entry's
	 * target is wrong. */
	h.count = htole64(le64toh(h.count) + 1);
	h.body = htole64(le64toh(h.body) + sizeof(page));
	if (pwrite(fd, page, sizeof(page), st.st_size) != sizeof(page) || pwrite(fd, &h, sizeof(h), 0) != sizeof(h))
		die(pgname, NULL);
	close(fd);
	store(dir, "pagemap", pmname, &pm, &pe.base);
	unload(&pm);
	unload(&mm);
	return 0;
}

static int craft_unix_name(int dir, int argc, char **argv)
{
	struct records r;
	int n = 0;

	if (argc != 2)
		die("usage: imgcraft unix-name DIR OLD NEW", NULL);
	load(dir, "files", "files.img", false, &r);
	for (size_t i = 0; i < r.nr; i++) {
		UnixSocketEntry *u = ((RegFileEntry *)r.m[i])->unix_sk;
		size_t old = strlen(argv[0]);

		/* A name may be kept with its terminating 0, as it was bound. */
		if (u && u->has_name && (u->name.len == old || (u->name.len == old + 1 && !u->name.data[old])) &&
		    !memcmp(u->name.data, argv[0], old)) {
			u->name.len = strlen(argv[1]) + (u->name.len > old);
			/* Room for the new name, freed with the record. */
			free(u->name.data);
			if (!(u->name.data = calloc(1, u->name.len + 1)))
				die("out of memory", NULL);
			memcpy(u->name.data, argv[1], strlen(argv[1]));
			n++;
		}
	}
	if (!n)
		die("no unix socket has that name", NULL);
	store(dir, "files", "files.img", &r, NULL);
	unload(&r);
	return 0;
}

static int craft_rlimit(int dir, int argc, char **argv)
{
	char name[64];
	struct records r;
	CoreEntry *c;
	unsigned long res;
	int n = 0;

	if (argc != 3)
		die("usage: imgcraft rlimit DIR TID RESOURCE MAX", NULL);
	snprintf(name, sizeof(name), "core-%s.img", argv[0]);
	res = strtoul(argv[1], NULL, 10);
	load(dir, "core", name, false, &r);
	c = (CoreEntry *)r.m[0];
	for (size_t i = 0; i < c->n_rlimits; i++)
		if (c->rlimits[i]->resource == res) {
			c->rlimits[i]->max = strtoull(argv[2], NULL, 10);
			n++;
		}
	if (!n)
		die("core image has no such rlimit", NULL);
	store(dir, "core", name, &r, NULL);
	unload(&r);
	return 0;
}

int main(int argc, char **argv)
{
	struct err e = { 0 };
	uint64_t id;
	int dir, ret;

	if (argc < 3)
		die("usage: imgcraft remap|tmpfs-symlink|tmpfs-file|pagemap|unix-name|rlimit DIR ...", NULL);
	if ((dir = open(argv[2], O_RDONLY | O_DIRECTORY)) < 0)
		die(argv[2], NULL);
	/* What it writes belongs to the dump in DIR, as every image must. */
	if (image_dir_dump_id(dir, &id, &e) < 0)
		die(argv[2], &e);
	image_set_dump_id(id);
	if (!strcmp(argv[1], "remap"))
		ret = craft_remap(dir, argc - 3, argv + 3);
	else if (!strcmp(argv[1], "tmpfs-symlink") || !strcmp(argv[1], "tmpfs-file"))
		ret = craft_tmpfs(dir, !strcmp(argv[1], "tmpfs-symlink"), argc - 3, argv + 3);
	else if (!strcmp(argv[1], "pagemap"))
		ret = craft_pagemap(dir, argc - 3, argv + 3);
	else if (!strcmp(argv[1], "rlimit"))
		ret = craft_rlimit(dir, argc - 3, argv + 3);
	else if (!strcmp(argv[1], "unix-name"))
		ret = craft_unix_name(dir, argc - 3, argv + 3);
	else
		die("unknown command", NULL);
	close(dir);
	return ret;
}
