#!/bin/sh
# format.sh fix|check: clang-format every C source the project owns.
set -eu
mode=${1:-check}
files=$(git ls-files '*.c' '*.h' | grep -v -e '^tests/fuzz/corpus/' -e '\.pb-c\.' || true)
[ -n "$files" ] || exit 0
if [ "$mode" = fix ]; then
    echo "$files" | xargs clang-format -i
else
    echo "$files" | xargs clang-format --dry-run --Werror
fi
