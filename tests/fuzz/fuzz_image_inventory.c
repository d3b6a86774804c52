/* fuzz_image_inventory: inventory.img (what the dump holds; written last),
 * read as the stages and amber show read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("inventory", data, size, NULL);
	return 0;
}
