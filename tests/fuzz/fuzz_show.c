/* fuzz_show: 'amber show' (driver/show.c), which reads whatever it is
 * pointed at: the bundle's files as a dump directory (the summary, as text
 * and as JSON), each of them as an image, and its stdin part as a
 * state-stream recording (show --stream). Output goes to /dev/null. */
#include "driver/driver.h"
#include "tests/fuzz/fuzz.h"
#include "tests/fuzz/mutate.h"

/* Runs 'amber show ARGS...'. */
static void fuzz_show_run(const char *a1, const char *a2)
{
	char *argv[] = { "show", (char *)a1, (char *)a2, NULL };

	(void)cmd_show(a2 ? 3 : 2, argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int quiet;
	char path[sizeof(fuzz_dir_path) + 80];
	int fd;

	fuzz_init("show");
	if (!quiet) {
		/* What show prints is not looked at; what it reads is the test. */
		int null = open("/dev/null", O_WRONLY | O_CLOEXEC);

		if (null < 0 || dup2(null, 1) < 0)
			abort();
		close(null);
		quiet = 1;
	}
	fd = fuzz_bundle(data, size);
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	fuzz_show_run("--stream", path);
	fuzz_show_run(fuzz_dir_path, NULL);
	fuzz_show_run("--json", fuzz_dir_path);
	for (int i = 0; i < fuzz_nr_files; i++) {
		snprintf(path, sizeof(path), "%s/%s", fuzz_dir_path, fuzz_files[i].name);
		fuzz_show_run(path, NULL);
	}
	close(fd);
	return 0;
}
