/* test_drv_swrk: images/rpc.proto against packets runc 1.1 sent to
 * 'amber swrk' (recorded with AMBER_SWRK_RECORD into tests/unit/fixtures/
 * rpc-runc-*.bin), each answer amber sends encoded and decoded again, and
 * driver/swrkopts.c: which options are honoured, which are refused by
 * name, and the command lines made from runc's requests. */
#include <fcntl.h>

#include "driver/swrkopts.h"
#include "images/rpc.pb-c.h"
#include "tests/unit/fixture.h"
#include "tests/unit/unit.h"

/* Fixture 'name' decoded as a criu_req, or NULL after a failed check. */
static CriuReq *load_req(const char *name, size_t *len_out)
{
	const char *dir = getenv("AMBER_FIXTURES");
	char path[512];
	struct err e = { 0 };
	char *data = NULL;
	size_t len = 0;
	CriuReq *req;

	snprintf(path, sizeof(path), "%s/%s", dir && *dir ? dir : "tests/unit/fixtures", name);
	if (proc_read_file(path, &data, &len, &e) < 0) {
		unit_fail(__FILE__, __LINE__, "fixture: %s (run from the source root or set AMBER_FIXTURES)", e.msg);
		return NULL;
	}
	req = criu_req__unpack(NULL, len, (const uint8_t *)data);
	if (!req)
		unit_fail(__FILE__, __LINE__, "%s does not decode as a criu_req", name);
	/* Encoded again, the same bytes (runc and protobuf-c both write
	 * fields in number order, and runc sends none out of order). */
	if (req) {
		uint8_t *again = malloc(len + 1);

		CHECK_INT(criu_req__get_packed_size(req), len);
		if (again && criu_req__pack(req, again) == len)
			CHECK(!memcmp(again, data, len));
		free(again);
	}
	free(data);
	if (len_out)
		*len_out = len;
	return req;
}

static void rpc_runc_version_request(void)
{
	CriuReq *req = load_req("rpc-runc-version.bin", NULL);

	if (!req)
		return;
	CHECK_INT(req->type, CRIU_REQ_TYPE__VERSION);
	CHECK(!req->opts);
	criu_req__free_unpacked(req, NULL);
}

static void rpc_runc_dump_request(void)
{
	CriuReq *req = load_req("rpc-runc-dump.bin", NULL);
	const CriuOpts *o;

	if (!req)
		return;
	CHECK_INT(req->type, CRIU_REQ_TYPE__DUMP);
	o = req->opts;
	CHECK(o && o->has_pid && o->pid > 0);
	if (!o)
		goto out;
	CHECK(o->images_dir_fd >= 0);
	CHECK(o->has_work_dir_fd);
	CHECK_STR(o->log_file, "dump.log");
	CHECK(o->manage_cgroups);
	CHECK(o->notify_scripts);
	CHECK(o->orphan_pts_master);
	CHECK_INT(o->empty_ns, 0x40000000);
	CHECK(o->freeze_cgroup && !strncmp(o->freeze_cgroup, "/sys/fs/cgroup/", 15));
	CHECK_STR(o->config_file, "/etc/criu/runc.conf");
	CHECK_INT(o->n_ext_mnt, 17);
	if (o->n_ext_mnt == 17) {
		CHECK_STR(o->ext_mnt[9]->key, "/proc/keys");
		CHECK_STR(o->ext_mnt[9]->val, "/dev/null");
	}
	CHECK_INT(swrk_check_opts(o, req->type, &(struct err){ 0 }), 0);
out:
	criu_req__free_unpacked(req, NULL);
}

static void rpc_runc_notify_answer(void)
{
	CriuReq *req = load_req("rpc-runc-notify-answer.bin", NULL);

	if (!req)
		return;
	CHECK_INT(req->type, CRIU_REQ_TYPE__NOTIFY);
	CHECK(req->has_notify_success && req->notify_success);
	criu_req__free_unpacked(req, NULL);
}

static void rpc_runc_restore_request(void)
{
	CriuReq *req = load_req("rpc-runc-restore.bin", NULL);
	const CriuOpts *o;

	if (!req)
		return;
	CHECK_INT(req->type, CRIU_REQ_TYPE__RESTORE);
	o = req->opts;
	if (!o) {
		CHECK(o);
		goto out;
	}
	CHECK(o->rst_sibling);
	CHECK(o->evasive_devices);
	CHECK(o->root && strstr(o->root, "criu-root"));
	CHECK_STR(o->log_file, "restore.log");
	CHECK_INT(o->n_inherit_fd, 2);
	if (o->n_inherit_fd == 2) {
		CHECK(!strncmp(o->inherit_fd[0]->key, "pipe:[", 6));
		CHECK_INT(o->inherit_fd[0]->fd, 1);
		CHECK_INT(o->inherit_fd[1]->fd, 2);
	}
	CHECK(o->n_cg_root > 0);
	CHECK_INT(swrk_check_opts(o, req->type, &(struct err){ 0 }), 0);
out:
	criu_req__free_unpacked(req, NULL);
}

/* Packs resp, unpacks it, and returns the copy (or NULL after a failed check). */
static CriuResp *round_trip(const CriuResp *resp)
{
	size_t n = criu_resp__get_packed_size(resp);
	uint8_t *buf = malloc(n + 1);
	CriuResp *back;

	CHECK_INT(criu_resp__pack(resp, buf), n);
	back = criu_resp__unpack(NULL, n, buf);
	free(buf);
	CHECK(back != NULL);
	return back;
}

static void rpc_answers_round_trip(void)
{
	CriuResp r = CRIU_RESP__INIT, *b;
	CriuVersion v = CRIU_VERSION__INIT;
	CriuFeatures f = CRIU_FEATURES__INIT;
	CriuDumpResp d = CRIU_DUMP_RESP__INIT;
	CriuRestoreResp rr = CRIU_RESTORE_RESP__INIT;
	CriuNotify no = CRIU_NOTIFY__INIT;
	static const uint8_t version_bytes[] = { 0x08, 0x0a, 0x10, 0x01, 0x52, 0x04, 0x08, 0x03, 0x10, 0x13 };
	uint8_t buf[64];

	/* VERSION 3.19, as runc reads it: 31900, no gitid. */
	r.type = CRIU_REQ_TYPE__VERSION;
	r.success = true;
	v.major_number = 3;
	v.minor_number = 19;
	r.version = &v;
	CHECK_INT(criu_resp__pack(&r, buf), sizeof(version_bytes));
	CHECK(!memcmp(buf, version_bytes, sizeof(version_bytes)));
	r.version = NULL;

	r.type = CRIU_REQ_TYPE__FEATURE_CHECK;
	f.has_mem_track = f.has_lazy_pages = f.has_pidfd_store = true;
	r.features = &f;
	if ((b = round_trip(&r))) {
		CHECK(b->features && b->features->has_mem_track && !b->features->mem_track);
		CHECK(b->features && b->features->has_lazy_pages && !b->features->lazy_pages);
		criu_resp__free_unpacked(b, NULL);
	}
	r.features = NULL;

	r.type = CRIU_REQ_TYPE__DUMP;
	d.has_restored = true;
	r.dump = &d;
	if ((b = round_trip(&r))) {
		CHECK(b->dump && b->dump->has_restored && !b->dump->restored);
		criu_resp__free_unpacked(b, NULL);
	}
	r.dump = NULL;

	r.type = CRIU_REQ_TYPE__RESTORE;
	rr.pid = 4242;
	r.restore = &rr;
	if ((b = round_trip(&r))) {
		CHECK(b->restore && b->restore->pid == 4242);
		criu_resp__free_unpacked(b, NULL);
	}
	r.restore = NULL;

	r.type = CRIU_REQ_TYPE__NOTIFY;
	no.script = "post-restore";
	no.has_pid = true;
	no.pid = 77;
	r.notify = &no;
	if ((b = round_trip(&r))) {
		CHECK(b->notify && !strcmp(b->notify->script, "post-restore") && b->notify->pid == 77);
		criu_resp__free_unpacked(b, NULL);
	}
	r.notify = NULL;

	r.type = CRIU_REQ_TYPE__DUMP;
	r.success = false;
	r.cr_errmsg = "option 'track_mem' of the dump request: amber cannot honour it";
	if ((b = round_trip(&r))) {
		CHECK(!b->success);
		CHECK_STR(b->cr_errmsg, r.cr_errmsg);
		criu_resp__free_unpacked(b, NULL);
	}
}

/* Options amber cannot honour are refused by name; the modes of
 * manage_cgroups it cannot keep too. */
static void swrk_refuses_by_name(void)
{
	CriuOpts o = CRIU_OPTS__INIT;
	struct err e = { 0 };

	o.images_dir_fd = 5;
	o.has_pid = true;
	o.pid = 100;
	CHECK_INT(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e), 0);

	o.has_ext_unix_sk = o.ext_unix_sk = true;
	CHECK(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e) < 0);
	CHECK_CONTAINS(e.msg, "option 'ext_unix_sk' of the dump request");
	o.ext_unix_sk = false;	/* given as false: asks for nothing */
	CHECK_INT(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e), 0);

	o.parent_img = "../pre";
	CHECK(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e) < 0);
	CHECK_CONTAINS(e.msg, "option 'parent_img'");
	CHECK_CONTAINS(e.msg, "pre-dump");
	o.parent_img = NULL;

	o.has_manage_cgroups_mode = true;
	o.manage_cgroups_mode = CRIU_CG_MODE__FULL;
	CHECK(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e) < 0);
	CHECK_CONTAINS(e.msg, "option 'manage_cgroups_mode' FULL");
	o.manage_cgroups_mode = CRIU_CG_MODE__SOFT;
	CHECK_INT(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e), 0);

	/* A restore option in a dump request, and the other way round. */
	o.has_rst_sibling = o.rst_sibling = true;
	CHECK(swrk_check_opts(&o, CRIU_REQ_TYPE__DUMP, &e) < 0);
	CHECK_CONTAINS(e.msg, "option 'rst_sibling' of the dump request");
	CHECK(swrk_check_opts(&o, CRIU_REQ_TYPE__RESTORE, &e) < 0);
	CHECK_CONTAINS(e.msg, "option 'pid' of the restore request");

	o.has_pid = false;
	o.has_empty_ns = true;
	o.empty_ns = 0x20000000;	/* CLONE_NEWUTS */
	CHECK(swrk_check_opts(&o, CRIU_REQ_TYPE__RESTORE, &e) < 0);
	CHECK_CONTAINS(e.msg, "option 'empty_ns'");
}

static bool has_arg(const struct swrk_args *a, const char *want)
{
	for (int i = 0; i < a->argc; i++)
		if (!strcmp(a->argv[i], want))
			return true;
	return false;
}

/* runc's requests as amber's command lines. */
static void swrk_args_of_runc_requests(void)
{
	CriuReq *dump = load_req("rpc-runc-dump.bin", NULL), *rst = load_req("rpc-runc-restore.bin", NULL);
	static struct swrk_args a;
	struct err e = { 0 };
	int stdio[3] = { -1, -1, -1 };
	char want[64];

	if (!dump || !rst)
		goto out;
	CHECK_INT(swrk_build_args(dump->opts, dump->type, "/img/amber", "/work", stdio, &a, &e), 0);
	CHECK_STR(a.argv[0], "dump");
	snprintf(want, sizeof(want), "%d", dump->opts->pid);
	CHECK(has_arg(&a, "-t") && has_arg(&a, want));
	CHECK(has_arg(&a, "/work/dump.log"));
	CHECK(has_arg(&a, "mnt[/proc/keys]:/dev/null"));
	CHECK(has_arg(&a, "mnt[/sys/fs/cgroup/pids]:/sys/fs/cgroup/pids"));
	CHECK(!has_arg(&a, "--leave-running"));

	/* Its stdout and stderr are one pipe: named once, as fd 1 moved aside. */
	stdio[1] = dup(1);
	stdio[2] = dup(2);
	CHECK_INT(swrk_build_args(rst->opts, rst->type, "/img/amber", "/work", stdio, &a, &e), 0);
	CHECK_STR(a.argv[0], "restore");
	CHECK(has_arg(&a, "-d"));
	CHECK(has_arg(&a, "--root") && has_arg(&a, rst->opts->root));
	snprintf(want, sizeof(want), "fd[%d]:%s", stdio[1], rst->opts->inherit_fd[0]->key);
	CHECK(has_arg(&a, want));
	snprintf(want, sizeof(want), "fd[%d]:%s", stdio[2], rst->opts->inherit_fd[0]->key);
	CHECK(!has_arg(&a, want));
	close(stdio[1]);
	close(stdio[2]);

	/* A log file is a name in the work directory, nothing else. */
	{
		char *recorded = dump->opts->log_file;	/* freed with the request */

		dump->opts->log_file = "../escape.log";
		CHECK(swrk_build_args(dump->opts, dump->type, "/img/amber", "/work", stdio, &a, &e) < 0);
		CHECK_CONTAINS(e.msg, "option 'log_file'");
		dump->opts->log_file = recorded;
	}
out:
	if (dump)
		criu_req__free_unpacked(dump, NULL);
	if (rst)
		criu_req__free_unpacked(rst, NULL);
}

static const struct unit_case cases[] = {
	UNIT_CASE(rpc_runc_version_request),
	UNIT_CASE(rpc_runc_dump_request),
	UNIT_CASE(rpc_runc_notify_answer),
	UNIT_CASE(rpc_runc_restore_request),
	UNIT_CASE(rpc_answers_round_trip),
	UNIT_CASE(swrk_refuses_by_name),
	UNIT_CASE(swrk_args_of_runc_requests),
};
UNIT_MAIN(cases)
