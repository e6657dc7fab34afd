#include "kp.h"
int main(void) { return 0; }
