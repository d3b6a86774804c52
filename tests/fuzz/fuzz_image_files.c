/* fuzz_image_files: files.img (open file descriptions of the tree), read
 * as the stages and amber show read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("files", data, size, NULL);
	return 0;
}
