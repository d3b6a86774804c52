/* fuzz_image_mountpoints: mountpoints-ID.img (one mount namespace: its
 * mounts, parents first), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("mountpoints", data, size, NULL);
	return 0;
}
