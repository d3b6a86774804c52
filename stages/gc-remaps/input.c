/* gc-remaps/input.c: the stage's input, read and checked with no side
 * effect (what tests/fuzz/fuzz_stage_gc_remaps.c feeds). */
#include <stdlib.h>
#include <string.h>

#include "ipc/stream.h"
#include "stages/gc-remaps/gc-remaps.h"

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

		if (rec->body_case == STREAM_RECORD__BODY_MNTNS && rec->mntns->id < 4096) {
			if (rec->mntns->id >= in->nr_pins) {
				in->pin = realloc(in->pin, (rec->mntns->id + 1) * sizeof(*in->pin));
				memset(in->pin + in->nr_pins, 0, (rec->mntns->id + 1 - in->nr_pins) * sizeof(*in->pin));
				in->nr_pins = rec->mntns->id + 1;
			}
			in->pin[rec->mntns->id] = strdup(rec->mntns->pin);
		}
		if (r && r->kind == REMAP_KIND__REMAP_LINK && r->path) {
			in->links = realloc(in->links, (in->nr_links + 1) * sizeof(*in->links));
			in->links[in->nr_links++] = rec;
			continue;
		}
		stream_record__free_unpacked(rec, NULL);
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
