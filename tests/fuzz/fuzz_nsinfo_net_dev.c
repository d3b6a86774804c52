/* fuzz_nsinfo_net_dev: /proc/PID/net/dev text and namespace links such as
 * "net:[4026531840]" (lib/nsinfo.c), as seize reads a tree's network
 * namespace. */
#include "lib/nsinfo.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct nsinfo_link links[4];
	struct err e = { 0 };
	char *text;

	fuzz_init("fuzz_nsinfo_net_dev");
	text = fuzz_cstr(data, size);
	fuzz_check_err(nsinfo_parse_net_dev(text, links, 4, &e), &e, "nsinfo_parse_net_dev");
	(void)nsinfo_parse_link(text, "net");
	(void)nsinfo_parse_link(text, "uts");
	free(text);
	return 0;
}
