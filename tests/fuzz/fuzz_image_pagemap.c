/* fuzz_image_pagemap: pagemap-PID.img (one process: which pages are in
 * which pages image), read as the stages and amber show read it
 * (tests/fuzz/fuzz_image.h). */
#include "tests/fuzz/fuzz_image.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("pagemap", data, size, NULL);
	return 0;
}
