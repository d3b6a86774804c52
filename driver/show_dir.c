/* show_dir: 'amber show [--json] DIR', a dump directory summed up:
 * inventory, image files with kind, header and record count, the process
 * tree, and per process VMAs, dumped pages, cwd and open fds, then what is
 * wrong with the dump (see driver/show.c for the command). */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/json.h"
#include "driver/show_dir.h"
#include "driver/show_mnt.h"
#include "images/core.pb-c.h"
#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/image.h"
#include "images/pagechain.h"
#include "images/inventory.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/pstree.pb-c.h"
#include "lib/cleanup.h"
#include "lib/exitcodes.h"

/* ---- a dump directory -------------------------------------------------- */

/* What 'amber show DIR' learnt about one image file. */
struct show_file {
	char name[256];
	const char *kind;	/* NULL if the header could not be read */
	bool raw;		/* a pages image: pages/bytes instead of records */
	struct image_header hdr;	/* valid when kind is set */
	uint64_t records, pages, bytes;
	bool listed;		/* named by the inventory */
	char error[1024];
};

/* What it learnt about one process. */
struct show_proc {
	const PstreeEntry *pst;
	int depth;
	char *comm;
	long vmas;		/* -1 when mm-PID.img is unreadable */
	long long pages;	/* -1 when pagemap-PID.img is unreadable */
	uint32_t pages_id;
	FsEntry *fs;
	ProtobufCMessage **fds;	/* FdinfoEntry */
	size_t nr_fds;
};

/* Everything about the dump, gathered before printing either form. */
struct show_dump {
	const char *path;
	uint64_t dump_id;		/* inventory.img's, else pstree.img's; 0 if neither */
	InventoryEntry *inv;
	struct show_file *files;
	size_t nr_files;
	ProtobufCMessage **pstree;	/* PstreeEntry */
	size_t nr_pstree;
	ProtobufCMessage **regs;	/* RegFileEntry from files.img */
	size_t nr_regs;
	struct show_proc *procs;
	char **problems;
	size_t nr_problems;
	struct show_link {		/* the parents of an incremental dump, nearest first */
		char path[PATH_MAX];
		uint64_t dump_id;
		bool pre_dump;
		uint64_t pages;		/* in its pages-*.img */
	} chain[PAGECHAIN_MAX];
	int nr_chain;
	uint64_t pages;			/* in this dump's pages-*.img */
};

/* The pages a directory's pages images hold (their headers' counts). */
static uint64_t show_dir_pages(int dirfd)
{
	DIR *d = fdopendir(dup(dirfd));
	struct dirent *de;
	uint64_t n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		struct image img;
		struct err e = { 0 };

		if (strncmp(de->d_name, "pages-", 6) || image_open_inspect(&img, dirfd, "pages", de->d_name, &e) < 0)
			continue;
		n += img.hdr.count;
		image_close(&img);
	}
	closedir(d);
	return n;
}

static void show_problem(struct show_dump *d, const char *msg);

/* A pre-dump: memory only (no files, fs, fdinfo images). */
static bool show_pre_dump(const struct show_dump *d)
{
	return d->inv && d->inv->has_pre_dump && d->inv->pre_dump;
}

/* Follows the 'parent' links of an incremental dump, each checked against
 * the dump id its child names (images/pagechain.h). */
static void show_scan_chain(struct show_dump *d, int dirfd)
{
	InventoryEntry *inv = d->inv;
	char path[PATH_MAX + 8];
	int fd = dirfd;

	d->pages = show_dir_pages(dirfd);
	snprintf(path, sizeof(path), "%s", d->path);
	while (inv && d->nr_chain < PAGECHAIN_MAX) {
		struct show_link *l = &d->chain[d->nr_chain];
		struct err e = { 0 };
		char what[PATH_MAX + 32], next[PATH_MAX + 16];
		InventoryEntry *pinv = NULL;
		int pfd;

		snprintf(what, sizeof(what), "'%s'", path);
		if (pagechain_open_parent(fd, what, inv, &pfd, &e) < 0) {
			show_problem(d, e.msg);
			break;
		}
		if (inv != d->inv)
			inventory_entry__free_unpacked(inv, NULL);
		inv = NULL;
		if (fd != dirfd)
			close(fd);
		fd = pfd;
		if (pfd < 0)
			break;
		snprintf(next, sizeof(next), "%s/" PAGECHAIN_LINK, path);
		if (!realpath(next, l->path))
			snprintf(l->path, sizeof(l->path), "%s", next);
		snprintf(path, sizeof(path), "%s", l->path);
		if (pagechain_inventory(fd, &pinv, &l->dump_id, &e) < 0) {
			show_problem(d, e.msg);
			break;
		}
		l->pre_dump = pinv->has_pre_dump && pinv->pre_dump;
		l->pages = show_dir_pages(fd);
		d->nr_chain++;
		inv = pinv;
	}
	if (inv && inv != d->inv)
		inventory_entry__free_unpacked(inv, NULL);
	if (fd >= 0 && fd != dirfd)
		close(fd);
}

/* Notes a problem with the dump: shown in the summary and on stderr (once,
 * however many readers meet it). */
static void show_problem(struct show_dump *d, const char *msg)
{
	char **p, *s;

	for (size_t i = 0; i < d->nr_problems; i++)
		if (!strcmp(d->problems[i], msg))
			return;
	p = realloc(d->problems, (d->nr_problems + 1) * sizeof(*p));
	s = strdup(msg);

	if (!p || !s) {
		free(s);
		if (p)
			d->problems = p;
		return;
	}
	d->problems = p;
	d->problems[d->nr_problems++] = s;
}

static void show_free_msgs(ProtobufCMessage **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		protobuf_c_message_free_unpacked(msgs[i], NULL);
	free(msgs);
}

/* Reads every record of an image into a malloc'd array. */
static int show_read_all(int dirfd, const char *kind, const char *name,
			 ProtobufCMessage ***out, size_t *nr, struct err *e)
{
	struct image img;
	ProtobufCMessage **msgs = NULL, *msg;
	size_t n = 0;
	int ret = image_open_read(&img, dirfd, kind, name, e);

	if (ret < 0)
		return ret;
	while ((ret = image_read(&img, &msg, e)) > 0) {
		ProtobufCMessage **m = realloc(msgs, (n + 1) * sizeof(*m));

		if (!m) {
			protobuf_c_message_free_unpacked(msg, NULL);
			ret = err_errno(e, "'%s': out of memory", name);
			break;
		}
		msgs = m;
		msgs[n++] = msg;
	}
	image_close(&img);
	if (ret < 0) {
		show_free_msgs(msgs, n);
		return ret;
	}
	*out = msgs;
	*nr = n;
	return 0;
}

/* Counts the records (or pages) of one image file in the dump and checks
 * its header against dump 'dump_id' as restore would. */
static void show_scan_file(int dirfd, uint64_t dump_id, struct show_file *f)
{
	struct err e = { 0 };
	struct image img;
	ProtobufCMessage *msg;
	struct stat st;
	int ret = image_open_inspect(&img, dirfd, NULL, f->name, &e);

	if (ret < 0) {
		snprintf(f->error, sizeof(f->error), "%s", e.msg);
		return;
	}
	f->kind = img.kind->name;
	f->hdr = img.hdr;
	if (image_check(&img, dump_id, &e) < 0)
		snprintf(f->error, sizeof(f->error), "%s", e.msg);
	if (show_kind_is_raw(img.kind)) {
		f->raw = true;
		if (fstat(img.fd, &st) < 0) {
			err_errno(&e, "stat '%s'", f->name);
			ret = -1;
		} else {
			f->bytes = (uint64_t)st.st_size > img.rd.offset ? st.st_size - img.rd.offset : 0;
			f->pages = f->bytes / img.rd.offset;
			if (f->bytes % img.rd.offset)
				ret = err_input(&e, "pages image '%s' is not a whole number of pages; it is truncated", f->name);
		}
	} else {
		while ((ret = image_read(&img, &msg, &e)) > 0) {
			f->records++;
			protobuf_c_message_free_unpacked(msg, NULL);
		}
	}
	if (ret < 0 && !f->error[0])
		snprintf(f->error, sizeof(f->error), "%s", e.msg);
	image_close(&img);
}

/* Only image files, in natural order (core-2 before core-10). */
static int show_is_img(const struct dirent *de)
{
	size_t n = strlen(de->d_name);

	return n > 4 && !strcmp(de->d_name + n - 4, ".img") && de->d_type != DT_DIR;
}

/* Lists the dump's image files and checks them against the inventory. */
static int show_scan_files(struct show_dump *d, int dirfd, struct err *e)
{
	struct dirent **des;
	char msg[1200];
	int n;

	n = scandirat(dirfd, ".", &des, show_is_img, versionsort);
	if (n < 0)
		return err_errno(e, "list dump directory '%s'", d->path);
	d->files = calloc(n ? n : 1, sizeof(*d->files));
	if (!d->files) {
		for (int i = 0; i < n; i++)
			free(des[i]);
		free(des);
		return err_errno(e, "list dump directory '%s'", d->path);
	}
	for (int i = 0; i < n; i++) {
		struct show_file *f = &d->files[d->nr_files++];

		snprintf(f->name, sizeof(f->name), "%s", des[i]->d_name);
		free(des[i]);
		show_scan_file(dirfd, d->dump_id, f);
		if (f->error[0])
			show_problem(d, f->error);
	}
	free(des);

	if (!d->inv)
		return 0;
	for (size_t i = 0; i < d->inv->n_images; i++) {
		bool found = false;

		for (size_t j = 0; j < d->nr_files; j++) {
			if (!strcmp(d->files[j].name, d->inv->images[i])) {
				d->files[j].listed = true;
				found = true;
			}
		}
		if (!found) {
			snprintf(msg, sizeof(msg), "image '%s' is listed in inventory.img but missing from '%s'",
				 d->inv->images[i], d->path);
			show_problem(d, msg);
		}
	}
	return 0;
}

/* Reads one optional part of a process (single-record image); notes a problem on failure. */
static ProtobufCMessage *show_read_part(struct show_dump *d, int dirfd, const char *kind, pid_t pid)
{
	struct err e = { 0 };
	ProtobufCMessage *msg = NULL;
	char name[64];

	snprintf(name, sizeof(name), "%s-%d.img", kind, (int)pid);
	if (image_read_one(dirfd, kind, name, &msg, &e) < 0) {
		show_problem(d, e.msg);
		return NULL;
	}
	return msg;
}

/* Gathers what each process of pstree.img has in the dump. */
static void show_scan_proc(struct show_dump *d, int dirfd, struct show_proc *p)
{
	pid_t pid = p->pst->pid;
	ProtobufCMessage **msgs;
	ProtobufCMessage *m;
	struct err e = { 0 };
	char name[64];
	size_t n;

	p->vmas = -1;
	p->pages = -1;
	m = show_read_part(d, dirfd, "core", pid);
	if (m) {
		CoreEntry *core = (CoreEntry *)m;

		p->comm = core->comm ? strdup(core->comm) : NULL;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	m = show_read_part(d, dirfd, "mm", pid);
	if (m) {
		p->vmas = ((MmEntry *)m)->n_vmas;
		protobuf_c_message_free_unpacked(m, NULL);
	}
	/* A pre-dump holds the memory only. */
	if (!show_pre_dump(d))
		p->fs = (FsEntry *)show_read_part(d, dirfd, "fs", pid);

	snprintf(name, sizeof(name), "pagemap-%d.img", (int)pid);
	if (show_read_all(dirfd, "pagemap", name, &msgs, &n, &e) < 0) {
		show_problem(d, e.msg);
	} else {
		p->pages = 0;
		if (n)
			p->pages_id = ((PagemapHead *)msgs[0])->pages_id;
		for (size_t i = 1; i < n; i++)
			p->pages += ((PagemapEntry *)msgs[i])->nr_pages;
		show_free_msgs(msgs, n);
	}

	snprintf(name, sizeof(name), "fdinfo-%d.img", (int)pid);
	if (!show_pre_dump(d) && show_read_all(dirfd, "fdinfo", name, &p->fds, &p->nr_fds, &e) < 0)
		show_problem(d, e.msg);
}

/* Gathers everything 'amber show DIR' prints. */
static int show_scan_dump(struct show_dump *d, int dirfd, struct err *e)
{
	struct err pe = { 0 };
	int ret;

	ret = image_read_one(dirfd, "inventory", "inventory.img", (ProtobufCMessage **)&d->inv, &pe);
	if (ret == -ENOENT)
		show_problem(d, "inventory.img is missing: the dump is incomplete (it failed, or is still running)");
	else if (ret < 0)
		show_problem(d, pe.msg);
	/* Every image is compared with the inventory's dump id; without a
	 * usable inventory, with pstree.img's, so a mixture still shows. */
	d->dump_id = show_dir_dump_id(dirfd);
	if (!d->dump_id) {
		struct image img;

		if (image_open_inspect(&img, dirfd, "pstree", "pstree.img", &pe) == 0) {
			d->dump_id = img.hdr.dump_id;
			image_close(&img);
		}
	}
	if (d->inv && d->dump_id && (!d->inv->has_dump_id || d->inv->dump_id != d->dump_id)) {
		char msg[256];

		snprintf(msg, sizeof(msg), "inventory.img records dump %016" PRIx64 " but its header says %016" PRIx64
			 "; it is corrupt", d->inv->has_dump_id ? (uint64_t)d->inv->dump_id : 0, d->dump_id);
		show_problem(d, msg);
	}
	/* The readers below check each image against it. */
	if (d->dump_id)
		image_set_dump_id(d->dump_id);

	ret = show_scan_files(d, dirfd, e);
	if (ret < 0)
		return ret;

	if (show_read_all(dirfd, "pstree", "pstree.img", &d->pstree, &d->nr_pstree, &pe) < 0)
		show_problem(d, pe.msg);
	if (!show_pre_dump(d) && show_read_all(dirfd, "files", "files.img", &d->regs, &d->nr_regs, &pe) < 0)
		show_problem(d, pe.msg);
	d->procs = calloc(d->nr_pstree ? d->nr_pstree : 1, sizeof(*d->procs));
	if (!d->procs)
		return err_errno(e, "summarise '%s'", d->path);
	for (size_t i = 0; i < d->nr_pstree; i++) {
		struct show_proc *p = &d->procs[i];

		p->pst = (PstreeEntry *)d->pstree[i];
		/* Parents come before children in pstree.img. */
		for (size_t j = 0; j < i; j++)
			if (d->procs[j].pst->pid == p->pst->ppid)
				p->depth = d->procs[j].depth + 1;
		show_scan_proc(d, dirfd, p);
	}
	return 0;
}

static void show_free_dump(struct show_dump *d)
{
	if (d->inv)
		inventory_entry__free_unpacked(d->inv, NULL);
	free(d->files);
	for (size_t i = 0; d->procs && i < d->nr_pstree; i++) {
		free(d->procs[i].comm);
		if (d->procs[i].fs)
			fs_entry__free_unpacked(d->procs[i].fs, NULL);
		show_free_msgs(d->procs[i].fds, d->procs[i].nr_fds);
	}
	free(d->procs);
	show_free_msgs(d->pstree, d->nr_pstree);
	show_free_msgs(d->regs, d->nr_regs);
	for (size_t i = 0; i < d->nr_problems; i++)
		free(d->problems[i]);
	free(d->problems);
}

/* The files.img entry with this id, or NULL. */
static const RegFileEntry *show_reg(const struct show_dump *d, uint32_t id)
{
	for (size_t i = 0; i < d->nr_regs; i++)
		if (((RegFileEntry *)d->regs[i])->id == id)
			return (RegFileEntry *)d->regs[i];
	return NULL;
}

/* open(2) access mode of a file, as a word. */
static const char *show_access(uint32_t flags)
{
	switch (flags & O_ACCMODE) {
	case O_RDONLY: return "r";
	case O_WRONLY: return "w";
	default:       return "rw";
	}
}

/* The objects the dump left outside the tree, each with the descriptors
 * that hold it: what a restore must be given with --inherit-fd. */
static void show_externals_text(FILE *out, const struct show_dump *d)
{
	bool any = false;

	for (size_t i = 0; i < d->nr_regs; i++) {
		const RegFileEntry *r = (RegFileEntry *)d->regs[i];

		if (!r->external)
			continue;
		if (!any)
			fputs("\nexternal (give each at restore: --inherit-fd fd[N]:KEY, or --shell-job for a tty):\n", out);
		any = true;
		fputs("  ", out);
		json_print_string(out, r->external);
		fprintf(out, " %s pos %" PRIu64 ", held by", show_access(r->flags), (uint64_t)r->pos);
		for (size_t p = 0, n = 0; p < d->nr_pstree; p++)
			for (size_t f = 0; f < d->procs[p].nr_fds; f++)
				if (((FdinfoEntry *)d->procs[p].fds[f])->id == r->id)
					fprintf(out, "%s pid %u fd %u", n++ ? "," : "", d->procs[p].pst->pid,
						((FdinfoEntry *)d->procs[p].fds[f])->fd);
		fputc('\n', out);
	}
}

/* The plain-text summary. */
static void show_dump_text(FILE *out, const struct show_dump *d)
{
	const InventoryEntry *inv = d->inv;
	int w = 8;

	fprintf(out, "dump '%s': %s", d->path, inv ? "complete" : "INCOMPLETE (no inventory.img)");
	if (d->dump_id)
		fprintf(out, ", dump id %016" PRIx64, d->dump_id);
	fputc('\n', out);
	if (inv) {
		fprintf(out, "  root pid %u, kernel ", inv->root_pid);
		json_print_string(out, inv->kernel);
		fputs(", amber ", out);
		json_print_string(out, inv->amber_version ? inv->amber_version : "?");
		fprintf(out, ", format %u", inv->format_version);
		if (inv->has_page_size)
			fprintf(out, ", page size %u", inv->page_size);
		fputc('\n', out);
		if (inv->has_xstate_size || inv->has_xfeatures)
			fprintf(out, "  xstate %u bytes, xfeatures %#" PRIx64 "\n", inv->xstate_size, (uint64_t)inv->xfeatures);
		if (inv->has_dump_time_ns) {
			time_t t = inv->dump_time_ns / 1000000000ull;
			struct tm tm;
			char when[64];

			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S %z", localtime_r(&t, &tm));
			fprintf(out, "  dumped at %s\n", when);
		}
		if (inv->has_pre_dump && inv->pre_dump)
			fputs("  a pre-dump: memory only, the tree ran on; not restorable itself\n", out);
		fprintf(out, "  %" PRIu64 " pages in its pages images\n", d->pages);
		if (inv->n_remote_images)
			fprintf(out, "  %zu pages files sent to the page server at %s (copy them in before a restore)\n",
				inv->n_remote_images, inv->page_server ? inv->page_server : "?");
		for (int i = 0; i < d->nr_chain; i++)
			fprintf(out, "  parent %d: '%s', dump id %016" PRIx64 "%s, %" PRIu64 " pages\n", i + 1, d->chain[i].path,
				d->chain[i].dump_id, d->chain[i].pre_dump ? ", pre-dump" : "", d->chain[i].pages);
	}

	for (size_t i = 0; i < d->nr_files; i++)
		if ((int)strlen(d->files[i].name) > w)
			w = strlen(d->files[i].name);
	fprintf(out, "\nimages (%zu):\n", d->nr_files);
	for (size_t i = 0; i < d->nr_files; i++) {
		const struct show_file *f = &d->files[i];

		fprintf(out, "  %-*s  %-10s ", w, f->name, f->kind ? f->kind : "?");
		if (f->raw)
			fprintf(out, "%" PRIu64 " pages (%" PRIu64 " bytes)", f->pages, f->bytes);
		else if (f->kind)
			fprintf(out, "%" PRIu64 " record%s", f->records, f->records == 1 ? "" : "s");
		if (inv && !f->listed && strcmp(f->name, "inventory.img"))
			fputs("  [not in inventory]", out);
		if (f->error[0])
			fputs("  [bad: see below]", out);
		fputc('\n', out);
	}

	fprintf(out, "\nprocesses (%zu):\n", d->nr_pstree);
	for (size_t i = 0; i < d->nr_pstree; i++) {
		const struct show_proc *p = &d->procs[i];
		int ind = 2 + 2 * p->depth;

		fprintf(out, "%*spid %u", ind, "", p->pst->pid);
		if (p->comm) {
			fputc(' ', out);
			json_print_string(out, p->comm);
		}
		fprintf(out, "  ppid %u pgid %u sid %u threads", p->pst->ppid, p->pst->pgid, p->pst->sid);
		for (size_t t = 0; t < p->pst->n_threads; t++)
			fprintf(out, "%s%u", t ? "," : " ", p->pst->threads[t]);
		fputc('\n', out);
		fprintf(out, "%*s  vmas ", ind, "");
		if (p->vmas < 0)
			fputs("?", out);
		else
			fprintf(out, "%ld", p->vmas);
		fputs(", dumped pages ", out);
		if (p->pages < 0)
			fputs("?", out);
		else
			fprintf(out, "%lld in pages-%u.img", p->pages, p->pages_id);
		fputc('\n', out);
		if (p->fs) {
			fprintf(out, "%*s  cwd ", ind, "");
			json_print_string(out, p->fs->cwd);
			fputs(", root ", out);
			json_print_string(out, p->fs->root);
			fputc('\n', out);
		}
		for (size_t f = 0; f < p->nr_fds; f++) {
			const FdinfoEntry *fi = (FdinfoEntry *)p->fds[f];
			const RegFileEntry *r = show_reg(d, fi->id);

			fprintf(out, "%*s  fd %-3u ", ind, "", fi->fd);
			if (r) {
				json_print_string(out, r->path);
				fprintf(out, " %s pos %" PRIu64 "%s\n", show_access(r->flags),
					(uint64_t)r->pos, fi->cloexec ? " cloexec" : "");
			} else
				fprintf(out, "file id %u (not in files.img)\n", fi->id);
		}
	}

	show_externals_text(out, d);
	if (d->nr_problems) {
		fprintf(out, "\nproblems (%zu):\n", d->nr_problems);
		for (size_t i = 0; i < d->nr_problems; i++)
			fprintf(out, "  %s\n", d->problems[i]);
	}
}

/* The same summary as one JSON object. */
static void show_dump_json(FILE *out, const struct show_dump *d)
{
	size_t n_ext = 0;

	fputs("{\n  \"dir\": ", out);
	json_print_string(out, d->path);
	fprintf(out, ",\n  \"complete\": %s", d->inv ? "true" : "false");
	if (d->dump_id)
		fprintf(out, ",\n  \"dump_id\": \"%016" PRIx64 "\"", d->dump_id);
	if (d->inv) {
		fputs(",\n  \"inventory\": ", out);
		json_print_message(out, &d->inv->base, 2);
	}
	fprintf(out, ",\n  \"pages\": %" PRIu64 ",\n  \"chain\": [", d->pages);
	for (int i = 0; i < d->nr_chain; i++) {
		fprintf(out, "%s\n    {\"dir\": ", i ? "," : "");
		json_print_string(out, d->chain[i].path);
		fprintf(out, ", \"dump_id\": \"%016" PRIx64 "\", \"pre_dump\": %s, \"pages\": %" PRIu64 "}",
			d->chain[i].dump_id, d->chain[i].pre_dump ? "true" : "false", d->chain[i].pages);
	}
	fputs(d->nr_chain ? "\n  ]" : "]", out);
	fputs(",\n  \"images\": [", out);
	for (size_t i = 0; i < d->nr_files; i++) {
		const struct show_file *f = &d->files[i];

		fprintf(out, "%s\n    {\"file\": ", i ? "," : "");
		json_print_string(out, f->name);
		if (f->kind) {
			fputs(", \"kind\": ", out);
			json_print_string(out, f->kind);
		}
		if (f->raw)
			fprintf(out, ", \"pages\": %" PRIu64 ", \"size\": %" PRIu64, f->pages, f->bytes);
		else if (f->kind)
			fprintf(out, ", \"records\": %" PRIu64, f->records);
		/* The dump id only where it is not the dump's. */
		if (f->kind && f->hdr.dump_id != d->dump_id)
			fprintf(out, ", \"dump_id\": \"%016" PRIx64 "\"", f->hdr.dump_id);
		if (f->kind)
			fprintf(out, ", \"owner\": %" PRIu64 ", \"complete\": %s", f->hdr.owner,
				f->hdr.flags & IMAGE_FLAG_COMPLETE ? "true" : "false");
		if (d->inv)
			fprintf(out, ", \"in_inventory\": %s", f->listed ? "true" : "false");
		if (f->error[0]) {
			fputs(", \"error\": ", out);
			json_print_string(out, f->error);
		}
		fputc('}', out);
	}
	fputs(d->nr_files ? "\n  ]" : "]", out);
	fputs(",\n  \"processes\": [", out);
	for (size_t i = 0; i < d->nr_pstree; i++) {
		const struct show_proc *p = &d->procs[i];

		fprintf(out, "%s\n    {\n      \"pstree\": ", i ? "," : "");
		json_print_message(out, &p->pst->base, 6);
		if (p->comm) {
			fputs(",\n      \"comm\": ", out);
			json_print_string(out, p->comm);
		}
		if (p->vmas >= 0)
			fprintf(out, ",\n      \"vmas\": %ld", p->vmas);
		if (p->pages >= 0)
			fprintf(out, ",\n      \"pages\": %lld,\n      \"pages_id\": %u", p->pages, p->pages_id);
		if (p->fs) {
			fputs(",\n      \"fs\": ", out);
			json_print_message(out, &p->fs->base, 6);
		}
		fputs(",\n      \"fds\": [", out);
		for (size_t f = 0; f < p->nr_fds; f++) {
			const FdinfoEntry *fi = (FdinfoEntry *)p->fds[f];
			const RegFileEntry *r = show_reg(d, fi->id);

			fprintf(out, "%s\n        {\"fd\": %u, \"id\": %u, \"cloexec\": %s", f ? "," : "",
				fi->fd, fi->id, fi->cloexec ? "true" : "false");
			if (r) {
				fputs(", \"path\": ", out);
				json_print_string(out, r->path);
				fprintf(out, ", \"flags\": %u, \"pos\": %" PRIu64, r->flags, (uint64_t)r->pos);
			}
			fputc('}', out);
		}
		fputs(p->nr_fds ? "\n      ]\n    }" : "]\n    }", out);
	}
	fputs(d->nr_pstree ? "\n  ]" : "]", out);
	fputs(",\n  \"externals\": [", out);
	for (size_t i = 0; i < d->nr_regs; i++) {
		const RegFileEntry *r = (RegFileEntry *)d->regs[i];

		if (!r->external)
			continue;
		fputs(n_ext++ ? ",\n    " : "\n    ", out);
		fputs("{\"key\": ", out);
		json_print_string(out, r->external);
		fprintf(out, ", \"id\": %u}", r->id);
	}
	fputs(n_ext ? "\n  ]" : "]", out);
	fputs(",\n  \"problems\": [", out);
	for (size_t i = 0; i < d->nr_problems; i++) {
		fputs(i ? ",\n    " : "\n    ", out);
		json_print_string(out, d->problems[i]);
	}
	fputs(d->nr_problems ? "\n  ]\n}\n" : "]\n}\n", out);
}

/* Summarises a dump directory; a dump with problems is an input error. */
int show_dir(FILE *out, const char *path, bool json, struct err *e)
{
	_cleanup_close_ int dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct show_dump d = { .path = path };
	int ret;

	if (dirfd < 0)
		return err_errno(e, "open dump directory '%s'", path);
	ret = show_scan_dump(&d, dirfd, e);
	if (ret == 0)
		show_scan_chain(&d, dirfd);
	if (ret == 0) {
		if (json)
			show_dump_json(out, &d);
		else
			show_dump_text(out, &d);
		if (!json)
			show_mnt_text(out, dirfd);
		for (size_t i = 0; i < d.nr_problems; i++)
			drv_error("%s", d.problems[i]);
		if (!d.inv)
			ret = err_input(e, "dump '%s' is incomplete: inventory.img is missing; dump it again", path);
		else if (d.nr_problems)
			ret = err_input(e, "dump '%s' has %zu problem%s (listed above); it cannot be restored as is",
					path, d.nr_problems, d.nr_problems == 1 ? "" : "s");
	}
	show_free_dump(&d);
	return ret;
}
