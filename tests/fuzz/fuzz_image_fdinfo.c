/* fuzz_image_fdinfo: fdinfo-PID.img (one process: descriptor -> open
 * file), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("fdinfo", data, size, NULL);
	return 0;
}
