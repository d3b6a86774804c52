/* fuzz_stage_seize: seize's one input stream (it takes no stdin): the
 * driver's verdict on the control fd, "release kill" or "release resume"
 * on a line, read by the stage's own seize_wait_verdict. Anything else,
 * or EOF, must resume the tree, never kill it. */
#include "stages/seize/seize.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd, kill_it;
	const char *nl;

	fuzz_init("seize");
	fd = fuzz_memfd(data, size);
	kill_it = seize_wait_verdict(fd);
	nl = memchr(data, '\n', size);
	/* Only these exact bytes (up to a newline or the end) may kill. */
	if (kill_it && !((size_t)((nl ? nl : (const char *)data + size) - (const char *)data) == 12 &&
			 !memcmp(data, "release kill", 12)))
		abort();
	close(fd);
	return 0;
}
