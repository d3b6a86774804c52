/* fuzz_image_memfd: memfd-INO.img (a memfd the tree maps or holds: name,
 * size, seals, mode, owner and its data runs), read as the stages and amber
 * show read it (tests/fuzz/fuzz_image.h), its runs checked as
 * memfd_restore checks them against its pages image (lib/memfd.c). */
#include "images/files.pb-c.h"
#include "images/memfd.h"
#include "tests/fuzz/fuzz_image.h"

static void fuzz_memfd_check(ProtobufCMessage **msgs, int n)
{
	struct err e = { 0 };

	for (int i = 0; i < n; i++) {
		const MemfdEntry *m = (const MemfdEntry *)msgs[i];

		fuzz_check_err(memfd_check(m, "pages-memfd-1.img", 1 << 20, &e), &e, "memfd_check");
		(void)memfd_name_of(m->name);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_image_one("memfd", data, size, fuzz_memfd_check);
	return 0;
}
