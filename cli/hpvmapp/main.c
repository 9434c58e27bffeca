/* main.c — hpvmapp: runs one IA-64 virtual machine in the foreground.
 *
 *   hpvmapp --kernel FILE [--memory SIZE] [--cpus N] [--args "CMDLINE"] [--disk FILE]...
 *           [--state-file FILE]
 *   hpvmapp --restore FILE [--disk FILE]... [--state-file FILE]
 *
 * With --state-file, SIGUSR1 pauses the VM, saves it to that file (hypervisor/vmstate.c) and
 * exits 0; --restore continues a VM from such a file (memory size and vCPU count come from it).
 * SIGPWR presses the power button: the guest is asked to shut down (docs/platform.md).
 *
 * The guest's console is this process's stdin/stdout (a terminal is put in raw mode, with
 * Ctrl-C still interrupting); hpvmapp exits with the code the guest passes to SSC EXIT, with
 * 134 when the guest crashes (its registers go to stderr), 128+N when signal N stops it,
 * and 2, after one line on stderr, when an argument, the kernel or a disk is unusable. The
 * host daemon spawns this same binary for each VM it runs. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "app_migrate.h"
#include "control.h"
#include "entitle.h"
#include "hpvm_error.h"
#include "vm.h"

#define DEFAULT_MEMORY (256ull << 20)

static void usage(FILE *f) {
  fprintf(f, "usage: hpvmapp --kernel FILE [--memory SIZE] [--cpus N] [--args \"CMDLINE\"] [--disk FILE]...\n"
             "               [--state-file FILE]\n"
             "       hpvmapp --restore FILE [--disk FILE]... [--state-file FILE]\n"
             "Boots an IA-64 guest kernel (a static ELF, docs/platform.md) with its console on stdin/stdout.\n"
             "  --kernel FILE   the guest kernel\n"
             "  --memory SIZE   guest RAM, e.g. 512M or 4G (suffixes K, M, G, T; default 256M)\n"
             "  --cpus N        virtual CPUs, 1 to 64 (default 1)\n"
             "  --args CMDLINE  the guest's command line\n"
             "  --disk FILE     an avio_stor disk backed by FILE (repeatable)\n"
             "  --mem-image FILE\n"
             "                  fill RAM from FILE before the kernel loads (benchmarks; all-zero pages\n"
             "                  stay unpopulated; the kernel's own bytes win where they overlap)\n"
             "  --state-file FILE\n"
             "                  on SIGUSR1 (kill -USR1 PID): pause the VM, save its state to FILE and\n"
             "                  exit 0; if the save fails, say why and let the VM run on\n"
             "  --restore FILE  continue a VM saved with --state-file instead of booting a kernel:\n"
             "                  memory and vCPUs come from FILE; give the same --disk images in the\n"
             "                  same order (disk contents are not part of the state)\n"
             "  (kill -PWR PID asks the guest to shut down, as hpvmstop -g does)\n"
             "  --entitlement PCT[:CAP]  %% of a host core guaranteed to each vCPU (0: best-effort), and its cap\n"
             "  --sched-dir DIR the host scheduler shared with the other VMs (hpvmd's state dir)\n"
             "  --incoming FD,FD...\n"
             "                  the target of a live migration (hpvmd passes it with the channels'\n"
             "                  sockets): the guest comes from the source host instead of a kernel\n"
             "  --control-fd N --name VM --run-dir DIR\n"
             "                  supervised by hpvmd: commands on socket N, console to DIR/console.log\n"
             "                  (cli/hpvmapp/control.h); hpvmd passes these, people need not\n"
             "Exit status: the guest's SSC EXIT code; 0 after a SIGUSR1 save; 134 when the guest crashes;\n"
             "128+N on signal N; 2 when an argument, the kernel, a disk or the state file is unusable.\n");
}

static int bad(const char *fmt, const char *arg) {
  fprintf(stderr, "hpvmapp: ");
  fprintf(stderr, fmt, arg);
  fprintf(stderr, "\n");
  return 2;
}

/* "512M" -> bytes; false when it is not a size. */
static bool parse_size(const char *s, uint64_t *out) {
  char *end;
  errno = 0;
  unsigned long long n = strtoull(s, &end, 10);
  if (end == s || errno || *s == '-') return false;
  unsigned shift = 0;
  switch (*end) {
  case 0: break;
  case 'k': case 'K': shift = 10; end++; break;
  case 'm': case 'M': shift = 20; end++; break;
  case 'g': case 'G': shift = 30; end++; break;
  case 't': case 'T': shift = 40; end++; break;
  default: return false;
  }
  if ((*end == 'i' || *end == 'I') && shift) end++;
  if ((*end == 'b' || *end == 'B') && shift) end++;
  if (*end || (shift && n > (~0ull >> shift))) return false;
  *out = (uint64_t)n << shift;
  return true;
}

/* ---- Terminal and signals ----------------------------------------------------------------------- */

static struct termios saved_tio;
static bool tio_saved;

static void restore_tty(void) {
  if (tio_saved) tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_tio);
}

static void raw_tty(void) {
  if (!isatty(STDIN_FILENO) || tcgetattr(STDIN_FILENO, &saved_tio) != 0) return;
  struct termios t = saved_tio;
  t.c_lflag &= ~(tcflag_t)(ICANON | ECHO | IEXTEN);
  t.c_iflag &= ~(tcflag_t)(ICRNL | IXON);
  t.c_cc[VMIN] = 1;
  t.c_cc[VTIME] = 0;
  if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) == 0) tio_saved = true;
}

typedef struct sig_ctx {
  vm *v;
  sigset_t set;
  const char *state_file;   /* --state-file, or NULL */
} sig_ctx;

/* SIGUSR1: pause, save, power off with 0, so the guest never runs past the state it was
 * saved in (its disks stay as the state expects). A failed save resumes the guest. */
static bool save_and_stop(sig_ctx *s) {
  if (!s->state_file) {
    fprintf(stderr, "hpvmapp: SIGUSR1 ignored: no --state-file to save to\n");
    return false;
  }
  char msg[600];
  vm_pause(s->v);
  if (vm_save_file(s->v, s->state_file, msg, sizeof msg)) {
    fprintf(stderr, "hpvmapp: cannot save the VM: %s; it runs on\n", msg);
    vm_resume(s->v);
    return false;
  }
  fprintf(stderr, "hpvmapp: VM saved to %s\n", s->state_file);
  vm_console_forget_unsent(s->v);   /* the line the guest is in the middle of is in the file */
  vm_power_off(s->v, 0);
  return true;
}

/* SIGINT/SIGTERM/SIGHUP power the VM off with 128 + the signal; SIGUSR1 saves it; SIGPWR asks
 * the guest to shut down and waits for it to power off (a thread, so vm_power_off and the save
 * run outside signal context). */
static void *signal_thread(void *arg) {
  sig_ctx *s = arg;
  int sig;
  while (sigwait(&s->set, &sig) == 0) {
    if (sig == SIGPWR) {
      vm_request_shutdown(s->v);
      continue;
    }
    if (sig != SIGUSR1) {
      vm_power_off(s->v, 128 + sig);
      break;
    }
    if (save_and_stop(s)) break;
  }
  return NULL;
}

int main(int argc, char **argv) {
  const char *kernel = NULL, *cmdline = NULL, *restore = NULL, *state_file = NULL, *mem_image = NULL;
  bool memory_given = false, cpus_given = false;
  const char *disks[VM_MAX_DISKS];
  vm_config cfg = {.memory = DEFAULT_MEMORY, .ncpus = 1, .console_in = STDIN_FILENO, .console_out = STDOUT_FILENO};
  app_ctl_opts ctlo = {.fd = -1};
  app_sched_opts scho = {0};
  int in_fds[APP_MIG_MAX_CHANNELS];
  unsigned n_in = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--help") || !strcmp(a, "-h")) return usage(stdout), 0;
    int ctl_opt = app_mig_parse(argc, argv, &i, in_fds, &n_in);
    if (!ctl_opt) ctl_opt = app_ctl_parse(&ctlo, argc, argv, &i);
    if (!ctl_opt) ctl_opt = app_sched_parse(&scho, argc, argv, &i);
    if (ctl_opt) {
      if (ctl_opt < 0) return 2;
      continue;
    }
    bool takes = !strcmp(a, "--kernel") || !strcmp(a, "--memory") || !strcmp(a, "--cpus") || !strcmp(a, "--args") ||
                 !strcmp(a, "--disk") || !strcmp(a, "--restore") || !strcmp(a, "--state-file") ||
                 !strcmp(a, "--mem-image");
    if (!takes) return bad("unknown argument %s; see hpvmapp --help", a);
    if (i + 1 >= argc) return bad("%s needs a value; see hpvmapp --help", a);
    const char *val = argv[++i];
    if (!strcmp(a, "--kernel")) kernel = val;
    else if (!strcmp(a, "--args")) cmdline = val;
    else if (!strcmp(a, "--restore")) restore = val;
    else if (!strcmp(a, "--state-file")) state_file = val;
    else if (!strcmp(a, "--mem-image")) mem_image = val;
    else if (!strcmp(a, "--memory")) {
      if (!parse_size(val, &cfg.memory)) return bad("--memory %s: not a size; give e.g. 512M or 4G", val);
      memory_given = true;
    } else if (!strcmp(a, "--cpus")) {
      char *end;
      long n = strtol(val, &end, 10);
      if (*end || end == val || n < 1 || n > VM_MAX_CPUS) return bad("--cpus %s: give a number from 1 to 64", val);
      cfg.ncpus = (unsigned)n;
      cpus_given = true;
    } else {
      if (cfg.ndisks == VM_MAX_DISKS) return bad("%s: at most 16 disks", "--disk");
      disks[cfg.ndisks++] = val;
    }
  }
  if (n_in && (restore || ctlo.fd < 0)) return bad("%s", "--incoming goes with --control-fd (hpvmd), without --restore");
  if (n_in) kernel = mem_image = NULL;   /* the guest, memory included, comes from the source */
  if (kernel && restore) return bad("%s", "give --kernel FILE or --restore FILE, not both");
  if (!kernel && !restore && !n_in) return bad("%s", "no kernel; give --kernel FILE (see hpvmapp --help)");
  if (restore && cmdline) return bad("%s", "--args: a restored guest keeps the command line it was saved with");
  if (restore && mem_image) return bad("%s", "--mem-image: a restored guest's memory comes from its state file");
  char msg[600];
  if (restore) {
    /* A VM of the saved one's size; explicit values must agree (vm_restore says what differs). */
    vm_state_info info;
    if (vm_state_peek(restore, &info, msg, sizeof msg)) return bad("%s", msg);
    if (!memory_given) cfg.memory = info.memory;
    if (!cpus_given && info.ncpus >= 1 && info.ncpus <= VM_MAX_CPUS) cfg.ncpus = info.ncpus;
  }
  if (cfg.memory < (1ull << 20) || cfg.memory % 4096)
    return bad("--memory: %s", "give at least 1M, a multiple of 4K");
  cfg.cmdline = cmdline ? cmdline : "";
  cfg.disks = disks;

  /* Signals go to the signal thread only: block them before any thread exists. */
  static sig_ctx sc;
  sigemptyset(&sc.set);
  sigaddset(&sc.set, SIGINT);
  sigaddset(&sc.set, SIGTERM);
  sigaddset(&sc.set, SIGHUP);
  sigaddset(&sc.set, SIGUSR1);
  sigaddset(&sc.set, SIGPWR);
  pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
  sc.state_file = state_file;
  signal(SIGPIPE, SIG_IGN);

  app_ctl *ctl;
  if (app_ctl_prepare(&ctlo, &cfg, &ctl)) return 2;

  vm *v;
  int rc = vm_create(&cfg, &v, msg, sizeof msg);
  if (rc) {
    app_ctl_discard(ctl);
    return bad("%s", msg);
  }
  if (mem_image) rc = vm_mem_load_image(v, mem_image, msg, sizeof msg);   /* first: the kernel's bytes win */
  if (!rc && !n_in) rc = restore ? vm_restore_file(v, restore, msg, sizeof msg) : vm_load_kernel(v, kernel, msg, sizeof msg);
  vm_sched *sched = NULL;
  if (!rc) rc = app_sched_admit(&scho, v, ctlo.name, &sched, msg, sizeof msg);
  if (rc) {
    vm_destroy(v);
    app_ctl_discard(ctl);
    return bad("%s", msg);
  }
  sc.v = v;
  pthread_t st;
  pthread_create(&st, NULL, signal_thread, &sc);
  pthread_detach(st);
  raw_tty();
  app_mig *mig = app_mig_new(ctl, v);
  if (n_in) {
    /* The target of a live migration: hello first (hpvmd then hands over the channels), the
     * guest runs only once the library received it and hpvmd adopted its lease. */
    rc = app_ctl_connect(ctl, v, HPVM__VM_RUN_STATE__VM_RUN_STATE_INCOMING);
    if (!rc && (rc = app_mig_incoming(mig, in_fds, n_in, msg, sizeof msg))) {
      /* The source goes on with the guest: a line it was in the middle of is its to finish. */
      vm_console_forget_unsent(v);
      char note[700];
      snprintf(note, sizeof note, "incoming migration failed: %s", msg);
      fprintf(stderr, "hpvmapp: %s\n", note);
      app_ctl_set_exit_note(ctl, note);
    }
  } else {
    rc = vm_start(v);
  }
  if (!rc) rc = app_ctl_start(ctl, v);
  int status = rc ? 1 : vm_wait(v);
  app_mig_stop(mig);   /* a migration thread still running ends before the exit is told */
  app_ctl_finish(ctl, status);
  restore_tty();
  if (rc && !n_in) fprintf(stderr, "hpvmapp: cannot start the VM: %s\n", hpvm_strerror(rc));
  vm_destroy(v);
  app_mig_free(mig);
  app_sched_close(sched);
  return status & 0xff;
}
