/* tab_fp.c — instruction forms of the fp family (to be filled). */
#include "internal.h"

const ia64_opnd_kind ia64_opnds_fp[] = {{0}};
const ia64_insn_desc ia64_tab_fp[] = {{0}};
IA64_TAB_LEN(fp);
