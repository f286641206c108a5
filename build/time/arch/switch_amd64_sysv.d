build/time/arch/switch_amd64_sysv.o: arch/switch_amd64_sysv.S \
 arch/context.h
arch/context.h:
