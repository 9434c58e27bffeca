/* tab_br.c — instruction forms of the br family (to be filled). */
#include "internal.h"

const ia64_opnd_kind ia64_opnds_br[] = {{0}};
const ia64_insn_desc ia64_tab_br[] = {{0}};
IA64_TAB_LEN(br);
