/* fuzz_image_pages: pages-N.img (raw page contents), read as the stages
 * and amber show read it (tests/fuzz/fuzz_image.h). A pages image holds
 * raw pages, no records: only its header is read. */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("pages", data, size, NULL);
	return 0;
}
