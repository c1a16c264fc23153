/* libmodel tests: the public header compiles as C++ and its functions link under their C
 * names (the extern "C" guards), as a C++ program or a Python extension would use them. */
#include "model.h"

int main()
{
    model_settings s;
    model_default_settings(&s);
    model_strategy st = MODEL_SAMPLE_RANDOM;
    int ok = model_strategy_parse("block", &st, nullptr, 0) == MODEL_OK &&
             st == MODEL_SAMPLE_BLOCK && s.config.d == 128 &&
             model_errmsg(nullptr)[0] != 0;
    return ok ? 0 : 1;
}
