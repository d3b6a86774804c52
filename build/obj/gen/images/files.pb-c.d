build/obj/gen/images/files.pb-c.o: build/gen/images/files.pb-c.c \
 build/gen/images/files.pb-c.h
build/gen/images/files.pb-c.h:
