/* tab_mm.c — instruction forms of the mm family (to be filled). */
#include "internal.h"

const ia64_opnd_kind ia64_opnds_mm[] = {{0}};
const ia64_insn_desc ia64_tab_mm[] = {{0}};
IA64_TAB_LEN(mm);
