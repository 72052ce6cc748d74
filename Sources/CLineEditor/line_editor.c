#include "CLineEditor.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

// Function and variable pointers looked up in the library.
static int (*p_rl_initialize)(void);
static void (*p_install)(const char *, cqmp_le_line_handler);
static void (*p_remove)(void);
static void (*p_read_char)(void);
static int (*p_set_prompt)(const char *);
static int (*p_forced_update_display)(void);
static int (*p_add_history)(const char *);
static int (*p_read_history)(const char *);
static int (*p_write_history)(const char *);
static void (*p_stifle_history)(int);
static int (*p_add_defun)(const char *, int (*)(int, int), int);
static char **v_line_buffer;
static int *v_point;
static cqmp_le_completer *v_attempted_completion_function;
static char *(**v_completion_entry_function)(const char *, int);
static int *v_attempted_completion_over;
static const char **v_basic_word_break_characters;
static const char **v_completer_word_break_characters;
static int *v_completion_append_character;
static int *v_catch_signals;
static int *v_catch_sigwinch;
static const char **v_readline_name;

static int state = -1;  // -1 not tried, 0 missing, 1 loaded
static char description[512] = "libedit not loaded";

static const char *const candidates[] = {
#if defined(__APPLE__)
    "libedit.3.dylib",
    "libedit.dylib",
    "/usr/lib/libedit.3.dylib",
#else
    "libedit.so.2",
    "libedit.so.0",
    "libedit.so",
#endif
    NULL,
};

#define LOOKUP(handle, pointer, name)                     \
    do {                                                  \
        *(void **)(&pointer) = dlsym(handle, name);       \
        if (pointer == NULL) {                            \
            missing = name;                               \
        }                                                 \
    } while (0)

int cqmp_le_load(void) {
    if (state >= 0) {
        return state;
    }
    state = 0;
    void *handle = NULL;
    const char *loaded = NULL;
    for (int i = 0; candidates[i] != NULL && handle == NULL; i++) {
        handle = dlopen(candidates[i], RTLD_NOW | RTLD_LOCAL);
        loaded = candidates[i];
    }
    if (handle == NULL) {
        strncpy(description, "libedit was not found (Debian/Ubuntu: apt-get install libedit2)", sizeof description - 1);
        return 0;
    }
    const char *missing = NULL;
    LOOKUP(handle, p_rl_initialize, "rl_initialize");
    LOOKUP(handle, p_install, "rl_callback_handler_install");
    LOOKUP(handle, p_remove, "rl_callback_handler_remove");
    LOOKUP(handle, p_read_char, "rl_callback_read_char");
    LOOKUP(handle, p_set_prompt, "rl_set_prompt");
    LOOKUP(handle, p_forced_update_display, "rl_forced_update_display");
    LOOKUP(handle, p_add_history, "add_history");
    LOOKUP(handle, p_read_history, "read_history");
    LOOKUP(handle, p_write_history, "write_history");
    LOOKUP(handle, p_stifle_history, "stifle_history");
    LOOKUP(handle, p_add_defun, "rl_add_defun");
    LOOKUP(handle, v_line_buffer, "rl_line_buffer");
    LOOKUP(handle, v_point, "rl_point");
    LOOKUP(handle, v_attempted_completion_function, "rl_attempted_completion_function");
    LOOKUP(handle, v_basic_word_break_characters, "rl_basic_word_break_characters");
    LOOKUP(handle, v_completion_append_character, "rl_completion_append_character");
    LOOKUP(handle, v_readline_name, "rl_readline_name");
    if (missing != NULL) {
        snprintf(description, sizeof description, "%s lacks %s", loaded, missing);
        dlclose(handle);
        return 0;
    }
    // Optional: not every version has these.
    *(void **)(&v_completer_word_break_characters) = dlsym(handle, "rl_completer_word_break_characters");
    *(void **)(&v_catch_signals) = dlsym(handle, "rl_catch_signals");
    *(void **)(&v_catch_sigwinch) = dlsym(handle, "rl_catch_sigwinch");
    *(void **)(&v_completion_entry_function) = dlsym(handle, "rl_completion_entry_function");
    *(void **)(&v_attempted_completion_over) = dlsym(handle, "rl_attempted_completion_over");
    snprintf(description, sizeof description, "%s", loaded);
    state = 1;
    return 1;
}

const char *cqmp_le_description(void) { return description; }

static volatile int interrupt_pressed;

// libedit reads Ctrl-C as a key in its raw mode (no SIGINT), bound to a function that does
// nothing; this one notes it for cqmp_le_take_interrupt().
static int on_interrupt_key(int count, int key) {
    (void)count;
    (void)key;
    interrupt_pressed = 1;
    return 0;
}

// The entry function readline and libedit call when the completer found nothing: none at all
// means file names, which are wrong almost everywhere in a QMP line (the completer offers them
// itself where an argument is a path).
static char *no_more_matches(const char *text, int state) {
    (void)text;
    (void)state;
    return NULL;
}

static cqmp_le_completer swift_completer;

// Tells the editor, on every Tab, that the completer's answer is final, even when empty.
static char **complete_without_fallback(const char *text, int start, int end) {
    if (v_attempted_completion_over != NULL) {
        *v_attempted_completion_over = 1;
    }
    return swift_completer(text, start, end);
}

int cqmp_le_take_interrupt(void) {
    int pressed = interrupt_pressed;
    interrupt_pressed = 0;
    return pressed;
}

void cqmp_le_configure(const char *name, cqmp_le_completer completer) {
    static char *saved_name;
    free(saved_name);
    saved_name = strdup(name);
    *v_readline_name = saved_name;
    if (v_catch_signals != NULL) {
        *v_catch_signals = 0;
    }
    p_rl_initialize();
    // Only whitespace separates words: `query-`, `a.b=` and `/machine/peripheral` are one word.
    *v_basic_word_break_characters = " \t\n";
    if (v_completer_word_break_characters != NULL) {
        *v_completer_word_break_characters = " \t\n";
    }
    swift_completer = completer;
    *v_attempted_completion_function = complete_without_fallback;
    if (v_completion_entry_function != NULL) {
        *v_completion_entry_function = no_more_matches;
    }
    p_add_defun("qmp-interrupt", on_interrupt_key, 3);
    // The completer adds the space after a finished word itself.
    *v_completion_append_character = 0;
}

void cqmp_le_install(const char *prompt, cqmp_le_line_handler handler) { p_install(prompt, handler); }
void cqmp_le_remove(void) { p_remove(); }
void cqmp_le_read_char(void) {
    *v_completion_append_character = 0;
    p_read_char();
}
void cqmp_le_set_prompt(const char *prompt) { p_set_prompt(prompt); }
void cqmp_le_redisplay(void) { p_forced_update_display(); }
const char *cqmp_le_line_buffer(void) { return *v_line_buffer != NULL ? *v_line_buffer : ""; }
int cqmp_le_point(void) { return *v_point; }
void cqmp_le_add_history(const char *line) { p_add_history(line); }
int cqmp_le_read_history(const char *path) { return p_read_history(path); }
int cqmp_le_write_history(const char *path) { return p_write_history(path); }
void cqmp_le_stifle_history(int max) { p_stifle_history(max); }

char **cqmp_le_make_matches(const char *const *words, int count) {
    if (count <= 0) {
        return NULL;
    }
    char **matches = calloc((size_t)count + 2, sizeof(char *));
    if (matches == NULL) {
        return NULL;
    }
    if (count == 1) {
        matches[0] = strdup(words[0]);
        return matches;
    }
    size_t prefix = strlen(words[0]);
    for (int i = 1; i < count; i++) {
        size_t j = 0;
        while (j < prefix && words[i][j] == words[0][j]) {
            j++;
        }
        prefix = j;
    }
    matches[0] = strndup(words[0], prefix);
    for (int i = 0; i < count; i++) {
        matches[i + 1] = strdup(words[i]);
    }
    return matches;
}
