/* tab_sys.c — instruction forms of the sys family (to be filled). */
#include "internal.h"

const ia64_opnd_kind ia64_opnds_sys[] = {{0}};
const ia64_insn_desc ia64_tab_sys[] = {{0}};
IA64_TAB_LEN(sys);
