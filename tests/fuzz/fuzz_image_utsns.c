/* fuzz_image_utsns: utsns.img (UTS namespaces the tree made: which tasks,
 * hostname, domainname), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("utsns", data, size, NULL);
	return 0;
}
