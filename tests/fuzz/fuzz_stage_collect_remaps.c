/* fuzz_stage_collect_remaps: what collect-remaps reads (its stdin is not
 * used): remaps.img, ghost-ID.img, and mntns.img, mountpoints-ID.img and
 * files.img from the bundle, read and checked by the stage's own
 * collect_remaps_read. Whether a link remap is still there is not asked. */
#include "stages/collect-remaps/collect-remaps.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct collect_remaps_input in;
	struct err e = { 0 };
	int fd;

	fuzz_init("collect-remaps");
	fd = fuzz_bundle(data, size);
	fuzz_check_err(collect_remaps_read(fuzz_dir_fd, &in, &e), &e, "collect_remaps_read");
	collect_remaps_input_free(&in);
	close(fd);
	return 0;
}
