#include "tools.h"
int ss_cmd_journal(int argc, char **argv) { (void)argc; (void)argv; return 2; }
