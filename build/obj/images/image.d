build/obj/images/image.o: images/image.c images/image.h lib/err.h \
 lib/frame.h build/gen/images/core.pb-c.h build/gen/images/files.pb-c.h \
 build/gen/images/fs.pb-c.h build/gen/images/inventory.pb-c.h \
 build/gen/images/mm.pb-c.h build/gen/images/pagemap.pb-c.h \
 build/gen/images/pstree.pb-c.h ipc/exitcodes.h lib/cleanup.h
images/image.h:
lib/err.h:
lib/frame.h:
build/gen/images/core.pb-c.h:
build/gen/images/files.pb-c.h:
build/gen/images/fs.pb-c.h:
build/gen/images/inventory.pb-c.h:
build/gen/images/mm.pb-c.h:
build/gen/images/pagemap.pb-c.h:
build/gen/images/pstree.pb-c.h:
ipc/exitcodes.h:
lib/cleanup.h:
