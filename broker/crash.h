/* broker/crash.h — plugbayd's last words: a crash leaves its signal and a backtrace in the log. */
#ifndef BAY_BROKER_CRASH_H
#define BAY_BROKER_CRASH_H

/* crash_report_install makes SIGSEGV, SIGBUS, SIGILL, SIGFPE and SIGABRT write
 * "plugbayd crashed: signal N (NAME)" and the stack's return addresses (with
 * symbols where plugbayd exports them; addr2line -e plugbayd turns the
 * offsets into lines) to the log and to stderr, then end the process with
 * that signal as before. Not installed in sanitizer builds, whose own
 * reports say more. Call once, after the log is open, on the main thread
 * (the alternate stack is that thread's). */
void crash_report_install(void);

#endif
