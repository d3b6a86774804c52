build/obj/gen/images/stream.pb-c.o: build/gen/images/stream.pb-c.c \
 build/gen/images/stream.pb-c.h build/gen/images/pstree.pb-c.h
build/gen/images/stream.pb-c.h:
build/gen/images/pstree.pb-c.h:
