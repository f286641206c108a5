build/chan/arch/context_amd64.o: arch/context_amd64.c arch/context.h
arch/context.h:
