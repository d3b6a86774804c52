/* fuzz_nsinfo_sysvipc: /proc/sysvipc/{shm,sem,msg} text (lib/nsinfo.c), as
 * seize reads it inside a tree's IPC namespace to refuse a non-empty one. */
#include "lib/nsinfo.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *kinds[] = { "shm", "sem", "msg" };
	struct nsinfo_ipc_obj objs[4];
	struct err e = { 0 };
	char *text;

	fuzz_init("fuzz_nsinfo_sysvipc");
	text = fuzz_cstr(data, size);
	for (int i = 0; i < 3; i++)
		fuzz_check_err(nsinfo_parse_sysvipc(text, kinds[i], objs, 4, &e), &e, "nsinfo_parse_sysvipc");
	free(text);
	return 0;
}
