// A nix2dream manager plugin in C: a Procfile (honcho, foreman).
//
// Built against the contract (wit/v0.4.0) with `wit-bindgen c` and clang as
// a wasm32 *reactor* (no main), then made a component by nix2dream:
//
//   wit-bindgen c ../../wit/v0.4.0 --out-dir gen
//   clang --target=wasm32-wasi -mexec-model=reactor -Wl,--no-entry -O2 -I gen \
//     -o c-procfile.core.wasm plugin.c gen/manager.c gen/manager_component_type.o
//   nix2dream plugins componentize c-procfile.core.wasm c-procfile.wasm
//
// Only libc functions that need nothing from the host are used (malloc,
// memcpy, strlen): one fprintf, fopen, time or rand would import WASI,
// and the host refuses a component that imports WASI.

#include <stdlib.h>
#include <string.h>
#ifdef PROCFILE_DEBUG
#include <stdio.h> // what breaks it: see render
#endif

#include "manager.h"

typedef exports_nix2dream_manager_plugin_deployment_t deployment_t;
typedef exports_nix2dream_manager_plugin_service_t service_t;
typedef exports_nix2dream_manager_plugin_diagnostic_t diagnostic_t;

// A growing byte buffer (malloc'd: the bindings free what a call returns).
typedef struct {
    uint8_t *ptr;
    size_t len, cap;
} buf_t;

static void put(buf_t *b, const uint8_t *s, size_t n) {
    if (b->len + n > b->cap) {
        b->cap = (b->len + n) * 2 + 64;
        b->ptr = realloc(b->ptr, b->cap);
        if (!b->ptr) {
            manager_string_t msg;
            manager_string_set(&msg, "c-procfile: out of memory");
            nix2dream_manager_host_report(&msg);
            abort();
        }
    }
    memcpy(b->ptr + b->len, s, n);
    b->len += n;
}

static void puts_(buf_t *b, const char *s) { put(b, (const uint8_t *)s, strlen(s)); }

// A word for sh, in single quotes: ' becomes '\''.
static void put_quoted(buf_t *b, const manager_string_t *s) {
    puts_(b, "'");
    for (size_t i = 0; i < s->len; i++) {
        if (s->ptr[i] == '\'') puts_(b, "'\\''");
        else put(b, &s->ptr[i], 1);
    }
    puts_(b, "'");
}

static int has_newline(const manager_string_t *s) {
    return memchr(s->ptr, '\n', s->len) != NULL;
}

static void some_string(manager_option_string_t *o, const uint8_t *s, size_t n) {
    o->is_some = true;
    manager_string_dup_n(&o->val, (const char *)s, n);
}

void exports_nix2dream_manager_plugin_info(exports_nix2dream_manager_plugin_plugin_info_t *ret) {
    manager_string_dup(&ret->name, "c-procfile");
    manager_string_dup(&ret->version, "0.1.0");
    manager_string_dup(&ret->description, "a Procfile, written by a C plugin");
    // Only what the render honours: the host warns about the rest.
    static const char *supported[] = {"process.argv", "env"};
    ret->supported_options.len = 2;
    ret->supported_options.ptr = malloc(2 * sizeof(manager_string_t));
    for (size_t i = 0; i < 2; i++) manager_string_dup(&ret->supported_options.ptr[i], supported[i]);
    manager_string_dup(&ret->settings_schema, "");
    manager_string_dup(&ret->usage, "cd OUT && honcho start");
    ret->addressing = EXPORTS_NIX2DREAM_MANAGER_PLUGIN_ADDRESSING_LOOPBACK;
}

// A Procfile line cannot hold a newline: refuse the value, naming the
// service and the option (a diagnostic, not a crash).
static bool refuse(const service_t *s, const char *option, exports_nix2dream_manager_plugin_list_diagnostic_t *err) {
    diagnostic_t *d = calloc(1, sizeof(diagnostic_t));
    d->severity = EXPORTS_NIX2DREAM_MANAGER_PLUGIN_SEVERITY_ERROR;
    some_string(&d->service, s->name.ptr, s->name.len);
    some_string(&d->option_name, (const uint8_t *)option, strlen(option));
    manager_string_dup(&d->message, "a Procfile line cannot hold a newline");
    err->ptr = d;
    err->len = 1;
    return false;
}

bool exports_nix2dream_manager_plugin_render(deployment_t *deployment,
                                             exports_nix2dream_manager_plugin_rendered_t *ret,
                                             exports_nix2dream_manager_plugin_list_diagnostic_t *err) {
    buf_t procfile = {0};
    bool ok = true;
#ifdef PROCFILE_DEBUG
    // This one line imports WASI (fd_write): the component is refused.
    fprintf(stderr, "rendering %zu services\n", deployment->services.len);
#endif
    for (size_t i = 0; ok && i < deployment->services.len; i++) {
        const service_t *s = &deployment->services.ptr[i];
        for (size_t a = 0; a < s->argv.len; a++)
            if (has_newline(&s->argv.ptr[a])) { ok = refuse(s, "process.argv", err); break; }
        for (size_t e = 0; ok && e < s->env.len; e++)
            if (has_newline(&s->env.ptr[e].value)) { ok = refuse(s, "env", err); break; }
        if (!ok) break;
        put(&procfile, s->name.ptr, s->name.len);
        puts_(&procfile, ":");
        if (s->env.len) puts_(&procfile, " env");
        for (size_t e = 0; e < s->env.len; e++) {
            puts_(&procfile, " ");
            put(&procfile, s->env.ptr[e].name.ptr, s->env.ptr[e].name.len);
            puts_(&procfile, "=");
            put_quoted(&procfile, &s->env.ptr[e].value);
        }
        for (size_t a = 0; a < s->argv.len; a++) {
            puts_(&procfile, " ");
            put_quoted(&procfile, &s->argv.ptr[a]);
        }
        puts_(&procfile, "\n");
    }
    // The deployment belongs to the plugin once passed in.
    exports_nix2dream_manager_plugin_deployment_free(deployment);
    if (!ok) {
        free(procfile.ptr);
        return false;
    }
    exports_nix2dream_manager_plugin_artifact_t *artifact = calloc(1, sizeof(*artifact));
    artifact->tag = EXPORTS_NIX2DREAM_MANAGER_PLUGIN_ARTIFACT_FILE;
    manager_string_dup(&artifact->val.file.path, "Procfile");
    artifact->val.file.contents.ptr = procfile.ptr;
    artifact->val.file.contents.len = procfile.len;
    artifact->val.file.executable = false;
    ret->artifacts.ptr = artifact;
    ret->artifacts.len = 1;
    ret->diagnostics.ptr = NULL;
    ret->diagnostics.len = 0;
    return true;
}
