/* fuzz_image_fs: fs-PID.img (one process: cwd and root), read as the
 * stages and amber show read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("fs", data, size, NULL);
	return 0;
}
