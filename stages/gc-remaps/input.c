/* gc-remaps/input.c: the stage's input, read and checked with no side
 * effect (what tests/fuzz/fuzz_stage_gc_remaps.c feeds). */
#include <stdlib.h>
#include <string.h>

#include "ipc/stream.h"
#include "stages/gc-remaps/gc-remaps.h"

/* Keeps the pin of namespace m->id: each is built, and named, once. */
static int gc_remaps_add_pin(struct gc_remaps_input *in, const MntnsPlanEntry *m, struct err *e)
{
	if (m->id < in->nr_pins && in->pin[m->id])
		return err_proto(e, "stdin: mount namespace %u comes twice (pins '%s' and '%s'); build-mntns names each once",
				 m->id, in->pin[m->id], m->pin);
	if (m->id >= in->nr_pins) {
		char **n = realloc(in->pin, (m->id + 1) * sizeof(*n));

		if (!n)
			return err_errno(e, "keep the pin of mount namespace %u", m->id);
		memset(n + in->nr_pins, 0, (m->id + 1 - in->nr_pins) * sizeof(*n));
		in->pin = n;
		in->nr_pins = m->id + 1;
	}
	if (!(in->pin[m->id] = strdup(m->pin)))
		return err_errno(e, "keep the pin of mount namespace %u", m->id);
	return 1;
}

int gc_remaps_read(int fd, struct gc_remaps_input *in, struct err *e)
{
	struct stream_in s;
	StreamRecord *rec;
	int ret;

	memset(in, 0, sizeof(*in));
	if ((ret = stream_in_open(&s, fd, "stdin", e)) < 0)
		return ret;
	while ((ret = stream_in_next(&s, &rec, e)) > 0) {
		RemapPlanEntry *r = rec->body_case == STREAM_RECORD__BODY_REMAP ? rec->remap : NULL;

		if (rec->body_case == STREAM_RECORD__BODY_MNTNS && rec->mntns->id < 4096)
			ret = gc_remaps_add_pin(in, rec->mntns, e);
		if (ret > 0 && r && r->kind == REMAP_KIND__REMAP_LINK && r->path) {
			StreamRecord **n = realloc(in->links, (in->nr_links + 1) * sizeof(*n));

			if (n) {
				in->links = n;
				in->links[in->nr_links++] = rec;
				continue;
			}
			ret = err_errno(e, "keep the link remap of file %u", r->file_id);
		}
		stream_record__free_unpacked(rec, NULL);
		if (ret < 0)
			break;
	}
	stream_in_close(&s);
	return ret;
}

void gc_remaps_input_free(struct gc_remaps_input *in)
{
	for (int i = 0; i < in->nr_links; i++)
		stream_record__free_unpacked(in->links[i], NULL);
	free(in->links);
	for (uint32_t i = 0; i < in->nr_pins; i++)
		free(in->pin[i]);
	free(in->pin);
	memset(in, 0, sizeof(*in));
}
