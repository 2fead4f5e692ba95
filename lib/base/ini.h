/* ini.h: the reader for systemd unit-file syntax that recipes (and later profiles) use:
 * sections, Key=Value, comments, backslash continuation, Include= and NAME.d/ drop-ins. */
#pragma once

#include "util.h"

enum ini_event_type {
        INI_FILE,       /* a file is about to be read */
        INI_SECTION,    /* [Section] header */
        INI_ASSIGNMENT, /* Key=Value inside a section */
};

struct ini_event {
        enum ini_event_type type;
        const char *file;    /* as the user would name it: relative paths stay relative */
        unsigned line;
        const char *section; /* NULL for INI_FILE */
        const char *key;     /* INI_ASSIGNMENT only */
        const char *value;   /* INI_ASSIGNMENT only, whitespace stripped */
};

typedef int (*ini_handler_t)(const struct ini_event *event, void *userdata, struct ingot_error *err);

/* Reads path, then every path.d/ *.conf drop-in in lexical order, calling handler for each event.
 * Include=FILE (relative to the including file) is read in place, in any section. */
int ini_parse(const char *path, ini_handler_t handler, void *userdata, struct ingot_error *err);
