#ifndef C_FUZZER_DRIVER_H
#define C_FUZZER_DRIVER_H

// SwiftPM renames a Swift executable's `main` to `<module>_main` and points the linker's `main`
// at it, which hides the `main` that `-sanitize=fuzzer` links in from libFuzzer. Each fuzz
// target therefore has a main.swift that hands over to libFuzzer through this function, and
// defines the test function libFuzzer calls, `LLVMFuzzerTestOneInput`, with `@_cdecl`.

/// Runs libFuzzer with the process's arguments on `LLVMFuzzerTestOneInput`; returns its exit code.
int qmp_fuzz_main(int argc, char **argv);

#endif
