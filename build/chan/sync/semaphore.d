build/chan/sync/semaphore.o: sync/semaphore.c sync/sema.h \
 include/gort/sync.h sync/../runtime/runtime.h include/gort.h \
 include/gort/chan.h include/gort/time.h include/gort/net.h \
 sync/../runtime/../arch/context.h sync/../runtime/lock.h \
 sync/../runtime/timer.h
sync/sema.h:
include/gort/sync.h:
sync/../runtime/runtime.h:
include/gort.h:
include/gort/chan.h:
include/gort/time.h:
include/gort/net.h:
sync/../runtime/../arch/context.h:
sync/../runtime/lock.h:
sync/../runtime/timer.h:
