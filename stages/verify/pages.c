/* verify/pages.c: --pages: every page pages-PID.img holds, compared byte
 * for byte with the restored process's memory (read through
 * /proc/PID/mem while the process is stopped), but for the bytes the kernel
 * keeps itself (each thread's rseq area: the restore registers it again,
 * and the kernel writes the CPU the thread is on). */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "images/image.h"
#include "images/core.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "lib/cleanup.h"
#include "lib/log.h"
#include "stages/verify/verify.h"

#define VF_CHUNK (1u << 20)

/* Bytes of memory the kernel writes itself whenever the task runs: each
 * thread's registered rseq area (cpu_id and the like, which name the CPU
 * it last ran on). */
struct vf_kernel_bytes {
	uint64_t start[64], end[64];
	int nr;
};

/* The rseq areas of t's threads, from their core images. */
static int vf_rseq_areas(struct vf *v, const struct vf_task *t, struct vf_kernel_bytes *k, struct err *e)
{
	k->nr = 0;
	for (size_t i = 0; i < t->pe->n_threads; i++) {
		CoreEntry *c = NULL;
		char name[64];
		int ret;

		snprintf(name, sizeof(name), "core-%u.img", t->pe->threads[i]);
		if ((ret = image_read_one(v->dir_fd, "core", name, (ProtobufCMessage **)&c, e)) < 0)
			return ret;
		if (c->rseq && c->rseq->ptr && k->nr < 64) {
			k->start[k->nr] = c->rseq->ptr;
			k->end[k->nr++] = c->rseq->ptr + c->rseq->len;
		}
		core_entry__free_unpacked(c, NULL);
	}
	return 0;
}

/* Makes the image's copy of the kernel's own bytes in [addr, addr+n) what
 * memory holds, so that they never count as a difference. */
static void vf_skip_kernel_bytes(const struct vf_kernel_bytes *k, uint64_t addr, size_t n, uint8_t *a, const uint8_t *b)
{
	for (int i = 0; i < k->nr; i++) {
		uint64_t s = k->start[i] > addr ? k->start[i] : addr;
		uint64_t e = k->end[i] < addr + n ? k->end[i] : addr + n;

		if (s < e)
			memcpy(a + (s - addr), b + (s - addr), e - s);
	}
}

/* The first byte of [addr, addr+len) that differs between the image at
 * file offset 'off' and the memory, in *bad with both values; 0 if none. */
static int vf_compare_run(int img, int mem, uint64_t addr, uint64_t len, uint64_t off, uint8_t *a, uint8_t *b,
			  const struct vf_kernel_bytes *k, uint64_t *bad, uint8_t *was, uint8_t *now, struct err *e)
{
	*bad = 0;
	for (uint64_t done = 0; done < len; done += VF_CHUNK) {
		size_t n = len - done < VF_CHUNK ? len - done : VF_CHUNK;

		if (pread(img, a, n, off + done) != (ssize_t)n)
			return err_errno(e, "read %zu bytes of pages at offset %llu", n, (unsigned long long)(off + done));
		if (pread(mem, b, n, addr + done) != (ssize_t)n)
			return err_errno(e, "read %zu bytes of memory at %#llx", n, (unsigned long long)(addr + done));
		vf_skip_kernel_bytes(k, addr + done, n, a, b);
		if (memcmp(a, b, n))
			for (size_t p = 0; p < n; p += IMAGE_PAGE_SIZE)
				if (memcmp(a + p, b + p, IMAGE_PAGE_SIZE)) {
					size_t k = p;

					while (a[k] == b[k])
						k++;
					*bad = addr + done + k;
					*was = a[k];
					*now = b[k];
					return 0;
				}
	}
	return 0;
}

int vf_pages(struct vf *v, const struct vf_task *t, struct err *e)
{
	_cleanup_free_ uint8_t *a = malloc(VF_CHUNK), *b = malloc(VF_CHUNK);
	_cleanup_close_ int mem = -1;
	struct image pm, pg;
	struct vf_kernel_bytes k;
	ProtobufCMessage *m;
	char name[64], path[64];
	uint64_t pages = 0;
	int ret;

	if (!a || !b)
		return err_errno(e, "compare the pages of pid %u", t->pe->pid);
	if ((ret = vf_rseq_areas(v, t, &k, e)) < 0)
		return ret;
	snprintf(path, sizeof(path), "/proc/%d/mem", t->host);
	if ((mem = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return err_errno(e, "open the memory of pid %u ('%s')", t->pe->pid, path);
	snprintf(name, sizeof(name), "pagemap-%u.img", t->pe->pid);
	if ((ret = image_open_read(&pm, v->dir_fd, "pagemap", name, e)) < 0)
		return ret;
	snprintf(name, sizeof(name), "pages-%u.img", t->pe->pid);
	if ((ret = image_open_read(&pg, v->dir_fd, "pages", name, e)) < 0) {
		image_close(&pm);
		return ret;
	}
	while ((ret = image_read(&pm, &m, e)) > 0) {
		PagemapEntry *p = (PagemapEntry *)m;
		uint64_t len, bad;
		uint8_t was = 0, now = 0;

		/* The first record is the head (which pages image: this one). */
		if (pm.rd.nr == 1) {
			protobuf_c_message_free_unpacked(m, NULL);
			continue;
		}
		len = (uint64_t)p->nr_pages * IMAGE_PAGE_SIZE;
		/* Pages left in a parent images directory are not compared here. */
		if (p->has_in_parent && p->in_parent) {
			pagemap_entry__free_unpacked(p, NULL);
			continue;
		}
		ret = vf_compare_run(pg.fd, mem, p->vaddr, len, IMAGE_PAGES_HDR_SIZE + p->offset, a, b, &k, &bad, &was, &now, e);
		vf_checked(v);
		if (ret == 0 && bad)
			vf_diff(v, "pid %u: memory at %#llx (page %#llx): dumped byte %#x (pages-%u.img), restored %#x",
				t->pe->pid, (unsigned long long)bad, (unsigned long long)(bad & ~(uint64_t)(IMAGE_PAGE_SIZE - 1)),
				was, t->pe->pid, now);
		pages += p->nr_pages;
		pagemap_entry__free_unpacked(p, NULL);
		if (ret < 0)
			break;
	}
	image_close(&pm);
	image_close(&pg);
	if (ret == 0)
		pr_debug("pid %u: %llu pages compared", t->pe->pid, (unsigned long long)pages);
	return ret;
}
