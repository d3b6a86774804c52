/* fuzz_image_netns: netns.img (network namespaces the tree made (loopback
 * only): which tasks, lo up or down), read as the stages and amber show
 * read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("netns", data, size, NULL);
	return 0;
}
