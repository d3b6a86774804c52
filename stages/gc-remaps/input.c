/* gc-remaps/input.c: the stage's input, read and checked with no side
 * effect (what tests/fuzz/fuzz_stage_gc_remaps.c feeds). */
#include <stdlib.h>
#include <string.h>

#include "images/image.h"
#include "ipc/stream.h"
#include "lib/grow.h"
#include "stages/gc-remaps/gc-remaps.h"

/* Keeps the pin of namespace m->id: each is built, and named, once. The
 * table is indexed by id, so the id is bounded first: build-mntns numbers
 * the namespaces 1, 2, ... as mntns.img does, and refuses that image if it
 * does not, so a larger id here is a broken stream. */
static int gc_remaps_add_pin(struct gc_remaps_input *in, const MntnsPlanEntry *m, struct err *e)
{
	if (m->id > IMAGE_MAX_MNTNS_ID)
		return err_proto(e, "the mntns record of mount namespace %u is over the limit of %u namespaces", m->id,
				 IMAGE_MAX_MNTNS_ID);
	if (m->id < in->nr_pins && in->pin[m->id])
		return err_proto(e, "stdin: mount namespace %u comes twice (pins '%s' and '%s'); build-mntns names each once",
				 m->id, in->pin[m->id], m->pin);
	size_t nr = in->nr_pins;

	/* made first: it is never shorter than pin, which counts both. */
	if (grow_zero(&in->made, &nr, (size_t)m->id + 1) < 0 || grow_zero(&in->pin, &in->nr_pins, (size_t)m->id + 1) < 0)
		return err_errno(e, "keep the pin of mount namespace %u", m->id);
	if (!(in->pin[m->id] = strdup(m->pin)) ||
	    !(in->made[m->id].dev = malloc((m->n_made_devs + 1) * sizeof(uint64_t))))
		return err_errno(e, "keep the pin of mount namespace %u", m->id);
	if (m->n_made_devs)
		memcpy(in->made[m->id].dev, m->made_devs, m->n_made_devs * sizeof(uint64_t));
	in->made[m->id].nr = m->n_made_devs;
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

		if (rec->body_case == STREAM_RECORD__BODY_MNTNS)
			ret = gc_remaps_add_pin(in, rec->mntns, e);
		if (ret > 0 && r && r->kind == REMAP_KIND__REMAP_LINK && r->path) {
			if (grow_one(&in->links, in->nr_links) == 0) {
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
	for (size_t i = 0; i < in->nr_pins; i++) {
		free(in->pin[i]);
		if (in->made)
			free(in->made[i].dev);
	}
	free(in->pin);
	free(in->made);
	memset(in, 0, sizeof(*in));
}
