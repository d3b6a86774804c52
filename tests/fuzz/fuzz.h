/* tests/fuzz/fuzz.h: what amber's libFuzzer targets share.
 *
 * Every tests/fuzz/fuzz_NAME.c is one target: it defines
 * LLVMFuzzerTestOneInput and feeds its input to one parser of amber's, the
 * way the stage or library that owns the parser gets such input. Targets
 * are built with clang -fsanitize=fuzzer,address,undefined into build-fuzz/
 * and run by tests/fuzz/run.sh (make fuzz, make check).
 *
 * Four kinds of input:
 *	text	a /proc file (fuzz_mountinfo, fuzz_proc_*): the bytes as the
 *		kernel would give them, cut at the first NUL
 *	image	one image file (fuzz_image_KIND): written into a scratch
 *		images directory and read as a stage reads it
 *	socket	messages of a files or hidden socket (fuzz_stage_*_files,
 *		fuzz_stage_*_hidden): see fuzz_socket
 *	bundle	a stage's input (fuzz_stage_NAME): its stdin and the image
 *		files it reads, in one file:
 *			STDIN ( "\n@@amber-fuzz-file " NAME "\n" CONTENTS )*
 *		STDIN is what the driver recorded as RUN/NN-STAGE.in; each
 *		NAME (letters, digits, '.', '-', '_') is written into the
 *		scratch images directory with its CONTENTS. tests/fuzz/seeds.sh
 *		makes bundles from a real dump's run directory.
 *
 * AMBER_FUZZ_LOG=N logs at level N on stderr, and above 0 prints every
 * refusal too: how to see what a seed gets to.
 *
 * A refusal is fine; a crash, a leak, a hang or an error without a message
 * or exit class (lib/exitcodes.h) is a bug: fuzz_check_err aborts on the
 * last, so libFuzzer keeps the input that caused it.
 */
#ifndef AMBER_TESTS_FUZZ_H
#define AMBER_TESTS_FUZZ_H

#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/err.h"
#include "lib/frame.h"
#include "lib/log.h"

#define FUZZ_BUNDLE_SEP "\n@@amber-fuzz-file "
#define FUZZ_MAX_FILES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char fuzz_dir_path[4096];
static int fuzz_dir_fd = -1;
/* What the scratch images directory holds: a file is written again only
 * when it changed, since most mutants change one file of a bundle. */
static struct { char name[65]; size_t len; uint64_t hash; bool seen; } fuzz_files[FUZZ_MAX_FILES];
static int fuzz_nr_files;

/* Removes the scratch images directory when the fuzzer exits. */
static inline void fuzz_dir_remove(void)
{
	DIR *d;
	struct dirent *de;

	if (fuzz_dir_fd < 0)
		return;
	d = fdopendir(dup(fuzz_dir_fd));
	while (d && (de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			unlinkat(fuzz_dir_fd, de->d_name, 0);
	if (d)
		closedir(d);
	rmdir(fuzz_dir_path);
}

/* Once per process: quiet logging (AMBER_FUZZ_LOG=N logs at level N to
 * stderr) and a scratch images directory under $TMPDIR (default /dev/shm,
 * else /tmp: a tmpfs keeps the file churn cheap). */
static inline void fuzz_init(const char *name)
{
	static int done;
	const char *lvl = getenv("AMBER_FUZZ_LOG"), *tmp = getenv("TMPDIR");

	if (done)
		return;
	done = 1;
	if (lvl && *lvl)
		log_init(name, atoi(lvl), 2);
	else
		log_init(name, LOG_ERROR, open("/dev/null", O_WRONLY | O_CLOEXEC));
	if (!tmp || !*tmp)
		tmp = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	snprintf(fuzz_dir_path, sizeof(fuzz_dir_path), "%s/fuzz-amber-XXXXXX", tmp);
	if (!mkdtemp(fuzz_dir_path) ||
	    (fuzz_dir_fd = open(fuzz_dir_path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		perror("fuzz: scratch images directory");
		abort();
	}
	atexit(fuzz_dir_remove);
}

/* An amber error must say what went wrong and how bad it is. */
static inline void fuzz_check_err(int ret, const struct err *e, const char *what)
{
	if (ret >= 0)
		return;
	if (log_level() > LOG_ERROR)
		fprintf(stderr, "fuzz: %s refused the input: %s\n", what, e->msg);
	if (!e->msg[0] || !e->exit_code) {
		fprintf(stderr, "fuzz: %s failed (%d) without %s: '%s'\n", what, ret,
			e->msg[0] ? "an exit class" : "a message", e->msg);
		abort();
	}
}

/* FNV-1a, to tell whether a file changed. */
static inline uint64_t fuzz_hash(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < len; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

/* Puts one file into the scratch images directory, unless it holds that
 * already; fuzz_dir_sync removes the files no fuzz_put named since. */
static inline void fuzz_put(const char *name, const void *data, size_t len)
{
	uint64_t h = fuzz_hash(data, len);
	int i, fd;

	for (i = 0; i < fuzz_nr_files; i++)
		if (!strcmp(fuzz_files[i].name, name))
			break;
	if (i < fuzz_nr_files && fuzz_files[i].len == len && fuzz_files[i].hash == h) {
		fuzz_files[i].seen = true;
		return;
	}
	if (i == fuzz_nr_files) {
		if (fuzz_nr_files == FUZZ_MAX_FILES)
			return;
		snprintf(fuzz_files[fuzz_nr_files++].name, sizeof(fuzz_files[0].name), "%s", name);
	}
	fd = openat(fuzz_dir_fd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0 || write_all(fd, data, len) < 0) {
		perror("fuzz: write a scratch image");
		abort();
	}
	close(fd);
	fuzz_files[i].len = len;
	fuzz_files[i].hash = h;
	fuzz_files[i].seen = true;
}

/* Removes what the last input had and this one has not. */
static inline void fuzz_dir_sync(void)
{
	for (int i = 0; i < fuzz_nr_files;) {
		if (fuzz_files[i].seen) {
			fuzz_files[i++].seen = false;
			continue;
		}
		unlinkat(fuzz_dir_fd, fuzz_files[i].name, 0);
		fuzz_files[i] = fuzz_files[--fuzz_nr_files];
	}
}

/* A readable fd holding the bytes (a memfd at offset 0), as a pipe from
 * the previous stage would deliver them. */
static inline int fuzz_memfd(const void *data, size_t len)
{
	int fd = memfd_create("fuzz-input", MFD_CLOEXEC);

	if (fd < 0 || write_all(fd, data, len) < 0 || lseek(fd, 0, SEEK_SET) < 0) {
		perror("fuzz: memfd");
		abort();
	}
	return fd;
}

/* A unix SOCK_SEQPACKET socket that holds messages as a stage sends them
 * over its files or hidden socket (ipc/fdpass.h), for the stage on the
 * other end to receive; the peer is closed, so EOF follows. The input is
 * a list of messages, each
 *	u8 NFDS, u16 LEN (little-endian), LEN bytes of data
 * sent with NFDS (up to 80) descriptors of /dev/null. */
static inline int fuzz_socket(const uint8_t *data, size_t size)
{
	static int devnull = -1;
	int sk[2];

	if (devnull < 0 && (devnull = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		abort();
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sk) < 0)
		abort();
	while (size >= 3) {
		int nfds = data[0] % 81, fds[80];
		size_t len = data[1] | data[2] << 8;
		char ctl[CMSG_SPACE(sizeof(fds))];
		struct iovec iov;
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		struct cmsghdr *c;

		data += 3;
		size -= 3;
		if (len > size)
			len = size;
		iov = (struct iovec){ (void *)data, len };
		if (nfds) {
			for (int i = 0; i < nfds; i++)
				fds[i] = devnull;
			memset(ctl, 0, sizeof(ctl));
			mh.msg_control = ctl;
			mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
			memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
		}
		/* A full socket ends the input: the rest would block. */
		if (sendmsg(sk[1], &mh, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
			break;
		data += len;
		size -= len;
	}
	close(sk[1]);
	return sk[0];
}

/* How many descriptors this process has open. */
static inline int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	if (!d)
		abort();
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* Aborts if the process has more descriptors open than 'before' (counted
 * before the input): the code under test leaked one. */
static inline void fuzz_check_fds(int before)
{
	int now = fuzz_count_fds();

	if (now > before) {
		fprintf(stderr, "fuzz: %d descriptors leaked\n", now - before);
		abort();
	}
}

/* A NUL-terminated, exactly sized copy (so ASan sees a read past the end). */
static inline char *fuzz_cstr(const uint8_t *data, size_t size)
{
	size_t n = strnlen((const char *)data, size);
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, data, n);
	s[n] = 0;
	return s;
}

/* Is name fit for the scratch images directory? */
static inline int fuzz_name_ok(const char *name, size_t n)
{
	if (!n || n > 64 || name[0] == '.')
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= 'A' && name[i] <= 'Z') ||
		      (name[i] >= '0' && name[i] <= '9') || name[i] == '.' || name[i] == '-' || name[i] == '_'))
			return 0;
	return 1;
}

/* Splits a bundle: its files go into the scratch images directory (after
 * it was emptied), its stdin part into a memfd, returned. */
static inline int fuzz_bundle(const uint8_t *data, size_t size)
{
	const size_t seplen = strlen(FUZZ_BUNDLE_SEP);
	const uint8_t *end = data + size, *p;
	const uint8_t *sep = memmem(data, size, FUZZ_BUNDLE_SEP, seplen);
	int in = fuzz_memfd(data, sep ? (size_t)(sep - data) : size);

	while (sep) {
		const uint8_t *name = sep + seplen, *nl, *next;
		char fname[65];

		nl = memchr(name, '\n', end - name);
		if (!nl)
			break;
		p = nl + 1;
		next = memmem(p, end - p, FUZZ_BUNDLE_SEP, seplen);
		if (fuzz_name_ok((const char *)name, nl - name)) {
			memcpy(fname, name, nl - name);
			fname[nl - name] = 0;
			fuzz_put(fname, p, (next ? next : end) - p);
		}
		sep = next;
	}
	fuzz_dir_sync();
	return in;
}

#endif
