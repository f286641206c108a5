build/default/netpoll/dial.o: netpoll/dial.c netpoll/../runtime/runtime.h \
 include/gort.h include/gort/chan.h include/gort/time.h \
 include/gort/sync.h include/gort/net.h \
 netpoll/../runtime/../arch/context.h netpoll/../runtime/lock.h \
 netpoll/../runtime/timer.h netpoll/netpoll.h netpoll/../runtime/lock.h \
 netpoll/../runtime/timer.h
netpoll/../runtime/runtime.h:
include/gort.h:
include/gort/chan.h:
include/gort/time.h:
include/gort/sync.h:
include/gort/net.h:
netpoll/../runtime/../arch/context.h:
netpoll/../runtime/lock.h:
netpoll/../runtime/timer.h:
netpoll/netpoll.h:
netpoll/../runtime/lock.h:
netpoll/../runtime/timer.h:
