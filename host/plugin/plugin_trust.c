/* Plugin trust: nothing here dlopens or executes anything.  The ownership
 * rule is what makes checking-then-dlopen'ing the same path safe: when only
 * root and we can write the file and every directory above it, nobody else
 * can swap the file between the check and the dlopen. */
#include "plugin_trust.h"

#include <sluice/sluice.h>

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#if UINTPTR_MAX > 0xffffffffu
typedef Elf64_Ehdr ehdr_t;
typedef Elf64_Phdr phdr_t;
#define SL_ELFCLASS ELFCLASS64
#else
typedef Elf32_Ehdr ehdr_t;
typedef Elf32_Phdr phdr_t;
#define SL_ELFCLASS ELFCLASS32
#endif

/* What a healthy plugin never exceeds; anything bigger is not looked at. */
#define MAX_NOTE_SEGMENT (64u * 1024u)
#define MAX_PHNUM 4096u

/* Why the mode or owner of one path is not acceptable, or NULL. */
static const char *bad_owner_or_mode(const struct stat *st, int ancestor, uid_t me)
{
    if (st->st_uid != 0 && st->st_uid != me)
        return "owner";
    if (st->st_mode & (S_IWGRP | S_IWOTH)) {
        /* A root-owned sticky ancestor (/tmp): others may add entries to it
         * but not rename or remove ours. */
        if (ancestor && S_ISDIR(st->st_mode) && (st->st_mode & S_ISVTX) && st->st_uid == 0)
            return NULL;
        return "mode";
    }
    return NULL;
}

static int describe(const char *what, const char *path, const struct stat *st, const char *why,
                    uid_t me, char *err, size_t errlen)
{
    if (strcmp(why, "owner") == 0)
        snprintf(err, errlen,
                 "%s \"%s\" is owned by uid %ld, not by root or the user running sluice "
                 "(uid %ld); plugins are only loaded from files and directories that "
                 "nobody else controls: chown it, or move the plugin elsewhere",
                 what, path, (long)st->st_uid, (long)me);
    else
        snprintf(err, errlen,
                 "%s \"%s\" is writable by %s (mode %04o); plugins are only loaded from "
                 "files and directories that nobody else can write: run chmod go-w \"%s\"",
                 what, path, (st->st_mode & S_IWOTH) ? "others" : "its group",
                 (unsigned)(st->st_mode & 07777), path);
    return -1;
}

int sl_trust_dir(const char *dir, char *err, size_t errlen)
{
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s", dir) >= (int)sizeof p || p[0] != '/') {
        snprintf(err, errlen, "directory \"%s\": not an absolute path", dir);
        return -1;
    }
    uid_t me = geteuid();
    int ancestor = 0;
    for (;;) {
        struct stat st;
        const char *shown = p[0] ? p : "/";
        if (lstat(shown, &st) != 0) {
            snprintf(err, errlen, "directory \"%s\": %s", shown, strerror(errno));
            return -1;
        }
        if (!S_ISDIR(st.st_mode)) {
            snprintf(err, errlen, "\"%s\" is not a directory", shown);
            return -1;
        }
        const char *why = bad_owner_or_mode(&st, ancestor, me);
        if (why)
            return describe("directory", shown, &st, why, me, err, errlen);
        if (p[0] == '\0' || strcmp(p, "/") == 0)
            return 0;
        char *slash = strrchr(p, '/');
        *slash = '\0'; /* "/a/b" -> "/a"; "/a" -> "" which stands for "/" */
        ancestor = 1;
    }
}

int sl_trust_file(int fd, const char *real, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(err, errlen, "cannot stat: %s", strerror(errno));
        return -1;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        return -1;
    }
    uid_t me = geteuid();
    const char *why = bad_owner_or_mode(&st, 0, me);
    if (why)
        return describe("file", real, &st, why, me, err, errlen);
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", real);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        snprintf(err, errlen, "not an absolute path");
        return -1;
    }
    if (slash == dir)
        slash[1] = '\0';
    else
        *slash = '\0';
    return sl_trust_dir(dir, err, errlen);
}

static int read_at(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    return 0;
}

/* The machine this host runs on, from its own executable's header. */
static int host_machine(void)
{
    static int m = -1;
    if (m >= 0)
        return m;
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    ehdr_t h;
    if (fd >= 0 && read_at(fd, &h, sizeof h, 0) == 0)
        m = h.e_machine;
    if (fd >= 0)
        close(fd);
    return m;
}

static uint64_t align_up(uint64_t v, uint64_t a) { return (v + a - 1) & ~(a - 1); }

/* Walks the notes of one segment held in buf; 1 when ours was found. */
static int scan_notes(const unsigned char *buf, uint64_t len, uint64_t align, int *major,
                      int *minor)
{
    uint64_t off = 0;
    while (len - off >= 12) {
        uint32_t w[3];
        memcpy(w, buf + off, sizeof w);
        uint64_t namesz = w[0], descsz = w[1], type = w[2];
        uint64_t name_off = off + 12;
        uint64_t desc_off = name_off + align_up(namesz, align);
        uint64_t next = desc_off + align_up(descsz, align);
        if (desc_off > len || next > len || next <= off)
            return 0; /* truncated or malformed: stop, nothing trusted from it */
        if (type == SLUICE_NOTE_TYPE && namesz == sizeof SLUICE_NOTE_NAME &&
            memcmp(buf + name_off, SLUICE_NOTE_NAME, sizeof SLUICE_NOTE_NAME) == 0 &&
            descsz >= 16) {
            uint32_t d[4];
            memcpy(d, buf + desc_off, sizeof d);
            if (d[0] == SLUICE_NOTE_MAGIC && d[1] <= INT_MAX && d[2] <= INT_MAX) {
                *major = (int)d[1];
                *minor = (int)d[2];
                return 1;
            }
        }
        off = next;
    }
    return 0;
}

int sl_elf_abi_note(int fd, int *major, int *minor, char *err, size_t errlen)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(err, errlen, "not a regular file");
        return -1;
    }
    uint64_t size = (uint64_t)st.st_size;
    ehdr_t h;
    if (size < sizeof h || read_at(fd, &h, sizeof h, 0) != 0 ||
        memcmp(h.e_ident, ELFMAG, SELFMAG) != 0) {
        snprintf(err, errlen, "not an ELF shared object");
        return -1;
    }
    const unsigned char data =
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
        ELFDATA2LSB;
#else
        ELFDATA2MSB;
#endif
    if (h.e_ident[EI_CLASS] != SL_ELFCLASS || h.e_ident[EI_DATA] != data ||
        h.e_type != ET_DYN || (host_machine() >= 0 && h.e_machine != host_machine())) {
        snprintf(err, errlen, "an ELF file for another machine or not a shared object "
                              "(class %u, data %u, type %u, machine %u)",
                 (unsigned)h.e_ident[EI_CLASS], (unsigned)h.e_ident[EI_DATA],
                 (unsigned)h.e_type, (unsigned)h.e_machine);
        return -1;
    }
    if (h.e_phentsize != sizeof(phdr_t) || h.e_phnum == 0 || h.e_phnum > MAX_PHNUM ||
        h.e_phoff > size || (uint64_t)h.e_phnum * sizeof(phdr_t) > size - h.e_phoff) {
        snprintf(err, errlen, "malformed ELF program headers");
        return -1;
    }
    size_t phbytes = (size_t)h.e_phnum * sizeof(phdr_t);
    phdr_t *ph = malloc(phbytes);
    unsigned char *seg = malloc(MAX_NOTE_SEGMENT);
    int found = 0;
    if (!ph || !seg || read_at(fd, ph, phbytes, h.e_phoff) != 0) {
        snprintf(err, errlen, ph && seg ? "cannot read the ELF program headers"
                                        : "out of memory");
        found = -1;
    }
    for (size_t i = 0; found == 0 && i < h.e_phnum; i++) {
        if (ph[i].p_type != PT_NOTE)
            continue;
        uint64_t off = ph[i].p_offset, len = ph[i].p_filesz;
        if (len == 0 || len > MAX_NOTE_SEGMENT || off > size || len > size - off)
            continue;
        if (read_at(fd, seg, (size_t)len, off) != 0)
            continue;
        found = scan_notes(seg, len, ph[i].p_align == 8 ? 8 : 4, major, minor);
    }
    free(ph);
    free(seg);
    return found;
}
