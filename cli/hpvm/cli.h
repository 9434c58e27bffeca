/* cli.h — the hpvm command set: hpvmcreate, hpvmmodify, hpvmclone, hpvmremove, hpvmstart,
 * hpvmstop, hpvmstatus, hpvminfo, hpvmconsole and hpvmdevmgmt, as one multi-call binary
 * (`hpvm`, with the hpvm* names as links to it, and `hpvm create ...` as well).
 *
 * The commands speak HP Integrity VM's option letters and print its tables; they talk to the
 * host's hpvmd through cli/hpvmd/hpvmd_client.h, one request (proto/control.proto) per step.
 * Everything that can be a pure function is one, so tests drive it without a daemon:
 * option scanning and the VM options (-O -c -r -e/-E -a -d -m -l -B -x -K -A), resource
 * specs and their bus/slot/target assignment (devspec.c), the hpvmstatus formats
 * (format.c), the vMP console menu (vmp.c). The commands themselves (cmds.c) reach hpvmd
 * through a cli_transport the caller supplies, so a test can stand in for the daemon.
 *
 * Errors: functions return 0 or a negative HPVM_E* code and put one line in the caller's
 * why buffer (what is wrong, what to do); only main() exits. Nothing here is global. */
#ifndef HPVM_CLI_H
#define HPVM_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "control.pb-c.h"
#include "hpvm_error.h"

#define CLI_WHY 512                    /* room for one error line */

/* ---- HPVM limits and defaults ----------------------------------------------------------------- */

#define CLI_DEFAULT_VCPUS 1
#define CLI_DEFAULT_ENTITLEMENT 10     /* percent of a host core per vCPU */
#define CLI_DEFAULT_MEMORY (2ull << 30)
#define CLI_MIN_MEMORY (32ull << 20)
#define CLI_MAX_VCPUS 64               /* the virtual platform's limit (hypervisor/vm.h) */
#define CLI_MAX_DEVICES 158            /* storage + network, with AVIO */
#define CLI_MAX_NON_AVIO 30            /* devices on the emulated scsi adapter and lan NICs */
#define CLI_LABEL_MAX 255
#define CLI_CMDLINE_MAX 1024
#define CLI_PCI_BUSES 8                /* bus 0-7 (scsi: 0-6) */
#define CLI_PCI_SLOTS 8                /* slot 0-7 on each bus */
#define CLI_AVIO_TARGETS 128           /* avio_stor targets 0-127 per adapter */
#define CLI_SCSI_TARGETS 15            /* scsi targets 0-14 (15 is the adapter's own) */

/* What the host offers; create and modify refuse what it cannot give. */
typedef struct cli_host {
  uint32_t cpus;                       /* 0: unknown, not checked */
  uint64_t memory_bytes;               /* 0: unknown, not checked */
  uint32_t core_mhz;                   /* a host core's clock (-E); 0: unknown, not checked */
} cli_host;

/* This machine's core clock in MHz (cpufreq's maximum, else /proc/cpuinfo); 0 if unknown. */
uint32_t cli_host_core_mhz(void);

/* ---- Small pieces (util.c) -------------------------------------------------------------------- */

/* "2048" (in units of unit bytes), "512M", "2G", "1T", "4096K" (also "MB", "GiB"...).
 * HPVM_EINVAL when it is not a size, HPVM_ERANGE when it overflows. */
int cli_parse_size(const char *s, uint64_t unit, uint64_t *out);
/* A non-negative decimal that fits in 32 bits; false otherwise. */
bool cli_parse_u32(const char *s, uint32_t *out);
/* "2 GB" when whole gigabytes, else "512 MB" (HPVM's Memory column). */
void cli_format_memory(uint64_t bytes, char *buf, size_t len);

int cli_os_parse(const char *s);           /* HPVM__VM_OS_TYPE__*, 0 when unknown */
const char *cli_os_name(int os);           /* "HPUX", "LINUX", ... */

/* Replace a protobuf string field with a copy of v (the old one freed unless it is the
 * shared empty string). HPVM_ENOMEM. */
int cli_str_set(char **field, const char *v);
/* A heap VmConfig with every submessage heap-allocated, so protobuf_c_message_free_unpacked
 * frees it: new, deep copy, free. */
Hpvm__VmConfig *cli_vm_new(void);
Hpvm__VmConfig *cli_vm_copy(const Hpvm__VmConfig *src);
void cli_vm_free(Hpvm__VmConfig *cfg);
Hpvm__VmStorageDevice *cli_dev_copy(const Hpvm__VmStorageDevice *d);
Hpvm__VmNetwork *cli_net_copy(const Hpvm__VmNetwork *n);
/* The value of attribute key, or NULL. */
const char *cli_vm_attr(const Hpvm__VmConfig *cfg, const char *key);
/* Set (or with value NULL remove) an attribute. HPVM_ENOMEM. */
int cli_vm_attr_set(Hpvm__VmConfig *cfg, const char *key, const char *value);

/* JSON text: a string with its quotes and escapes. */
void cli_json_str(FILE *f, const char *s);

/* ---- Option scanning (opts.c) ----------------------------------------------------------------- */

/* A getopt without global state. spec lists the letters, a ':' after one that takes a value
 * (HPVM style: "-P name" or "-Pname"). Long options: --help and --json, returned as
 * CLI_OPT_HELP and CLI_OPT_JSON. Arguments that are not options (after "--" too) come back
 * as CLI_OPT_ARG with arg set. */
enum { CLI_OPT_END = 0, CLI_OPT_ERR = -1, CLI_OPT_HELP = 1000, CLI_OPT_JSON, CLI_OPT_ARG };
typedef struct cli_optscan {
  int argc;
  char **argv;
  const char *spec;
  int i;                               /* next argv index */
  const char *cluster;                 /* rest of a "-abc" cluster */
  bool no_more;                        /* after "--" */
  const char *arg;                     /* value of the option returned */
  char why[CLI_WHY];
} cli_optscan;
void cli_optscan_init(cli_optscan *s, int argc, char **argv, const char *spec);
int cli_optscan_next(cli_optscan *s);

/* The VM options shared by hpvmcreate, hpvmmodify and hpvmclone, collected in command-line
 * order and applied later (devices need the configuration they join). */
enum {
  CLI_SET_OS = 1u << 0, CLI_SET_VCPUS = 1u << 1, CLI_SET_MEMORY = 1u << 2,
  CLI_SET_ENTITLEMENT = 1u << 3, CLI_SET_LABEL = 1u << 4, CLI_SET_BOOT = 1u << 5,
  CLI_SET_ATTRS = 1u << 6, CLI_SET_KERNEL = 1u << 7, CLI_SET_CMDLINE = 1u << 8,
  CLI_SET_DEVICES = 1u << 9, CLI_SET_NETWORKS = 1u << 10, CLI_SET_RUNNABLE = 1u << 11,
};
typedef struct cli_devop {
  char op;                             /* 'a' add, 'd' delete, 'm' modify */
  char *spec;
} cli_devop;
typedef struct cli_vmopts {
  unsigned set;                        /* CLI_SET_* given on the command line */
  int os_type;
  uint32_t vcpus;
  uint64_t memory_bytes;
  int ent_unit;                        /* HPVM__VM_ENTITLEMENT__UNIT__* */
  uint32_t ent_value, ent_max;
  char *label;
  int boot;                            /* HPVM__VM_BOOT_MODE__* */
  struct { char *key, *value; } *attrs;
  size_t nattrs;
  bool not_runnable;                   /* -x runnable_status=disabled */
  char *kernel;
  char *cmdline;
  cli_devop *devops;
  size_t ndevops;
} cli_vmopts;
void cli_vmopts_init(cli_vmopts *o);
void cli_vmopts_free(cli_vmopts *o);
/* Take one of the shared options (letter opt with value arg): O c r e E a d m l B x K A.
 * Syntax is checked here; the rest when applied. HPVM_EINVAL/ERANGE with why. */
int cli_vmopts_take(cli_vmopts *o, int opt, const char *arg, char *why, size_t whylen);
/* Apply the options to cfg: the scalar fields, then the device operations in order
 * (parse, backing checks, address assignment). names (if not NULL) collects the top-level
 * VmConfig field names that changed, for ModifyVmRequest.fields. others are the other VMs
 * of the shared directory (a backing store one of them uses is refused), may be NULL.
 * HPVM_EINVAL/ERANGE/NOENT/EEXIST/ENOTSUP with why; cfg may be half-changed on failure
 * (callers work on a copy). */
int cli_vmopts_apply(const cli_vmopts *o, Hpvm__VmConfig *cfg, const cli_host *host,
                     Hpvm__VmStatus *const *others, size_t nothers, char ***names,
                     size_t *nnames, char *why, size_t whylen);
/* A new configuration with HPVM's defaults (1 vCPU, 10 % entitlement, 2 GB, OS UNKNOWN,
 * boot auto) and the options applied. */
int cli_vmopts_create(const cli_vmopts *o, const char *name, const cli_host *host,
                      Hpvm__VmStatus *const *others, size_t nothers, Hpvm__VmConfig **out,
                      char *why, size_t whylen);
/* Check the whole configuration against the host and HPVM's limits (what create and
 * modify refuse). */
int cli_vm_check(const Hpvm__VmConfig *cfg, const cli_host *host, char *why, size_t whylen);
void cli_names_free(char **names, size_t n);

/* ---- Resource specs (devspec.c) --------------------------------------------------------------- */

/* One -a/-d/-m/-b resource, parsed:
 *   storage  type:adapter:[bus,slot[,target]]:storage:location
 *            type disk|dvd (tape, changer, burner: refused), adapter avio_stor|scsi,
 *            storage file|disk|lv|null
 *   network  network:adapter:[bus,slot[,mac]]:vswitch:name[:portid:n]
 *            adapter avio_lan|lan (the address field may be left out altogether) */
typedef struct cli_spec {
  bool is_net;
  Hpvm__VmStorageDevice *dev;                 /* storage (heap, owned) */
  Hpvm__VmNetwork *net;                /* network (heap, owned) */
  bool has_bus;                        /* bus,slot given */
  bool has_target;                     /* storage: target given */
  bool has_mac;                        /* network: mac given */
} cli_spec;
/* Syntax only. HPVM_EINVAL ("resource spec 'x': ..."), HPVM_ENOTSUP for device types hpvm
 * cannot offer. */
int cli_spec_parse(const char *text, cli_spec *out, char *why, size_t whylen);
void cli_spec_free(cli_spec *s);
/* The backing store exists and fits: a disk file is a regular file of non-zero size, a
 * multiple of 512 bytes (create one with hpvmdevmgmt -S); disk: and lv: are block devices;
 * a dvd file is a readable regular file; null: only for dvd. HPVM_ENOENT/EINVAL. */
int cli_spec_check_backing(const cli_spec *s, char *why, size_t whylen);
/* Add the device to cfg: the address the spec gives, or one assigned as HPVM does (a
 * storage device joins the first adapter of its kind with a free target, else a new
 * adapter in the first free slot from bus 0 slot 2 on; a NIC takes the first free slot from
 * bus 0 slot 0; a MAC is generated when none is given). Refuses a taken address, a slot
 * holding another adapter, the same backing store twice, and more devices than HPVM allows.
 * Takes ownership of the spec's message on success. */
int cli_devices_add(Hpvm__VmConfig *cfg, cli_spec *s, char *why, size_t whylen);
/* Remove the device a spec names (by address when given, else by backing store or for a
 * NIC by vswitch). HPVM_ENOENT when none matches, HPVM_EINVAL when several do. */
int cli_devices_delete(Hpvm__VmConfig *cfg, const cli_spec *s, char *why, size_t whylen);
/* Change the device at the spec's address (required) to the spec's backing or vswitch. */
int cli_devices_modify(Hpvm__VmConfig *cfg, cli_spec *s, char *why, size_t whylen);
/* Number of non-AVIO devices (scsi storage and lan NICs). */
size_t cli_devices_non_avio(const Hpvm__VmConfig *cfg);
/* The spec text for a device or NIC as hpvmstatus -d prints it. */
void cli_dev_spec(const Hpvm__VmStorageDevice *d, char *buf, size_t len);
void cli_net_spec(const Hpvm__VmNetwork *n, char *buf, size_t len);
const char *cli_devtype_name(int type);    /* "disk", "dvd", ... */
const char *cli_backing_name(int backing); /* "file", "disk", "lv", "null" */
/* "0x56E9E3096A22" (stored form) -> "56-e9-e3-09-6a-22" (hpvmstatus -P form). */
void cli_mac_dashes(const char *mac, char *buf, size_t len);
/* A random locally administered unicast MAC in stored form. */
void cli_mac_generate(char out[15]);

/* ---- hpvmstatus formats (format.c) ------------------------------------------------------------ */

/* The State column: "On (OS)", "On (EFI)", "Off", "Off (NR)", "Crash", "Invalid", ... */
const char *cli_state_name(const Hpvm__VmStatus *vm);
/* The XML vm_state: "On", "Off", "Invalid". */
const char *cli_state_word(const Hpvm__VmStatus *vm);
/* [Virtual Machines] table. local_host: this host's name (Runsysid 0 for its guests). */
void cli_fmt_table(FILE *f, Hpvm__VmStatus *const *vms, size_t n, const char *local_host);
/* hpvmstatus -P: the detail sections; verbose adds the -V fields. */
void cli_fmt_detail(FILE *f, const Hpvm__VmStatus *vm, bool verbose, const char *local_host);
/* hpvmstatus -M: one colon-separated line per VM (see docs/man/hpvmstatus.md). */
void cli_fmt_machine(FILE *f, const Hpvm__VmStatus *vm, const char *local_host);
/* hpvmstatus -X. */
void cli_fmt_xml(FILE *f, Hpvm__VmStatus *const *vms, size_t n, const char *local_host);
/* hpvmstatus -d: the devices as resource specs. */
void cli_fmt_devspecs(FILE *f, const Hpvm__VmStatus *vm);
/* --json. */
void cli_fmt_json_vm(FILE *f, const Hpvm__VmStatus *vm, const char *local_host);
void cli_fmt_json_list(FILE *f, Hpvm__VmStatus *const *vms, size_t n, const char *local_host);
void cli_fmt_json_host(FILE *f, const Hpvm__HostInfo *h);

/* ---- hpvmdevmgmt (devmgmt.c) ------------------------------------------------------------------ */

/* Create path as a sparse file of size bytes (a multiple of 512): refused when it exists;
 * written to disk (file and directory fsynced) before success; removed again on failure. */
int cli_sparse_create(const char *path, uint64_t size, char *why, size_t whylen);

/* ---- The vMP console menu (vmp.c) ------------------------------------------------------------- */

/* hpvmconsole's virtual MP: a state machine fed the operator's keystrokes. It writes what
 * the operator sees to out and asks its owner to act through cli_vmp_ops; it never does
 * I/O of its own, so tests feed it strings. States: MAIN (the vMP> prompt), CM (the
 * vMP:CM> command prompt), CO (keystrokes go to the guest until Ctrl-B), CONFIRM (a y/n
 * question), DONE (X or the end). */
typedef enum cli_vmp_state {
  CLI_VMP_INVALID = 0,
  CLI_VMP_MAIN,
  CLI_VMP_CM,
  CLI_VMP_CO,
  CLI_VMP_CONFIRM,
  CLI_VMP_DONE,
} cli_vmp_state;

enum cli_vmp_action {
  CLI_VMP_ACT_POWER_ON = 1,            /* PC -on */
  CLI_VMP_ACT_POWER_OFF,               /* PC -off (hard) */
  CLI_VMP_ACT_GRACEFUL_OFF,            /* PC -graceful */
  CLI_VMP_ACT_RESET,                   /* RS */
  CLI_VMP_ACT_TC,                      /* TC: transfer of control (a reset here) */
};

typedef struct cli_vmp_ops {
  void *ctx;
  /* Keystrokes for the guest (CO mode). */
  void (*send)(void *ctx, const void *data, size_t len);
  /* A power action; returns 0 or an error with why filled. */
  int (*power)(void *ctx, int action, char *why, size_t whylen);
  /* Print status (PS / VM menu): the hpvmstatus -P text to out. */
  void (*status)(void *ctx, FILE *out);
  /* Print the console log (CL) or the event log (SL) to out. */
  void (*console_log)(void *ctx, FILE *out);
  void (*event_log)(void *ctx, FILE *out);
  /* Entering CO: print what the guest printed before (the replay) to out. */
  void (*replay)(void *ctx, FILE *out);
} cli_vmp_ops;

typedef struct cli_vmp {
  cli_vmp_state state;
  cli_vmp_state back;                  /* where CONFIRM returns to */
  int pending;                         /* the action CONFIRM asks about */
  char name[256];                      /* the VM, for the prompt */
  char line[256];                      /* the command being typed */
  size_t len;
  bool quiet;                          /* -q: no confirmations */
  FILE *out;
  cli_vmp_ops ops;
} cli_vmp;

void cli_vmp_init(cli_vmp *v, const char *vm_name, FILE *out, const cli_vmp_ops *ops, bool quiet);
/* Show the main menu and the prompt. */
void cli_vmp_start(cli_vmp *v);
/* Feed keystrokes; returns the state after them. */
cli_vmp_state cli_vmp_feed(cli_vmp *v, const char *data, size_t len);
/* Run one menu command line ("pc -on", "co", "cl") as hpvmconsole -c does; returns 0 or
 * the error of the action (why filled). */
int cli_vmp_command(cli_vmp *v, const char *cmd, char *why, size_t whylen);
const char *cli_vmp_state_name(cli_vmp_state s);

/* ---- The commands (cmds.c) -------------------------------------------------------------------- */

/* How a command reaches hpvmd: one request, one response (which the transport allocates
 * and free_resp frees). hpvmd_call behind it in the binary; a fake in tests. */
typedef struct cli_transport {
  void *ctx;
  int (*call)(void *ctx, const Hpvm__Request *req, Hpvm__Response **resp);
  void (*free_resp)(void *ctx, Hpvm__Response *resp);
  const char *socket_path;             /* for hpvmconsole's stream; NULL: the default */
} cli_transport;

typedef struct cli_ctx {
  const char *cmd;                     /* "hpvmcreate": the prefix of every message */
  FILE *in, *out, *err;
  bool interactive;                    /* stdin is a terminal: confirmations may be asked */
  cli_transport t;
} cli_ctx;

/* One command's run, and the helpers every command shares (util.c). */
typedef struct cli_run {
  cli_ctx *c;
  int argc;
  char **argv;                         /* sent with every request (the command log) */
  bool json;                           /* errors also as {"error":...} on out */
  const char *vm;                      /* for "ERROR (vm)"; NULL or "": "ERROR:" */
} cli_run;

/* "<cmd>: ERROR (<vm>): <message>" on err (and the JSON error on out); returns 1. */
int cli_fail(cli_run *r, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* "<cmd>: <msg>" on err (and a JSON EINVAL error on out); returns 2. */
int cli_usage(cli_run *r, const char *msg);
/* One request with the run's argv. Returns hpvmd's (or the transport's) error code, 0 on
 * success; *resp is set either way when an answer came (free with cli_done()); with no
 * answer at all the error line is already printed. */
int cli_call(cli_run *r, Hpvm__Request *req, Hpvm__Response **resp);
/* The same, as an exit status: 0 with *resp set, or 1 after the error line (hpvmd's
 * message), *resp freed and NULL. */
int cli_call_status(cli_run *r, Hpvm__Request *req, Hpvm__Response **resp);
void cli_done(cli_run *r, Hpvm__Response *resp);

/* The commands by name ("create" or "hpvmcreate"); NULL when unknown. Each takes argv with
 * argv[0] the command's name and returns the process exit status: 0 success, 1 failure (one
 * line on err), 2 a usage error. */
typedef int (*cli_cmd_fn)(cli_ctx *c, int argc, char **argv);
cli_cmd_fn cli_command(const char *name, const char **canonical);
/* The names every link is made for, NULL-terminated. */
extern const char *const cli_command_names[];

int cli_cmd_create(cli_ctx *c, int argc, char **argv);
int cli_cmd_modify(cli_ctx *c, int argc, char **argv);
int cli_cmd_clone(cli_ctx *c, int argc, char **argv);
int cli_cmd_remove(cli_ctx *c, int argc, char **argv);
int cli_cmd_start(cli_ctx *c, int argc, char **argv);
int cli_cmd_stop(cli_ctx *c, int argc, char **argv);
int cli_cmd_status(cli_ctx *c, int argc, char **argv);
int cli_cmd_info(cli_ctx *c, int argc, char **argv);
int cli_cmd_devmgmt(cli_ctx *c, int argc, char **argv);
int cli_cmd_console(cli_ctx *c, int argc, char **argv);
int cli_cmd_suspend(cli_ctx *c, int argc, char **argv);   /* suspend.c: hpvmsuspend */
int cli_cmd_resume(cli_ctx *c, int argc, char **argv);    /* suspend.c: hpvmresume */
int cli_cmd_migrate(cli_ctx *c, int argc, char **argv);   /* migrate.c: hpvmmigrate */
int cli_cmd_host(cli_ctx *c, int argc, char **argv);      /* host.c: hpvmhost */

#endif
