/* fuzz_stage_dump_mounts: dump-mounts's stdin (RUN/NN-dump-mounts.in: seize's 'task'
 * records, as the driver relays them), read and checked as the stage reads
 * it, by stream_in_tasks (ipc/stream.c, which dump-files, dump-memory and
 * dump-mounts share), before it dumps the mount namespaces of the processes. Nothing
 * under /proc is read. */
#include "ipc/stream.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct stream_task *tasks;
	struct err e = { 0 };
	int fd, nr;

	fuzz_init("dump-mounts");
	fd = fuzz_bundle(data, size);
	fuzz_check_err(stream_in_tasks(fd, "state stream (stdin)", &tasks, &nr, &e), &e, "stream_in_tasks");
	free(tasks);
	close(fd);
	return 0;
}
