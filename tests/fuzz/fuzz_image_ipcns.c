/* fuzz_image_ipcns: ipcns.img (IPC namespaces the tree made (empty ones):
 * which tasks), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("ipcns", data, size, NULL);
	return 0;
}
