/* fuzz_mountinfo: /proc/PID/mountinfo text (lib/mountinfo.c), as
 * dump-mounts and build-mntns read it: parsed, then ordered parents first,
 * with the path and option helpers used on what it holds. */
#include "lib/mountinfo.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mountinfo_table t;
	struct err e = { 0 };
	int *order, ret;

	fuzz_init("fuzz_mountinfo");
	ret = mountinfo_parse(fuzz_cstr(data, size), &t, &e);
	fuzz_check_err(ret, &e, "mountinfo_parse");
	if (ret < 0)
		return 0;
	order = calloc(t.nr + 1, sizeof(*order));
	if (!order)
		abort();
	ret = mountinfo_order(&t, order, &e);
	fuzz_check_err(ret, &e, "mountinfo_order");
	for (int i = 0; ret == 0 && i < t.nr; i++) {
		const struct mountinfo *m = &t.m[order[i]], *p = mountinfo_find(&t, m->parent);

		if (p)
			(void)mountinfo_relpath(p->mountpoint, m->mountpoint);
		(void)mountinfo_relpath(m->root, t.m[order[0]].root);
		(void)mountinfo_attrs(m->opts);
		(void)mountinfo_has_opt(m->super_opts, "rw");
	}
	free(order);
	mountinfo_free(&t);
	return 0;
}
