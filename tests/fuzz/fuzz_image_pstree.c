/* fuzz_image_pstree: pstree.img (the process tree: pids, parents, groups,
 * sessions, threads), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h), then given its helpers and checked and
 * ordered as collect-pstree does (lib/pstree.c). */
#include "images/pstree.pb-c.h"
#include "images/pstree.h"
#include "tests/fuzz/fuzz_image.h"

static void fuzz_pstree_check(ProtobufCMessage **msgs, int n)
{
	PstreeEntry **procs = malloc(sizeof(*procs) * (n + 1));
	struct err e = { 0 };
	int nr = n, ret;

	if (!procs)
		abort();
	/* The records stay the caller's; helpers added here are ours. */
	memcpy(procs, msgs, sizeof(*procs) * n);
	ret = pstree_add_helpers(&procs, &nr, &e);
	fuzz_check_err(ret, &e, "pstree_add_helpers");
	if (ret == 0)
		fuzz_check_err(pstree_check_and_order(procs, nr, &e), &e, "pstree_check_and_order");
	/* The helpers are the entries that are not the image's. */
	for (int i = 0; i < nr; i++) {
		bool ours = true;

		for (int k = 0; k < n && ours; k++)
			ours = procs[i] != (PstreeEntry *)msgs[k];
		if (ours)
			pstree_entry__free_unpacked(procs[i], NULL);
	}
	free(procs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("pstree", data, size, fuzz_pstree_check);
	return 0;
}
