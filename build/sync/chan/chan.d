build/sync/chan/chan.o: chan/chan.c chan/chan.h include/gort.h \
 include/gort/chan.h include/gort/time.h include/gort/sync.h \
 include/gort/net.h chan/../runtime/runtime.h \
 chan/../runtime/../arch/context.h chan/../runtime/lock.h \
 chan/../runtime/timer.h
chan/chan.h:
include/gort.h:
include/gort/chan.h:
include/gort/time.h:
include/gort/sync.h:
include/gort/net.h:
chan/../runtime/runtime.h:
chan/../runtime/../arch/context.h:
chan/../runtime/lock.h:
chan/../runtime/timer.h:
