#include "CFuzzerDriver.h"

#include <stddef.h>
#include <stdint.h>

// Both are libFuzzer's interface: the first is in its runtime, the second in each target.
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int qmp_fuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
