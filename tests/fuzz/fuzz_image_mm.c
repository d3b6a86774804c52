/* fuzz_image_mm: mm-PID.img (one process: VMAs and mm fields), read as the
 * stages and amber show read it (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("mm", data, size, NULL);
	return 0;
}
