/* tab_mem.c — instruction forms of the mem family (to be filled). */
#include "internal.h"

const ia64_opnd_kind ia64_opnds_mem[] = {{0}};
const ia64_insn_desc ia64_tab_mem[] = {{0}};
IA64_TAB_LEN(mem);
