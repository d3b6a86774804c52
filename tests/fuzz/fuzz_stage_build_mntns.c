/* fuzz_stage_build_mntns: what build-mntns reads (its stdin's records are
 * not used): mntns.img and mountpoints-ID.img from the bundle, read and
 * checked by the stage's own build_mntns_read. Nothing is mounted. */
#include "stages/build-mntns/build-mntns.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct build_mntns_input in;
	struct err e = { 0 };
	int fd;

	fuzz_init("build-mntns");
	fd = fuzz_bundle(data, size);
	fuzz_check_err(build_mntns_read(fuzz_dir_fd, &in, &e), &e, "build_mntns_read");
	build_mntns_input_free(&in);
	close(fd);
	return 0;
}
