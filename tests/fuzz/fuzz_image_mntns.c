/* fuzz_image_mntns: mntns.img (mount namespaces the tree made: which
 * tasks, which root mount), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("mntns", data, size, NULL);
	return 0;
}
