/* stream: see stream.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ipc/stream.h"

int stream_in_open(struct stream_in *s, int fd, const char *what, struct err *e)
{
	StreamRecord *rec = NULL;
	int ret;

	memset(s, 0, sizeof(*s));
	frame_reader_init(&s->rd, fd, what, STREAM_MAX_RECORD);
	ret = frame_next_msg(&s->rd, &stream_record__descriptor, (ProtobufCMessage **)&rec, e);
	if (ret <= 0) {
		stream_in_close(s);
		return ret < 0 ? ret : err_proto(e, "%s: empty state stream; the writer died before its hello", what);
	}
	if (rec->body_case != STREAM_RECORD__BODY_HELLO) {
		stream_record__free_unpacked(rec, NULL);
		stream_in_close(s);
		return err_proto(e, "%s: the state stream does not start with a hello", what);
	}
	if (strcmp(rec->hello->protocol, STREAM_PROTOCOL) || rec->hello->version != STREAM_VERSION) {
		err_proto(e, "%s: stream protocol '%s' version %u; this stage speaks '%s' version %u",
			  what, rec->hello->protocol, rec->hello->version, STREAM_PROTOCOL, STREAM_VERSION);
		stream_record__free_unpacked(rec, NULL);
		stream_in_close(s);
		return -EPROTO;
	}
	snprintf(s->writer, sizeof(s->writer), "%s", rec->hello->writer ? rec->hello->writer : "?");
	stream_record__free_unpacked(rec, NULL);
	return 0;
}

int stream_in_next(struct stream_in *s, StreamRecord **out, struct err *e)
{
	StreamRecord *rec = NULL;
	int ret;

	if (s->ended)
		return 0;
	ret = frame_next_msg(&s->rd, &stream_record__descriptor, (ProtobufCMessage **)&rec, e);
	if (ret < 0)
		return ret;
	if (ret == 0)
		return err_proto(e, "%s: the state stream from '%s' ended after %llu records without its end record; the writer died",
				 s->rd.what, s->writer, (unsigned long long)s->count);
	switch (rec->body_case) {
	case STREAM_RECORD__BODY__NOT_SET:
		stream_record__free_unpacked(rec, NULL);
		return err_proto(e, "%s: record %llu has no body", s->rd.what, (unsigned long long)s->count + 1);
	case STREAM_RECORD__BODY_HELLO:
		stream_record__free_unpacked(rec, NULL);
		return err_proto(e, "%s: a second hello after %llu records", s->rd.what, (unsigned long long)s->count);
	case STREAM_RECORD__BODY_END:
		if (rec->end->count != s->count) {
			err_proto(e, "%s: end record counts %llu records, %llu arrived",
				  s->rd.what, (unsigned long long)rec->end->count, (unsigned long long)s->count);
			stream_record__free_unpacked(rec, NULL);
			return -EPROTO;
		}
		stream_record__free_unpacked(rec, NULL);
		s->ended = true;
		return 0;
	default:
		s->count++;
		*out = rec;
		return 1;
	}
}

void stream_in_close(struct stream_in *s)
{
	frame_reader_free(&s->rd);
}

int stream_out_open(struct stream_out *s, int fd, const char *writer, struct err *e)
{
	StreamHello hello = STREAM_HELLO__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;

	s->fd = fd;
	s->what = "state stream (stdout)";
	s->count = 0;
	hello.protocol = (char *)STREAM_PROTOCOL;
	hello.version = STREAM_VERSION;
	hello.writer = (char *)writer;
	rec.body_case = STREAM_RECORD__BODY_HELLO;
	rec.hello = &hello;
	return frame_write_msg(fd, &rec.base, s->what, e);
}

int stream_out_write(struct stream_out *s, const StreamRecord *rec, struct err *e)
{
	int ret = frame_write_msg(s->fd, &rec->base, s->what, e);

	if (ret == 0)
		s->count++;
	return ret;
}

int stream_out_end(struct stream_out *s, struct err *e)
{
	StreamEnd end = STREAM_END__INIT;
	StreamRecord rec = STREAM_RECORD__INIT;

	end.count = s->count;
	rec.body_case = STREAM_RECORD__BODY_END;
	rec.end = &end;
	return frame_write_msg(s->fd, &rec.base, s->what, e);
}

int stream_frame_kind(const uint8_t *data, uint32_t len)
{
	StreamRecord *rec = stream_record__unpack(NULL, len, data);
	int kind;

	if (!rec)
		return -1;
	kind = rec->body_case;
	stream_record__free_unpacked(rec, NULL);
	return kind;
}

int stream_out_task(struct stream_out *s, const PstreeEntry *t, struct err *e)
{
	StreamRecord rec = STREAM_RECORD__INIT;

	rec.body_case = STREAM_RECORD__BODY_TASK;
	rec.task = (PstreeEntry *)t;
	return stream_out_write(s, &rec, e);
}

int stream_in_tasks(int fd, const char *what, struct stream_task **tasks, int *nr, struct err *e)
{
	struct stream_in in;
	StreamRecord *rec;
	int ret;

	*tasks = NULL;
	*nr = 0;
	if ((ret = stream_in_open(&in, fd, what, e)) < 0)
		return ret;
	while ((ret = stream_in_next(&in, &rec, e)) > 0) {
		const PstreeEntry *t = rec->body_case == STREAM_RECORD__BODY_TASK ? rec->task : NULL;
		struct stream_task *n;

		for (int i = 0; t && !t->zombie && i < *nr; i++)
			if ((*tasks)[i].pid == t->pid)
				ret = err_proto(e, "%s: task %u comes twice", what, t->pid);
		if (t && !t->pid)
			ret = err_proto(e, "%s: a task record with pid 0", what);
		if (ret > 0 && t && !t->zombie) {
			if ((n = realloc(*tasks, (*nr + 1) * sizeof(*n)))) {
				*tasks = n;
				n[(*nr)++] = (struct stream_task){ t->pid, t->host_pid ? t->host_pid : t->pid };
			} else {
				ret = err_errno(e, "%s: keep task %u", what, t->pid);
			}
		}
		stream_record__free_unpacked(rec, NULL);
		if (ret < 0)
			break;
	}
	stream_in_close(&in);
	return ret;
}
