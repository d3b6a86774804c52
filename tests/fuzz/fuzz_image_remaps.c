/* fuzz_image_remaps: remaps.img (how to reach files unlinked while open
 * (link remaps, ghosts)), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("remaps", data, size, NULL);
	return 0;
}
