/* memfd: the memfds a tree holds or maps, saved once each by dump-files (a
 * descriptor) or dump-memory (a mapping), whichever comes first, and made
 * again by restore-files (a descriptor) or restore-tasks (a mapping only).
 *
 * A memfd's object is described by memfd-INO.img (one MemfdEntry: name, size,
 * seals, mode, owner, and the page runs that hold data, found with
 * SEEK_DATA/SEEK_HOLE so holes cost nothing); the runs' contents follow each
 * other in pages-memfd-INO.img (a raw pages image, images/image.h). INO is
 * the memfd's inode at dump, which the VMAs that map it record too.
 */
#ifndef AMBER_MEMFD_H
#define AMBER_MEMFD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "images/mm.pb-c.h"
#include "lib/err.h"

#define MEMFD_PAGE	4096ULL

/* The NAME of a memfd from the path /proc shows for it ("/memfd:NAME",
 * " (deleted)" stripped as lib/proc.h does), or NULL if path is no memfd's. */
const char *memfd_name_of(const char *path);

/* The names of the images of memfd INO: "memfd-INO.img", "pages-memfd-INO.img". */
void memfd_image_names(uint64_t ino, char *entry, size_t entry_len, char *pages, size_t pages_len);

/* Fills m from the memfd open as fd: size, mode, owner, seals and the data
 * runs (m->data, malloc'd: free with memfd_clear). ino and name are the
 * caller's. */
int memfd_describe(int fd, MemfdEntry *m, struct err *e);
void memfd_clear(MemfdEntry *m);

/* Saves memfd m once per dump: writes pages-memfd-INO.img with its runs,
 * read from fd (the bytes of a last partial page past the size are zero),
 * and memfd-INO.img, under temporary names, then publishes them
 * (memfd_publish). dump-files (a descriptor) and dump-memory (a mapping) may
 * both save one memfd at the same time: the tree is frozen, so both would
 * write the same; the second finds the first's images and drops its own.
 * Returns 1 if this call published them, 0 if they were there already
 * (then nothing is read), <0 on error (its temporary files removed). */
int memfd_save(int dirfd, int fd, const MemfdEntry *m, struct err *e);

/* The temporary name a writer with this pid uses for image 'final':
 * ".tmp.FINAL.PID", which no image kind matches. */
void memfd_tmp_name(const char *final, pid_t pid, char *tmp, size_t len);

/* Publishes the written temporary images tpages and tentry as pages and
 * entry with linkat, which refuses an existing name: the pages first, the
 * entry last, so that an entry says its pages are whole. 1: published; 0:
 * pages existed (another writer's, kept; the caller removes its temporary
 * files); <0: error, with nothing left under the final names. */
int memfd_publish(int dirfd, const char *tentry, const char *tpages, const char *entry, const char *pages,
		  struct err *e);

/* Removes the memfd images' temporary files (left by a writer that was
 * killed) from the images directory, and with tmp_only false the memfd
 * images themselves too (an earlier dump's, which memfd_save would take
 * for this dump's). */
int memfd_remove_images(int dirfd, bool tmp_only, struct err *e);

/* Checks m's runs: page aligned, ascending, apart, inside the size rounded
 * up to a page, and all inside the data_bytes of page data that 'pages'
 * (the pages image's name, for the message) holds. */
int memfd_check(const MemfdEntry *m, const char *pages, uint64_t data_bytes, struct err *e);

/* Reads memfd-INO.img (*out, free with memfd_entry__free_unpacked), checks it
 * against pages-memfd-INO.img and makes the memfd again: memfd_create(name),
 * size, contents, mode, owner, then seals. Returns its fd (O_CLOEXEC). */
int memfd_restore(int dirfd, uint64_t ino, MemfdEntry **out, struct err *e);

#endif
