/*
 * xstate_shim.c - lets User-Mode Linux 6.1/6.12 run on hosts whose XSAVE
 * area is larger than UML's fixed buffer (AVX-512 and AMX CPUs).
 *
 * UML saves and restores each guest thread's FPU state with
 * ptrace(PTRACE_{GET,SET}REGSET, NT_X86_XSTATE) and a buffer sized for
 * FP+SSE+AVX (832 bytes). The host kernel truncates GETREGSET to that size
 * but rejects a SETREGSET that is not exactly its full XSAVE size with
 * EFAULT, and UML panics ("ptrace set fp regs failed, errno = 14").
 *
 * This library, preloaded into linux.uml only, interposes ptrace() for
 * those two requests: it keeps a full-size copy of the state per UML
 * buffer (one buffer per guest thread), hands UML the prefix it asked
 * for, and on restore writes UML's prefix over the full copy of the same
 * buffer. Every guest thread so keeps its complete vector state (AVX-512,
 * AMX included). Every other ptrace request passes through unchanged.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef long (*ptrace_fn)(int, pid_t, void *, void *);

#define SLOTS 4096 /* guest threads alive at once, far above what a lab uses */

static ptrace_fn real_ptrace;
static size_t full_size;
static struct {
    void *key;
    unsigned char *state;
} slots[SLOTS];

/* The full-size state kept for UML buffer `key`; *created tells a new one. */
static unsigned char *state_for(void *key, int *created)
{
    size_t start = ((uintptr_t)key >> 4) % SLOTS;

    *created = 0;
    for (size_t i = 0; i < SLOTS; i++) {
        size_t j = (start + i) % SLOTS;

        if (slots[j].key == key)
            return slots[j].state;
        if (slots[j].key == NULL) {
            slots[j].state = malloc(full_size);
            if (slots[j].state == NULL)
                return NULL;
            slots[j].key = key;
            *created = 1;
            return slots[j].state;
        }
    }
    return NULL;
}

/* The host's XSAVE size: what GETREGSET reports for an oversized buffer. */
static int learn_full_size(pid_t pid)
{
    static unsigned char probe[1 << 16];
    struct iovec iov = { probe, sizeof probe };

    if (full_size)
        return 0;
    if (real_ptrace(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &iov) < 0)
        return -1;
    full_size = iov.iov_len;
    return 0;
}

long ptrace(enum __ptrace_request request, ...)
{
    va_list ap;
    pid_t pid;
    void *addr, *data;
    struct iovec *caller, full;
    unsigned char *state;
    size_t n;
    int created;

    va_start(ap, request);
    pid = va_arg(ap, pid_t);
    addr = va_arg(ap, void *);
    data = va_arg(ap, void *);
    va_end(ap);

    if (real_ptrace == NULL)
        real_ptrace = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");
    if ((request != PTRACE_GETREGSET && request != PTRACE_SETREGSET) ||
        (uintptr_t)addr != NT_X86_XSTATE)
        return real_ptrace(request, pid, addr, data);

    if (learn_full_size(pid) < 0)
        return -1;
    caller = data;
    n = caller->iov_len < full_size ? caller->iov_len : full_size;
    state = state_for(caller->iov_base, &created);
    if (state == NULL) {
        errno = ENOMEM;
        return -1;
    }
    full.iov_base = state;
    full.iov_len = full_size;

    if (request == PTRACE_GETREGSET) {
        if (real_ptrace(PTRACE_GETREGSET, pid, addr, &full) < 0)
            return -1;
        memcpy(caller->iov_base, state, n);
        caller->iov_len = n;
        return 0;
    }
    /* A buffer UML filled itself (a new thread): start from the live state. */
    if (created && real_ptrace(PTRACE_GETREGSET, pid, addr, &full) < 0)
        return -1;
    memcpy(state, caller->iov_base, n);
    return real_ptrace(PTRACE_SETREGSET, pid, addr, &full);
}
