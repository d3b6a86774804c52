/* dump-files/shared.c: processes that share their descriptor table
 * (clone CLONE_FILES) or their cwd, root and umask (CLONE_FS) without being
 * threads of one process. amber restores every process with its own, so
 * such a tree is refused, naming both processes, rather than restored
 * with the sharing silently gone. kcmp orders the kernel's objects, so the
 * tree's processes are sorted once per kind and neighbours compared. */
#include <linux/kcmp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/log.h"
#include "stages/dump-files/dump-files.h"

struct df_kcmp_sort {
	int type;
	bool failed;
};

/* qsort_r comparator of two pids by the object of kind 'type' they hold. */
static int df_kcmp_cmp(const void *a, const void *b, void *arg)
{
	struct df_kcmp_sort *k = arg;
	long r = syscall(SYS_kcmp, *(const pid_t *)a, *(const pid_t *)b, k->type, 0, 0);

	if (r < 0 || r == 3) {
		k->failed = true;
		return 0;
	}
	return r == 0 ? 0 : r == 1 ? -1 : 1;
}

static void df_check_shared_kind(struct df *c, int type, const char *what, const char *clone_flag)
{
	struct df_kcmp_sort k = { type, false };
	pid_t *v;

	if (c->nr_tree < 2 || !(v = malloc(c->nr_tree * sizeof(*v))))
		return;
	memcpy(v, c->tree, c->nr_tree * sizeof(*v));
	qsort_r(v, c->nr_tree, sizeof(*v), df_kcmp_cmp, &k);
	if (k.failed)
		pr_warn("could not compare the %s of the tree's processes (kcmp); assuming each has its own", what);
	for (int i = 1; !k.failed && i < c->nr_tree; i++) {
		long r = syscall(SYS_kcmp, v[i - 1], v[i], type, 0, 0);

		if (r != 0)
			continue;
		if (c->nr_unsupported++ == 0)
			err_input(&c->unsupported, "pid %d and pid %d share one %s (%s): amber restores each process "
				  "with its own, so it cannot be restored as it is", v[i - 1], v[i], what, clone_flag);
		else
			pr_warn("pid %d and pid %d share one %s (%s)", v[i - 1], v[i], what, clone_flag);
	}
	free(v);
}

void df_check_shared(struct df *c)
{
	df_check_shared_kind(c, KCMP_FILES, "descriptor table", "clone with CLONE_FILES");
	df_check_shared_kind(c, KCMP_FS, "cwd, root and umask", "clone with CLONE_FS");
}
