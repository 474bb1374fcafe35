/* protocol/proc.h — reading what the kernel says of a process in /proc (and of a cgroup), for the broker, the workers and the bench. */
#ifndef BAY_PROC_H
#define BAY_PROC_H

#include <stdint.h>
#include <sys/types.h>

/* bay__kernel_field reads the number after "field" and sep on a line of the
 * file at path (sep ':' for /proc/PID/status, ' ' for a cgroup's
 * memory.events); -1 when there is none. */
int64_t bay__kernel_field(const char *path, const char *field, char sep);

/* bay__proc_kb reads the "field:" line of /proc/PID/file (pid 0: this
 * process), such as "RssShmem" of "status" or "Pss" of "smaps_rollup", and
 * returns its value in kB; -1 when the file or the field cannot be read. */
int64_t bay__proc_kb(pid_t pid, const char *file, const char *field);

/* bay__proc_memfd_kb adds up the memory allocated to the memfds process pid
 * holds open (each counted once, however many descriptors it has), in kB;
 * -1 when its descriptors cannot be read. */
int64_t bay__proc_memfd_kb(pid_t pid);

/* bay__proc_parent reads the parent and session of pid (0: this process)
 * from /proc/PID/stat, as /proc's PID namespace numbers them (for a worker,
 * plugbayd's, not its own): 0, or an errno (ENOENT: it is going). */
int bay__proc_parent(pid_t pid, pid_t *ppid, pid_t *sid);

/* bay__proc_self is this process's pid as /proc's PID namespace numbers it:
 * for a worker, the pid plugbayd and hosts know it by (getpid() is 1 in its
 * own PID namespace); -1 when /proc cannot tell. */
pid_t bay__proc_self(void);

/* bay__proc_peer is the pid of the process at the other end of connected Unix
 * socket fd, as /proc's PID namespace numbers it (SO_PEERPIDFD, or
 * SO_PEERCRED on kernels before 6.5), so a process outside this one's PID
 * namespace has its real pid; 0 when it cannot be told. */
pid_t bay__proc_peer(int fd);

#endif
