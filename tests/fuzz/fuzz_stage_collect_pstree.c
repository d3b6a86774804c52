/* fuzz_stage_collect_pstree: what collect-pstree reads (it takes no
 * stdin): inventory.img and pstree.img from the bundle, read and checked
 * by the stage's own collect_pstree_read (the inventory against this CPU,
 * the tree's shape, helpers for lost session and group leaders, parents
 * first). Whether the pids are free here is not asked. */
#include "stages/collect-pstree/collect-pstree.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PstreeEntry **procs;
	struct err e = { 0 };
	bool own_pidns = false;
	int fd, nr;

	fuzz_init("collect-pstree");
	fd = fuzz_bundle(data, size);
	fuzz_check_err(collect_pstree_read(fuzz_dir_fd, &own_pidns, &procs, &nr, &e), &e, "collect_pstree_read");
	collect_pstree_free(procs, nr);
	close(fd);
	return 0;
}
