/* fuzz_stage_gc_remaps: gc-remaps' stdin (RUN/NN-gc-remaps.in: 'remap'
 * records from collect-remaps, 'mntns' records from build-mntns), read and
 * checked by the stage's own gc_remaps_read; nothing is removed. */
#include "stages/gc-remaps/gc-remaps.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct gc_remaps_input in;
	struct err e = { 0 };
	int fd;

	fuzz_init("gc-remaps");
	fd = fuzz_bundle(data, size);
	fuzz_check_err(gc_remaps_read(fd, &in, &e), &e, "gc_remaps_read");
	gc_remaps_input_free(&in);
	close(fd);
	return 0;
}
