/* fuzz_image_pipedata: pipedata.img (bytes buffered in the tree's pipes),
 * read as the stages and amber show read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("pipedata", data, size, NULL);
	return 0;
}
