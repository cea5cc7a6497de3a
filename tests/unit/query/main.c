#include "tests.h"

int main(void)
{
    int failed = 0;
    failed += test_eval_run();
    return failed ? 1 : 0;
}
