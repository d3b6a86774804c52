/* fuzz_image_tmpfs: tmpfs-MNT.img (contents of a tmpfs only the tree had),
 * read as the stages and amber show read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("tmpfs", data, size, NULL);
	return 0;
}
