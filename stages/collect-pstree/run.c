/* collect-pstree/run.c: read the images, check them, write the plan. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "lib/log.h"
#include "lib/proc.h"
#include "images/pstree.h"
#include "lib/tracee.h"
#include "stages/collect-pstree/collect-pstree.h"

/* A complete dump has an inventory that this amber and this CPU can use. */
static int collect_check_inventory(int dirfd, bool *pidns, struct err *e)
{
	InventoryEntry *inv = NULL;
	struct utsname u;
	uint64_t id = 0;
	int ret = image_read_one(dirfd, "inventory", "inventory.img", (ProtobufCMessage **)&inv, e);

	if (ret == -ENOENT)
		return err_input(e, "inventory.img is missing: this is not a complete amber dump (did the dump fail?)");
	if (ret < 0)
		return ret;
	/* The id every image is checked against is its header's; the record
	 * must say the same. */
	if ((ret = image_dir_dump_id(dirfd, &id, e)) == 0 && (!inv->has_dump_id || inv->dump_id != id))
		ret = err_input(e, "inventory.img records dump %016llx, its header says %016llx: it is corrupt; dump again",
				inv->has_dump_id ? (unsigned long long)inv->dump_id : 0ULL, (unsigned long long)id);
	if (ret < 0) {
		inventory_entry__free_unpacked(inv, NULL);
		return ret;
	}
	*pidns = inv->has_pid_namespace && inv->pid_namespace;
	uname(&u);
	if (strcmp(inv->kernel, u.release))
		pr_warn("the dump was made on kernel %s, this is %s; the vDSO may differ", inv->kernel, u.release);
	if (inv->has_xstate_size && inv->xstate_size > tracee_xstate_size()) {
		ret = err_input(e, "the dump holds %u-byte FPU state; this CPU saves %zu bytes: restore on a CPU with the same features",
				inv->xstate_size, tracee_xstate_size());
	} else if (inv->has_xfeatures && (inv->xfeatures & ~tracee_xfeatures())) {
		ret = err_input(e, "the dump uses CPU state features %#llx this CPU lacks (%#llx)",
				(unsigned long long)inv->xfeatures, (unsigned long long)tracee_xfeatures());
	}
	inventory_entry__free_unpacked(inv, NULL);
	return ret;
}

/* A pid is free if /proc has no such task; name the holder if not. */
static int collect_check_free(uint32_t pid, uint32_t owner, struct err *e)
{
	struct proc_stat st;
	struct err ignored;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%u", pid);
	if (access(path, F_OK) < 0)
		return 0;
	if (proc_read_stat(pid, 0, &st, &ignored) < 0)
		snprintf(st.comm, sizeof(st.comm), "?");
	return err_input(e, "pid %u (needed by dumped process %u) is in use by '%s'; stop it, or restore into a new pid namespace",
			 pid, owner, st.comm);
}

int collect_pstree_read(int dirfd, bool *own_pidns, PstreeEntry ***procs, int *nr, struct err *e)
{
	struct image img;
	int ret;

	*procs = NULL;
	*nr = 0;
	if ((ret = collect_check_inventory(dirfd, own_pidns, e)) < 0)
		return ret;
	if ((ret = image_open_read(&img, dirfd, "pstree", "pstree.img", e)) < 0)
		return ret;
	for (;;) {
		PstreeEntry *p;

		ret = image_read(&img, (ProtobufCMessage **)&p, e);
		if (ret <= 0)
			break;
		/* A helper would be made instead of restored: only this stage adds them. */
		if (p->helper) {
			ret = err_input(e, "pstree.img: pid %u is marked as a helper, which no dump writes", p->pid);
			pstree_entry__free_unpacked(p, NULL);
			break;
		}
		if (grow_one(procs, *nr) < 0) {
			pstree_entry__free_unpacked(p, NULL);
			ret = err_errno(e, "read pstree.img");
			break;
		}
		(*procs)[(*nr)++] = p;
	}
	image_close(&img);
	if (ret == 0)
		ret = pstree_add_helpers(procs, nr, e);
	if (ret == 0)
		ret = pstree_check_and_order(*procs, *nr, e);
	return ret;
}

void collect_pstree_free(PstreeEntry **procs, int nr)
{
	for (int i = 0; i < nr; i++)
		pstree_entry__free_unpacked(procs[i], NULL);
	free(procs);
}

int collect_pstree_run(const struct stage_ctx *ctx, void *opts, struct err *e)
{
	const struct collect_opts *o = opts;
	struct stream_out out;
	PstreeEntry **procs;
	int nr, ret;
	bool own_pidns = false;

	ret = collect_pstree_read(ctx->dir_fd, &own_pidns, &procs, &nr, e);
	/* A tree with its own pid namespace is restored into a new one, where
	 * its pids are free whatever this namespace holds. */
	own_pidns |= o && (o->pidns || o->no_pid_check);
	for (int i = 0; ret == 0 && i < nr && !own_pidns; i++)
		for (size_t t = 0; ret == 0 && t < procs[i]->n_threads; t++)
			ret = collect_check_free(procs[i]->threads[t], procs[i]->pid, e);
	if (ret == 0)
		ret = stream_out_open(&out, 1, "collect-pstree", e);
	for (int i = 0; ret == 0 && i < nr; i++)
		ret = stream_out_task(&out, procs[i], e);
	if (ret == 0)
		ret = stream_out_end(&out, e);
	if (ret == 0)
		pr_info("%d processes to restore, root %u", nr, procs[0]->pid);
	collect_pstree_free(procs, nr);
	return ret;
}
