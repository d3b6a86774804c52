/* fuzz_image_core: core-TID.img (one thread: registers, FPU/xstate,
 * signals), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("core", data, size, NULL);
	return 0;
}
