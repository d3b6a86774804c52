/* memfd: the memfds a tree maps, saved once each by dump-memory and made
 * again by restore-tasks.
 *
 * A memfd's object is described by memfd-INO.img (one MemfdEntry: name, size,
 * seals, mode, owner, and the page runs that hold data, found with
 * SEEK_DATA/SEEK_HOLE so holes cost nothing); the runs' contents follow each
 * other in pages-memfd-INO.img (a raw pages image, images/image.h). INO is
 * the memfd's inode at dump, which the VMAs that map it record too.
 */
#ifndef AMBER_MEMFD_H
#define AMBER_MEMFD_H

#include <stddef.h>
#include <stdint.h>

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

/* Writes memfd-INO.img for m and pages-memfd-INO.img with its runs, read
 * from fd (the bytes of a last partial page past the size are zero). */
int memfd_save(int dirfd, int fd, const MemfdEntry *m, struct err *e);

/* Checks m's runs: page aligned, ascending, apart, inside the size rounded
 * up to a page, and all inside the data_bytes of page data that 'pages'
 * (the pages image's name, for the message) holds. */
int memfd_check(const MemfdEntry *m, const char *pages, uint64_t data_bytes, struct err *e);

/* Reads memfd-INO.img (*out, free with memfd_entry__free_unpacked), checks it
 * against pages-memfd-INO.img and makes the memfd again: memfd_create(name),
 * size, contents, mode, owner, then seals. Returns its fd (O_CLOEXEC). */
int memfd_restore(int dirfd, uint64_t ino, MemfdEntry **out, struct err *e);

#endif
