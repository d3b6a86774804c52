build/obj/gen/images/pstree.pb-c.o: build/gen/images/pstree.pb-c.c \
 build/gen/images/pstree.pb-c.h
build/gen/images/pstree.pb-c.h:
