/* tab_alu.c — instruction forms of the alu family (to be filled). */
#include "internal.h"

const ia64_opnd_kind ia64_opnds_alu[] = {{0}};
const ia64_insn_desc ia64_tab_alu[] = {{0}};
IA64_TAB_LEN(alu);
