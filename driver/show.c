/* show: 'amber show', images and state-stream recordings made readable.
 *
 *	amber show FILE			one image as JSON: header, then every record
 *	amber show --stream FILE	a state-stream recording (RUN/NN-STAGE.in or
 *					.out) as JSON, checked for its hello and end
 *	amber show [--json] DIR		a dump summary: inventory, image files with
 *					kind and record count, process tree, and per
 *					process VMAs, dumped pages, cwd and open fds
 *
 * Records are printed by the generic descriptor walker of driver/json.h, so a
 * new image kind or message needs no code here. A pages image is raw memory:
 * only its size and page count are shown. Every image's header is shown
 * (dump id, owner, complete, count, length) and checked as restore checks
 * it, against the inventory.img beside it: an image of another dump or
 * another owner, unfinished, or whose length or record count is not what
 * its header says is listed under "problems" (and still shown).
 *
 * Exit status: 0 ok; 2 bad command line; 3 the file or dump is missing,
 * foreign, truncated or corrupt (the last stderr line names the file and
 * record); 4 a system call failed. A bad record ends the JSON with an "error"
 * member, so what came before it is still shown and the output stays JSON.
 */
#include <dirent.h>
#include <endian.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "driver/driver.h"
#include "driver/show_dir.h"
#include "driver/json.h"
#include "images/core.pb-c.h"
#include "images/files.pb-c.h"
#include "images/fs.pb-c.h"
#include "images/image.h"
#include "images/inventory.pb-c.h"
#include "images/mm.pb-c.h"
#include "images/pagemap.pb-c.h"
#include "images/pstree.pb-c.h"
#include "lib/exitcodes.h"
#include "ipc/stream.h"
#include "lib/cleanup.h"

static const char show_usage[] =
	"usage: amber show FILE           print an image as JSON\n"
	"       amber show --stream FILE  print a state-stream recording (NN-STAGE.in/.out) as JSON\n"
	"       amber show [--json] DIR   summarise a dump directory\n";

/* ---- one image file ---------------------------------------------------- */

/* Is this kind raw page contents rather than records? (pagemap has no single
 * descriptor but does hold records.) */
bool show_kind_is_raw(const struct image_kind *k)
{
	return !k->desc && strcmp(k->name, "pagemap");
}

/* Prints the size of a raw pages image; its hdr_size is the page size. */
static int show_pages(FILE *out, struct image *img, struct err *e)
{
	uint64_t page = img->rd.offset;	/* image_open_read leaves it at hdr_size */
	uint64_t size;
	struct stat st;

	if (fstat(img->fd, &st) < 0)
		return err_errno(e, "stat pages image '%s'", img->name);
	size = (uint64_t)st.st_size > page ? (uint64_t)st.st_size - page : 0;
	fprintf(out, ",\n  \"page_size\": %" PRIu64 ",\n  \"size\": %" PRIu64 ",\n  \"pages\": %" PRIu64,
		page, size, size / page);
	if (size % page)
		return err_input(e, "pages image '%s' holds %" PRIu64 " bytes of data, not a whole number of %"
				 PRIu64 "-byte pages; it is truncated", img->name, size, page);
	return 0;
}

/* Prints every record of an open image as elements of a JSON array. */
static int show_records(FILE *out, struct image *img, struct err *e)
{
	ProtobufCMessage *msg;
	uint64_t n = 0;
	int ret;

	fputs(",\n  \"records\": [", out);
	while ((ret = image_read(img, &msg, e)) > 0) {
		fprintf(out, "%s\n    ", n++ ? "," : "");
		json_print_message(out, msg, 4);
		protobuf_c_message_free_unpacked(msg, NULL);
	}
	fputs(n ? "\n  ]" : "]", out);
	return ret;
}

/* Prints the header fields every image has, as JSON members. */
static void show_header_json(FILE *out, const struct image *img, const char *indent)
{
	fprintf(out, ",\n%s\"dump_id\": \"%016" PRIx64 "\",\n%s\"owner\": %" PRIu64 ",\n%s\"complete\": %s"
		",\n%s\"count\": %" PRIu64 ",\n%s\"body\": %" PRIu64, indent, img->hdr.dump_id, indent, img->hdr.owner,
		indent, img->hdr.flags & IMAGE_FLAG_COMPLETE ? "true" : "false", indent, img->hdr.count, indent,
		img->hdr.body);
}

/* The dump the images of dirfd belong to, by the inventory.img there; 0
 * when it is missing or bad (the images cannot be compared). */
uint64_t show_dir_dump_id(int dirfd)
{
	struct err ignored = { 0 };
	uint64_t id = 0;

	if (image_dir_dump_id(dirfd, &id, &ignored) < 0)
		return 0;
	return id;
}

/* Prints image 'name' in dirfd as one JSON object; 'display' is the name the user gave. */
static int show_image(FILE *out, int dirfd, const char *name, const char *display, struct err *e)
{
	struct image img;
	struct err problem = { 0 };
	int ret = image_open_inspect(&img, dirfd, NULL, name, e);
	size_t len = strlen(name);
	bool bad;

	if (ret < 0) {
		/* Recordings are NN-STAGE.in/.out; say how to read one. */
		if (e->exit_code == EXIT_INPUT && (len < 4 || strcmp(name + len - 4, ".img")))
			snprintf(e->msg + strlen(e->msg), sizeof(e->msg) - strlen(e->msg),
				 "; for a state-stream recording use 'amber show --stream'");
		return ret;
	}
	fputs("{\n  \"file\": ", out);
	json_print_string(out, display);
	fputs(",\n  \"kind\": ", out);
	json_print_string(out, img.kind->name);
	fprintf(out, ",\n  \"magic\": \"%#010x\",\n  \"version\": %u", img.kind->magic, IMAGE_FORMAT_VERSION);
	show_header_json(out, &img, "  ");
	/* As restore would check it: a problem is shown, and the records still are. */
	bad = image_check(&img, show_dir_dump_id(dirfd), &problem) < 0;
	if (show_kind_is_raw(img.kind))
		ret = show_pages(out, &img, e);
	else
		ret = show_records(out, &img, e);
	if (bad) {
		fputs(",\n  \"problems\": [\n    ", out);
		json_print_string(out, problem.msg);
		fputs("\n  ]", out);
	}
	if (ret < 0) {
		fputs(",\n  \"error\": ", out);
		json_print_string(out, e->msg);
	}
	fputs("\n}\n", out);
	image_close(&img);
	if (ret < 0)
		return ret;
	if (bad) {
		*e = problem;
		return -EINVAL;
	}
	return 0;
}

/* Opens the directory holding 'path' and returns its fd, with the final
 * component in base. Symlinks are resolved first because images are opened
 * with O_NOFOLLOW. */
static int show_open_parent(const char *path, char *base, size_t len, struct err *e)
{
	char real[PATH_MAX], dir[PATH_MAX];
	int fd;

	if (!realpath(path, real)) {
		if (errno == ENOENT || errno == ENOTDIR) {
			err_input(e, "'%s' does not exist; give an image file or a dump directory", path);
			return -ENOENT;
		}
		return err_errno(e, "resolve '%s'", path);
	}
	snprintf(dir, sizeof(dir), "%s", real);
	snprintf(base, len, "%s", basename(real));
	fd = open(dirname(dir), O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return err_errno(e, "open the directory of '%s'", path);
	return fd;
}

/* ---- a state-stream recording ------------------------------------------ */

/* Checks record number idx of a recorded stream against the framing rules of
 * ipc/stream.h; 0 if it fits, <0 with e set. */
static int show_stream_check(const StreamRecord *rec, uint64_t idx, bool *ended, const char *what, struct err *e)
{
	if (*ended)
		return err_input(e, "'%s': record %" PRIu64 " comes after the end record", what, idx);
	if (idx == 0) {
		if (rec->body_case != STREAM_RECORD__BODY_HELLO)
			return err_input(e, "'%s': record 0 is not a hello; is this a state-stream recording?", what);
		if (strcmp(rec->hello->protocol, STREAM_PROTOCOL) || rec->hello->version != STREAM_VERSION)
			return err_input(e, "'%s': stream protocol '%s' version %u; this amber reads '%s' version %u",
					 what, rec->hello->protocol, rec->hello->version, STREAM_PROTOCOL, STREAM_VERSION);
		return 0;
	}
	if (rec->body_case == STREAM_RECORD__BODY_HELLO)
		return err_input(e, "'%s': record %" PRIu64 " is a second hello", what, idx);
	if (rec->body_case == STREAM_RECORD__BODY_END) {
		*ended = true;
		if (rec->end->count != idx - 1)
			return err_input(e, "'%s': the end record counts %" PRIu64 " records, %" PRIu64 " came before it",
					 what, (uint64_t)rec->end->count, idx - 1);
	}
	return 0;
}

/* Prints a recorded state stream as JSON: every record, then whether it ended properly. */
static int show_stream(FILE *out, const char *path, struct err *e)
{
	/* Not blocking on a FIFO given by mistake: only regular files are read. */
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	struct frame_reader rd;
	ProtobufCMessage *msg;
	bool ended = false;
	uint32_t magic;
	struct stat st;
	uint64_t n = 0;
	int ret;

	if (fd < 0) {
		if (errno == ENOENT) {
			err_input(e, "stream recording '%s' does not exist", path);
			return -ENOENT;
		}
		return err_errno(e, "open stream recording '%s'", path);
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode))
		return err_input(e, "'%s' is a directory; --stream takes a recording such as RUN/01-seize.out", path);
	if (!S_ISREG(st.st_mode))
		return err_input(e, "'%s' is not a regular file; --stream takes a recording such as RUN/01-seize.out", path);
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
	if (pread(fd, &magic, sizeof(magic), 0) == sizeof(magic) && le32toh(magic) == IMAGE_MAGIC)
		return err_input(e, "'%s' is an amber image, not a state-stream recording; drop --stream", path);
	frame_reader_init(&rd, fd, path, STREAM_MAX_RECORD);
	fputs("{\n  \"file\": ", out);
	json_print_string(out, path);
	fputs(",\n  \"kind\": \"stream\",\n  \"records\": [", out);
	while ((ret = frame_next_msg(&rd, &stream_record__descriptor, &msg, e)) > 0) {
		fprintf(out, "%s\n    ", n ? "," : "");
		json_print_message(out, msg, 4);
		ret = show_stream_check((StreamRecord *)msg, n++, &ended, path, e);
		protobuf_c_message_free_unpacked(msg, NULL);
		if (ret < 0)
			break;
	}
	if (ret == 0 && n == 0)
		ret = err_input(e, "stream recording '%s' is empty; the writer died before its hello", path);
	else if (ret == 0 && !ended)
		ret = err_input(e, "stream recording '%s' stops after %" PRIu64 " records (hello included) without an end record; the writer died or is still running",
				path, n);
	fputs(n ? "\n  ]" : "]", out);
	fprintf(out, ",\n  \"complete\": %s", ret == 0 ? "true" : "false");
	if (ret < 0) {
		fputs(",\n  \"error\": ", out);
		json_print_string(out, e->msg);
	}
	fputs("\n}\n", out);
	frame_reader_free(&rd);
	return ret < 0 ? ret : 0;
}

/* ---- entry point ------------------------------------------------------- */

int cmd_show(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "stream", no_argument, NULL, 's' },
		{ "json",   no_argument, NULL, 'j' },
		{ "help",   no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct err e = { 0 };
	bool stream = false, json = false;
	const char *path;
	struct stat st;
	char base[NAME_MAX + 1];
	int opt, ret;

	optind = 0;	/* the driver may have run getopt already */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+jh", longopts, NULL)) != -1) {
		switch (opt) {
		case 's': stream = true; break;
		case 'j': json = true; break;
		case 'h': fputs(show_usage, stdout); return EXIT_OK;
		default:
			drv_error("unknown option '%s'", argv[optind - 1]);
			fputs(show_usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		drv_error("%s", argc == optind ? "no file or directory given" : "give one file or directory");
		fputs(show_usage, stderr);
		return EXIT_USAGE;
	}
	path = argv[optind];

	if (stream) {
		ret = show_stream(stdout, path, &e);
	} else if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		ret = show_dir(stdout, path, json, &e);
	} else {
		_cleanup_close_ int dirfd = show_open_parent(path, base, sizeof(base), &e);

		ret = dirfd < 0 ? dirfd : show_image(stdout, dirfd, base, path, &e);
	}
	if (fflush(stdout) != 0 && ret == 0)
		ret = err_errno(&e, "write to standard output");
	if (ret < 0) {
		drv_error("%s", e.msg);
		return e.exit_code ? e.exit_code : EXIT_FAILURE_;
	}
	return EXIT_OK;
}
