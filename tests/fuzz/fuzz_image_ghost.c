/* fuzz_image_ghost: ghost-ID.img (contents of an unlinked file that could
 * not be linked), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("ghost", data, size, NULL);
	return 0;
}
