build/obj/gen/images/fs.pb-c.o: build/gen/images/fs.pb-c.c \
 build/gen/images/fs.pb-c.h
build/gen/images/fs.pb-c.h:
