/* fuzz_stage_restore_files_hidden: restore-files' hidden socket: the
 * directory fds build-mntns sends of files, cwds and roots under an
 * overmount, named by file id or FDPASS_ID_CWD / FDPASS_ID_ROOT | pid
 * (ipc/fdpass.c), then the end marker, taken by the stage's own
 * reopen_hidden_recv. Every descriptor received must be kept or closed. */
#include "stages/restore-files/reopen.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int before;
	struct reopen r;
	struct err e = { 0 };
	int sk;

	fuzz_init("restore-files");
	close(fuzz_socket(NULL, 0));	/* what it keeps open, opened */
	before = fuzz_count_fds();
	sk = fuzz_socket(data, size);
	memset(&r, 0, sizeof(r));
	fuzz_check_err(reopen_hidden_recv(&r, sk, &e), &e, "reopen_hidden_recv");
	close(sk);
	reopen_hidden_free(&r);
	reopen_free(&r);
	fuzz_check_fds(before);
	return 0;
}
