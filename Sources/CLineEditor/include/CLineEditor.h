#ifndef CLINEEDITOR_H
#define CLINEEDITOR_H

// A thin, run-time binding to libedit's readline-compatible interface.
//
// libedit is BSD-licensed, part of macOS, and installed by default on Debian and Ubuntu
// (libedit2), but its development headers usually are not. So nothing here includes a libedit
// header or links against it: cqmp_le_load() finds the shared library with dlopen and looks up
// the few functions and variables below with dlsym. When it is missing, the caller falls back
// to plain line input.

/// Called with each finished line (malloc'd; the callee frees it), or NULL at end of input.
typedef void (*cqmp_le_line_handler)(char *line);

/// Called on Tab with the word around the cursor and its byte range in the line; returns a
/// NULL-terminated malloc'd array as readline's rl_attempted_completion_function does, or NULL.
typedef char **(*cqmp_le_completer)(const char *text, int start, int end);

/// Loads libedit once. Returns 1 when it is usable, 0 otherwise.
int cqmp_le_load(void);

/// The library that was loaded, or why none was (for diagnostics).
const char *cqmp_le_description(void);

/// Names the program for libedit's configuration (~/.editrc), turns off libedit's own signal
/// handlers, sets whitespace as the only word break, and installs the completer. What the
/// completer returns is final: no match means none, not libedit's fallback to file names.
void cqmp_le_configure(const char *name, cqmp_le_completer completer);

/// Shows `prompt` and starts reading a line one character at a time (the callback interface).
void cqmp_le_install(const char *prompt, cqmp_le_line_handler handler);
/// Stops reading lines; restores the terminal.
void cqmp_le_remove(void);
/// Whether Ctrl-C was pressed while editing since the last call.
int cqmp_le_take_interrupt(void);
/// Reads and handles one character from the terminal; may call the line handler.
void cqmp_le_read_char(void);

/// Changes the prompt of the line being edited (shown at the next redisplay).
void cqmp_le_set_prompt(const char *prompt);
/// Redraws the prompt and the line being edited from the cursor's current row.
void cqmp_le_redisplay(void);

/// The line being edited (valid until the next call into the editor) and the cursor's byte offset.
const char *cqmp_le_line_buffer(void);
int cqmp_le_point(void);

void cqmp_le_add_history(const char *line);
int cqmp_le_read_history(const char *path);
int cqmp_le_write_history(const char *path);
void cqmp_le_stifle_history(int max);

/// Builds the array a completer returns: `count` candidates, already full replacements for the
/// completed word; with several, their longest common prefix comes first. NULL when count is 0.
char **cqmp_le_make_matches(const char *const *candidates, int count);

#endif
