/* protocol/proc.h — reading what the kernel says of a process in /proc, for the broker, the workers and the bench. */
#ifndef BAY_PROC_H
#define BAY_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* bay_proc_kb reads the "field:" line of /proc/PID/file (pid 0: this
 * process), such as "RssShmem" of "status" or "Pss" of "smaps_rollup", and
 * returns its value in kB; -1 when the file or the field cannot be read. */
int64_t bay_proc_kb(pid_t pid, const char *file, const char *field);

/* bay_proc_memfd_kb adds up the memory allocated to the memfds process pid
 * holds open (each counted once, however many descriptors it has), in kB;
 * -1 when its descriptors cannot be read. */
int64_t bay_proc_memfd_kb(pid_t pid);

#endif
