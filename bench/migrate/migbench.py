#!/usr/bin/env python3
"""migbench.py — the live-migration benchmark (run it through bench/migrate/run.sh; docs/bench.md,
"Live migration", says what the columns mean).

For each setup (two hosts on loopback; two network namespaces joined by a veth pair shaped with
tc tbf to 1 and 10 Gbit/s), content profile (zero, random, mixed memory images from mkimage) and
workload (idle, or rewriting one word in every page of a working set at 50 or 200 MiB/s), it
  - migrates an hpvm guest between two real hpvmd hosts with `hpvmmigrate -P g -h B -o --json`
    (hpvmk running `idle` or `memstress wss=WS rate=R`, its RAM preloaded with -x mem_image=),
  - migrates a QEMU guest (Debian's qemu-system-x86, TCG: the machine's KVM cannot run a
    non-paravirtualized guest) whose RAM is the same image (memory-backend-file, share=off:
    the file mapped privately, so its bytes are the RAM and it is never written) running
    bench/migrate/qguest (the same dirtying at the same rate, or halted) with QEMU's own live
    migration over the same link, driven through QMP (multifd with 2 channels; TLS, auto-converge
    and XBZRLE variants),
and prints one table with both and the ratio QEMU / hpvm. Nothing here passes or fails on a time.
Python 3 standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

MiB = 1 << 20
CLK_TCK = os.sysconf("SC_CLK_TCK")
NS_PREFIX = "hpvmb"          # namespaces hpvmb-<pid>-a/-b (the tests use hpvmt-)
SUBNET = "10.78.0"           # host A .1, host B .2
HPVMD_PORT = 7450
QEMU_PORT = 7460
PROBE_PORT = 7470


def log(msg):
    print(msg, file=sys.stderr, flush=True)


class Fail(Exception):
    pass


# ---- Processes and namespaces -------------------------------------------------------------------

class Host:
    """One side: a namespace (None: the root namespace, loopback) with an address."""

    def __init__(self, letter, ns, addr, port, workdir):
        self.letter, self.ns, self.addr, self.port = letter, ns, addr, port
        self.name = "bench" + letter
        self.state = os.path.join(workdir, "state-" + letter)
        self.sock = os.path.join(self.state, "hpvmd.sock")
        self.log = os.path.join(workdir, "hpvmd-%s.log" % letter)
        self.hpvmd = None

    def argv(self, argv):
        return (["ip", "netns", "exec", self.ns] if self.ns else []) + list(argv)


class Bench:
    def __init__(self, args):
        self.a = args
        self.build = os.path.abspath(args.build)
        self.bin = os.path.join(self.build, "bin")
        self.kernel = os.path.join(self.build, "guests", "hpvmk")
        self.mkimage = os.path.join(self.build, "bench", "mkimage")
        self.qguest = os.path.join(self.build, "bench", "qguest.elf")
        self.workdir = tempfile.mkdtemp(prefix="hpvm-migbench-")
        self.procs = []          # every process we started (Popen), ended at cleanup
        self.namespaces = []
        self.rows = []
        self.notes = []
        self.seq = 0
        self.buf = bytearray(8 << 20)

    # -- cleanup: only what we started, by pid; our namespaces by name --
    def cleanup(self):
        for p in self.procs:
            if p.poll() is None:
                try:
                    p.kill()
                    p.wait(timeout=5)
                except Exception:
                    pass
        for ns in self.namespaces:
            self.kill_ns_procs(ns)
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        self.namespaces = []
        if self.a.keep:
            log("migbench: kept %s" % self.workdir)
        else:
            shutil.rmtree(self.workdir, ignore_errors=True)

    @staticmethod
    def kill_ns_procs(ns):
        out = subprocess.run(["ip", "netns", "pids", ns], capture_output=True, text=True).stdout.split()
        for pid in out:
            try:
                os.kill(int(pid), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass

    @staticmethod
    def delete_stale_namespaces():
        """Namespaces of an earlier run killed before its cleanup (its pid is gone)."""
        out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        for line in out.splitlines():
            m = re.match(r"(%s-(\d+)-[ab])\b" % NS_PREFIX, line)
            if m and not os.path.exists("/proc/" + m.group(2)):
                Bench.kill_ns_procs(m.group(1))
                subprocess.run(["ip", "netns", "del", m.group(1)], stderr=subprocess.DEVNULL)

    def spawn(self, argv, out=None, env=None):
        f = open(out, "ab") if out else subprocess.DEVNULL
        p = subprocess.Popen(argv, stdout=f, stderr=subprocess.STDOUT if out else subprocess.DEVNULL,
                             stdin=subprocess.DEVNULL, env=env)
        if out:
            f.close()
        self.procs.append(p)
        return p

    # ---- Setups -------------------------------------------------------------------------------

    def make_hosts(self, setup):
        """(A, B) for a setup: 'loopback', '1g', '10g'."""
        if setup == "loopback":
            return (Host("a", None, "127.0.0.1", HPVMD_PORT, self.workdir),
                    Host("b", None, "127.0.0.1", HPVMD_PORT + 10, self.workdir))   # +1 is a's gossip port
        rate = {"1g": 1000, "10g": 10000}[setup]          # Mbit/s
        pfx = "%s-%d" % (NS_PREFIX, os.getpid())
        na, nb = pfx + "-a", pfx + "-b"
        for ns in (na, nb):
            subprocess.run(["ip", "netns", "del", ns], stderr=subprocess.DEVNULL)
        cmds = [["ip", "netns", "add", na], ["ip", "netns", "add", nb]]
        self.namespaces += [na, nb]
        cmds += [["ip", "-n", na, "link", "add", "name", "eth0", "type", "veth", "peer", "name", "eth0", "netns", nb],
                 ["ip", "-n", na, "addr", "add", SUBNET + ".1/24", "dev", "eth0"],
                 ["ip", "-n", nb, "addr", "add", SUBNET + ".2/24", "dev", "eth0"]]
        for ns in (na, nb):
            cmds += [["ip", "-n", ns, "link", "set", "lo", "up"], ["ip", "-n", ns, "link", "set", "eth0", "up"]]
            # A token bucket at the rate; the bucket holds 2 ms of it (at least 128 KiB, more than
            # one 64 KiB GSO packet), the queue at most 50 ms.
            burst = max(rate * 1000 // 8 * 2, 128 << 10)
            cmds.append(["tc", "-n", ns, "qdisc", "replace", "dev", "eth0", "root", "tbf", "rate", "%dmbit" % rate,
                         "burst", str(burst), "latency", "50ms"])
        for c in cmds:
            r = subprocess.run(c, capture_output=True, text=True)
            if r.returncode:
                raise Fail("'%s' failed: %s" % (" ".join(c), r.stderr.strip()))
        return (Host("a", na, SUBNET + ".1", HPVMD_PORT, self.workdir),
                Host("b", nb, SUBNET + ".2", HPVMD_PORT, self.workdir))

    def teardown_hosts(self, hosts):
        for h in hosts:
            self.stop_hpvmd(h)
        for h in hosts:   # guests outlive hpvmd on purpose: kill the hpvmapps our pidfiles name
            vms = os.path.join(h.state, "vms")
            for vm in os.listdir(vms) if os.path.isdir(vms) else []:
                pid = self.app_pid(h, vm)
                try:
                    with open("/proc/%d/cmdline" % pid, "rb") as f:
                        ours = h.state.encode() in f.read()
                    if pid and ours:
                        os.kill(pid, signal.SIGKILL)
                except (OSError, ValueError):
                    pass
        for h in hosts:
            if h.ns:
                self.kill_ns_procs(h.ns)
                subprocess.run(["ip", "netns", "del", h.ns], stderr=subprocess.DEVNULL)
                self.namespaces.remove(h.ns)

    def probe_link(self, a, b):
        """MB/s one TCP stream moves from A to B in about a second (python sockets)."""
        recv = ("import socket,sys,time\n"
                "s=socket.socket();s.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\n"
                "s.bind((sys.argv[1],int(sys.argv[2])));s.listen(1);print('ready',flush=True)\n"
                "c,_=s.accept();n=0;t=None\n"
                "while True:\n"
                " d=c.recv(1<<20)\n"
                " if not d: break\n"
                " if t is None: t=time.monotonic()\n"
                " n+=len(d)\n"
                "print(n/(time.monotonic()-t)/1e6)\n")
        send = ("import socket,sys,time\n"
                "c=socket.create_connection((sys.argv[1],int(sys.argv[2])),timeout=5);b=bytes(1<<20)\n"
                "end=time.monotonic()+1.0\n"
                "while time.monotonic()<end: c.sendall(b)\n"
                "c.close()\n")
        r = subprocess.Popen(b.argv([sys.executable, "-c", recv, b.addr, str(PROBE_PORT)]), stdout=subprocess.PIPE,
                             text=True)
        self.procs.append(r)
        if r.stdout.readline().strip() != "ready":
            return None
        subprocess.run(a.argv([sys.executable, "-c", send, b.addr, str(PROBE_PORT)]), timeout=30)
        out = r.stdout.read().strip()
        r.wait(timeout=10)
        try:
            return float(out)
        except ValueError:
            return None

    # ---- hpvm --------------------------------------------------------------------------------------

    def hpvm_env(self, h):
        env = dict(os.environ)
        env["HPVMD_SOCKET"] = h.sock
        env["HPVM_STATE_DIR"] = h.state
        return env

    def hpvm(self, h, *words, check=True, timeout=120):
        tool = os.path.join(self.bin, words[0])
        r = subprocess.run(h.argv([tool] + list(words[1:])), capture_output=True, text=True, env=self.hpvm_env(h),
                           timeout=timeout)
        if check and r.returncode:
            raise Fail("%s on host %s exited %d: %s" % (" ".join(words), h.letter, r.returncode,
                                                        (r.stderr or r.stdout).strip()))
        return r

    def start_hpvmd(self, h, shared):
        os.makedirs(h.state, exist_ok=True)
        argv = [os.path.join(self.bin, "hpvmd"), "--foreground", "--shared", shared, "--state-dir", h.state,
                "--name", h.name, "--listen", "%s:%d" % (h.addr, h.port), "--hpvmapp", os.path.join(self.bin, "hpvmapp")]
        h.hpvmd = self.spawn(h.argv(argv), out=h.log, env=self.hpvm_env(h))
        end = time.monotonic() + 10
        while time.monotonic() < end:
            if os.path.exists(h.sock) and self.hpvm(h, "hpvmstatus", check=False).returncode == 0:
                return
            if h.hpvmd.poll() is not None:
                break
            time.sleep(0.05)
        raise Fail("hpvmd of host %s did not start; its log %s:\n%s" % (h.letter, h.log, tail(h.log)))

    def stop_hpvmd(self, h):
        if h.hpvmd and h.hpvmd.poll() is None:
            h.hpvmd.terminate()
            try:
                h.hpvmd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                h.hpvmd.kill()
        h.hpvmd = None

    def app_pid(self, h, vm):
        try:
            with open(os.path.join(h.state, "vms", vm, "app.pid")) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return 0

    def run_hpvm(self, hosts, size, image, workload):
        """One hpvm migration A -> B; a result dict."""
        a, b = hosts
        self.seq += 1
        vm = "g%d" % self.seq
        rate = workload_rate(workload)
        args = "memstress wss=%dM rate=%d" % (self.a.ws // MiB, rate) if rate else "idle"
        self.hpvm(a, "hpvmcreate", "-P", vm, "-c", "1", "-r", "%dM" % (size // MiB), "-e", "10", "-B", "manual",
                  "-K", self.kernel, "-A", args, "-x", "mem_image=" + image)
        self.hpvm(a, "hpvmstart", "-P", vm)
        console = os.path.join(a.state, "vms", vm, "console.log")
        want = "memstress: cpu 0:" if rate else "command line"
        if not wait_for_text(console, want, 60):
            raise Fail("guest %s printed no '%s' within 60 s:\n%s" % (vm, want, tail(console)))
        src = self.app_pid(a, vm)
        cpu_src = CpuWatch(src)
        t0 = time.monotonic()
        mig = subprocess.Popen(a.argv([os.path.join(self.bin, "hpvmmigrate"), "-P", vm, "-h", b.name, "-o", "--json"]),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=self.hpvm_env(a))
        self.procs.append(mig)
        dst, cpu_dst = 0, None
        while mig.poll() is None:
            cpu_src.sample()
            if not dst:
                dst = self.app_pid(b, vm)
                if dst:
                    cpu_dst = CpuWatch(dst, since_start=True)
            elif cpu_dst:
                cpu_dst.sample()
            if time.monotonic() - t0 > self.a.timeout:
                mig.kill()
                break
            time.sleep(0.05)
        out, err = mig.communicate()
        wall = time.monotonic() - t0
        if cpu_dst:
            cpu_dst.sample()
        res = {"system": "hpvm", "variant": "hpvmmigrate -o", "wall_s": wall}
        if mig.returncode:
            res["error"] = (err.strip().splitlines() or ["exit %s" % mig.returncode])[-1]
        else:
            try:
                res.update(parse_hpvm_json(out))
            except ValueError as e:
                res["error"] = "cannot read hpvmmigrate --json: %s" % e
        res.setdefault("cpu_src", cpu_src.seconds())
        res.setdefault("cpu_dst", cpu_dst.seconds() if cpu_dst else None)
        if "error" not in res:
            # The guest goes on on B: a dirtying one reports its rate on B's console again.
            st = self.hpvm(b, "hpvmstatus", "-P", vm, "--json", check=False).stdout
            on_b = os.path.join(b.state, "vms", vm, "console.log")
            if rate and not wait_for_text(on_b, "memstress: cpu 0:", 10):
                res["error"] = "the guest does not run on the target (no memstress line on its console)"
            elif '"run_state":"ON"' not in st:
                res["error"] = "hpvmstatus on the target does not show the guest ON"
        # the guest runs on B; stop and forget it on both hosts
        for h in (b, a):
            self.hpvm(h, "hpvmstop", "-P", vm, "-F", "-q", check=False)
        self.hpvm(b, "hpvmremove", "-P", vm, "-F", "-q", check=False)
        self.hpvm(a, "hpvmremove", "-P", vm, "-F", "-q", check=False)
        return res

    # ---- QEMU ----------------------------------------------------------------------------------------

    def qemu_argv(self, size, image, rate, incoming, variant, serial, qmp):
        mem = "%dM" % (size // MiB)
        if incoming:   # received pages land in anonymous memory, as hpvm's target does
            backend = "memory-backend-ram,id=m,size=%s" % mem
        else:
            backend = "memory-backend-file,id=m,size=%s,mem-path=%s,share=off" % (mem, image)
        argv = ["qemu-system-x86_64", "-accel", "tcg", "-machine", "pc,memory-backend=m", "-m", mem, "-object", backend,
                "-kernel", self.qguest, "-append", "rate=%d ws=%d" % (rate, self.a.ws // MiB), "-display", "none",
                "-nodefaults", "-no-user-config", "-serial", "file:" + serial,
                "-qmp", "unix:%s,server=on,wait=off" % qmp]
        if "tls" in variant:
            argv += ["-object", "tls-creds-x509,id=tls0,dir=%s,endpoint=%s,verify-peer=on"
                     % (self.tls_dir(), "server" if incoming else "client")]
        if incoming:
            argv += ["-incoming", "defer"]
        return argv

    def tls_dir(self):
        d = os.path.join(self.workdir, "tls")
        if os.path.exists(os.path.join(d, "client-key.pem")):
            return d
        os.makedirs(d, exist_ok=True)
        ext = os.path.join(d, "ext.cnf")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,IP:%s.1,IP:%s.2\nextendedKeyUsage=serverAuth,clientAuth\n"
                    "keyUsage=critical,digitalSignature,keyEncipherment\nbasicConstraints=CA:FALSE\n" % (SUBNET, SUBNET))
        run = lambda *c: subprocess.run(c, cwd=d, check=True, capture_output=True)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", "ca-key.pem", "-out", "ca-cert.pem", "-days", "2", "-subj", "/CN=hpvm migbench CA",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        for who in ("server", "client"):
            run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", who + "-key.pem", "-out", who + ".csr", "-subj", "/CN=migbench " + who)
            run("openssl", "x509", "-req", "-in", who + ".csr", "-CA", "ca-cert.pem", "-CAkey", "ca-key.pem",
                "-CAcreateserial", "-out", who + "-cert.pem", "-days", "2", "-extfile", ext)
        return d

    def run_qemu(self, hosts, size, image, workload, variant):
        a, b = hosts
        self.seq += 1
        tag = "q%d" % self.seq
        rate = workload_rate(workload)
        sides = {}
        for h, incoming in ((a, False), (b, True)):
            serial = os.path.join(self.workdir, "%s-%s.serial" % (tag, h.letter))
            qmp = os.path.join(self.workdir, "%s-%s.qmp" % (tag, h.letter))
            p = self.spawn(h.argv(self.qemu_argv(size, image, rate, incoming, variant, serial, qmp)),
                           out=os.path.join(self.workdir, "%s-%s.log" % (tag, h.letter)))
            sides[h.letter] = (p, Qmp(qmp, p), serial)
        (ps, qs, serial_s), (pd, qd, _) = sides["a"], sides["b"]
        try:
            return self.qemu_migrate(a, b, ps, qs, serial_s, pd, qd, rate, variant)
        finally:
            for p, q, _ in sides.values():
                q.close()
                if p.poll() is None:
                    p.kill()
                    p.wait()

    def qemu_migrate(self, a, b, ps, qs, serial_s, pd, qd, rate, variant):
        want = "qguest: " if rate else None
        if want and not wait_for_text(serial_s, want, 60):
            raise Fail("the QEMU guest printed no rate within 60 s")
        if not want:
            time.sleep(1.0)   # booted and halted
        caps = {"multifd": "multifd" in variant, "auto-converge": variant.endswith("+ac"), "xbzrle": variant == "xbzrle"}
        params = {"max-bandwidth": 100 << 30}   # no limit (QEMU's default is 128 MiB/s)
        if caps["multifd"]:
            params["multifd-channels"] = 2
        if caps["xbzrle"]:
            params["xbzrle-cache-size"] = self.a.ws
        if "tls" in variant:
            params["tls-creds"] = "tls0"
            params["tls-hostname"] = b.addr
        for q in (qs, qd):
            q.cmd("migrate-set-capabilities",
                  capabilities=[{"capability": k, "state": v} for k, v in caps.items() if v])
            q.cmd("migrate-set-parameters", **params)
        uri = "tcp:%s:%d" % (b.addr, QEMU_PORT)
        qd.cmd("migrate-incoming", uri=uri)
        cpu_s, cpu_d = CpuWatch(ps.pid), CpuWatch(pd.pid)
        t0 = time.monotonic()
        qs.cmd("migrate", uri=uri)
        throttle, info = 0, {}
        while True:
            info = qs.cmd("query-migrate")
            throttle = max(throttle, info.get("cpu-throttle-percentage", 0))
            cpu_s.sample()
            cpu_d.sample()
            if info.get("status") in ("completed", "failed", "cancelled"):
                break
            if time.monotonic() - t0 > self.a.timeout:
                qs.cmd("migrate_cancel")
                info = dict(info, status="timeout")
                break
            time.sleep(0.05)
        cpu_d.sample()
        ram = info.get("ram", {})
        res = {"system": "QEMU 7.2", "variant": variant, "throttle": throttle,
               "cpu_src": cpu_s.seconds(), "cpu_dst": cpu_d.seconds(),
               "rounds": ram.get("dirty-sync-count"), "wire_bytes": ram.get("transferred")}
        if info.get("status") == "completed":
            res.update(total_s=info["total-time"] / 1000.0, downtime_ms=float(info.get("downtime", 0)),
                       setup_ms=info.get("setup-time"))
            if res["total_s"] > 0 and res["wire_bytes"]:
                res["mbps"] = res["wire_bytes"] / MiB / res["total_s"]
        elif info.get("status") == "timeout":
            res["error"] = "no convergence in %d s (cancelled)" % self.a.timeout
            res["wall_s"] = time.monotonic() - t0
        else:
            res["error"] = "migration %s: %s" % (info.get("status"), info.get("error-desc", ""))
        return res

    # ---- Images -----------------------------------------------------------------------------------------

    def image(self, profile, size):
        os.makedirs(self.a.cache, exist_ok=True)
        path = os.path.join(self.a.cache, "%s-%dM-s%d.img" % (profile, size // MiB, self.a.seed))
        if not os.path.exists(path):
            log("migbench: making %s" % path)
            subprocess.run([self.mkimage, "--profile", profile, "--size", "%dM" % (size // MiB), "--seed",
                            str(self.a.seed), path + ".tmp"], check=True, stdout=subprocess.DEVNULL)
            os.rename(path + ".tmp", path)
        # Into the page cache: both systems then read it from memory (hpvmapp when it boots,
        # QEMU's private mapping as it migrates), whatever ran before.
        with open(path, "rb") as f:
            while f.readinto(self.buf):
                pass
        return path


# ---- Helpers -------------------------------------------------------------------------------------------

def workload_rate(workload):
    return int(workload[len("dirty"):]) if workload.startswith("dirty") else 0


def tail(path, n=20):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-n:])
    except OSError:
        return ""


def wait_for_text(path, text, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            with open(path, errors="replace") as f:
                if text in f.read():
                    return True
        except OSError:
            pass
        time.sleep(0.05)
    return False


class CpuWatch:
    """User + system CPU seconds a process used since the first sample; the last sample counts
    (the process may be gone by the end)."""

    def __init__(self, pid, since_start=False):
        self.pid = pid
        self.first = self.last = self.read()
        if since_start and self.first is not None:
            self.first = 0.0   # a process started for the migration: all its CPU counts

    def read(self):
        try:
            with open("/proc/%d/stat" % self.pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / CLK_TCK
        except (OSError, IndexError, ValueError):
            return None

    def sample(self):
        v = self.read()
        if v is not None:
            self.last = v
            if self.first is None:
                self.first = v

    def seconds(self):
        return None if self.first is None or self.last is None else self.last - self.first


class Qmp:
    """A QMP client over the unix socket (connects lazily: QEMU creates it as it starts)."""

    def __init__(self, path, proc):
        self.path, self.proc, self.s, self.buf = path, proc, None, b""

    def connect(self):
        end = time.monotonic() + 30
        while True:
            try:
                s = socket.socket(socket.AF_UNIX)
                s.connect(self.path)
                break
            except OSError:
                s.close()
                if self.proc.poll() is not None or time.monotonic() > end:
                    raise Fail("QEMU did not open its QMP socket %s (exit %s)" % (self.path, self.proc.poll()))
                time.sleep(0.05)
        self.s = s
        self.read_msg()                          # the greeting
        self.cmd("qmp_capabilities")

    def read_msg(self):
        while b"\n" not in self.buf:
            d = self.s.recv(65536)
            if not d:
                raise Fail("QEMU closed its QMP socket")
            self.buf += d
        line, self.buf = self.buf.split(b"\n", 1)
        return json.loads(line)

    def cmd(self, name, **args):
        if not self.s:
            self.connect()
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            r = self.read_msg()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise Fail("QMP %s: %s" % (name, r["error"].get("desc")))

    def close(self):
        if self.s:
            try:
                self.cmd("quit")
            except Exception:
                pass
            self.s.close()
            self.s = None


def find_key(obj, names):
    """The first value under any of names, searching nested objects breadth first."""
    queue = [obj]
    while queue:
        o = queue.pop(0)
        if isinstance(o, dict):
            for n in names:
                if n in o and not isinstance(o[n], (dict, list)):
                    return o[n]
            queue += [v for v in o.values() if isinstance(v, (dict, list))]
        elif isinstance(o, list):
            queue += o
    return None


def parse_hpvm_json(text):
    """hpvmmigrate --json's summary (the last JSON object it printed) -> the table's figures."""
    objs = [l for l in text.splitlines() if l.strip().startswith("{")]
    if not objs:
        raise ValueError("no JSON object in its output")
    j = json.loads(objs[-1])
    ns = lambda keys_ns, keys_ms, keys_s: (
        (find_key(j, keys_ns) or 0) / 1e9 if find_key(j, keys_ns) is not None else
        (find_key(j, keys_ms) / 1e3 if find_key(j, keys_ms) is not None else find_key(j, keys_s)))
    res = {"total_s": ns(["total_ns"], ["total_ms"], ["total_s"])}
    down = ns(["downtime_ns"], ["downtime_ms"], ["downtime_s"])
    res["downtime_ms"] = None if down is None else down * 1000
    res["wire_bytes"] = find_key(j, ["wire_bytes"])
    rounds = find_key(j, ["rounds"])
    if rounds is None and find_key(j, ["round"]) is not None:
        rounds = find_key(j, ["round"]) + 1
    res["rounds"] = rounds
    res["throttle"] = find_key(j, ["max_throttle", "throttle_max", "throttle"])
    if isinstance(j.get("cpu_s"), (int, float)):   # the source hpvmapp's CPU (the target's: /proc)
        res["cpu_src"] = j["cpu_s"]
    if res["total_s"] and res["wire_bytes"]:
        res["mbps"] = res["wire_bytes"] / MiB / res["total_s"]
    res["json"] = j
    return res


# ---- The run --------------------------------------------------------------------------------------------

SETUP_NAMES = {"loopback": ("loopback", "unshaped"), "1g": ("netns veth", "1 Gbit/s"), "10g": ("netns veth", "10 Gbit/s")}


def plan(args):
    """(setup, profile, workload) rows in run order."""
    rows = []
    for setup in args.setups:
        for profile in args.profiles:
            for workload in args.workloads:
                if profile != "mixed" and workload != "idle" and not args.all:
                    continue   # zero and random: idle only, unless --all
                rows.append((setup, profile, workload))
    return rows


def qemu_variants(args, workload):
    if args.qemu_variants:
        return args.qemu_variants
    if workload == "idle":
        return ["multifd", "multifd+tls"]
    if workload_rate(workload) >= 200:
        return ["multifd", "multifd+ac", "xbzrle"]
    return ["multifd"]


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def print_table(b, rows):
    print()
    print("| setup | link | profile | workload | system | total s | downtime ms | wire MB | MB/s | rounds | throttle % "
          "| CPU s src / dst | QEMU / hpvm (total, downtime) |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for (setup, profile, workload), res in rows:
        ours = next((r for r in res if r["system"] == "hpvm" and "error" not in r), None)
        for r in res:
            where, link = SETUP_NAMES[setup]
            system = r["system"] + ("" if r["system"] == "hpvm" else " " + r["variant"])
            if "error" in r:
                print("| %s | %s | %s | %s | %s | %s |  |  |  |  |  | %s / %s | |" % (
                    where, link, profile, workload, system, r["error"], fmt(r.get("cpu_src"), ".2f"),
                    fmt(r.get("cpu_dst"), ".2f")))
                continue
            ratio = ""
            if ours and r is not ours and ours.get("total_s") and r.get("total_s"):
                ratio = "%.1fx" % (r["total_s"] / ours["total_s"])
                if ours.get("downtime_ms") and r.get("downtime_ms") is not None:
                    ratio += ", %.1fx" % (r["downtime_ms"] / ours["downtime_ms"])
            print("| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s / %s | %s |" % (
                where, link, profile, workload, system, fmt(r.get("total_s"), ".2f"), fmt(r.get("downtime_ms"), ".1f"),
                fmt(r["wire_bytes"] / MiB if r.get("wire_bytes") is not None else None, ".0f"), fmt(r.get("mbps"), ".0f"),
                fmt(r.get("rounds"), "d"), fmt(r.get("throttle"), "d"), fmt(r.get("cpu_src"), ".2f"),
                fmt(r.get("cpu_dst"), ".2f"), ratio))


def main():
    ap = argparse.ArgumentParser(description="hpvm live-migration benchmark (see docs/bench.md)")
    ap.add_argument("build")
    ap.add_argument("--quick", action="store_true", help="256 MiB image, 64 MiB working set, loopback and 1g, idle and dirty50, QEMU multifd only")
    ap.add_argument("--size", default="2G")
    ap.add_argument("--ws", default="256M", help="working set of the dirtying guests")
    ap.add_argument("--setups", default="loopback,1g,10g")
    ap.add_argument("--profiles", default="mixed,zero,random")
    ap.add_argument("--workloads", default="idle,dirty50,dirty200")
    ap.add_argument("--all", action="store_true", help="every workload for every profile (default: zero/random idle only)")
    ap.add_argument("--qemu-variants", default="", help="multifd,multifd+tls,multifd+ac,xbzrle (default: by workload)")
    ap.add_argument("--no-qemu", action="store_true")
    ap.add_argument("--no-hpvm", action="store_true")
    ap.add_argument("--timeout", type=int, default=90, help="seconds one migration may take (then it is cancelled)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--cache", default="", help="where images are kept (default BUILD/bench/migrate-images)")
    ap.add_argument("--keep", action="store_true", help="keep the work directory (logs)")
    args = ap.parse_args()
    if args.quick:
        args.size, args.ws = "256M", "64M"
        if args.setups == "loopback,1g,10g":
            args.setups = "loopback,1g"
        if args.profiles == "mixed,zero,random":
            args.profiles = "mixed"
        if args.workloads == "idle,dirty50,dirty200":
            args.workloads = "idle,dirty50"
        args.timeout = min(args.timeout, 30)
        args.qemu_variants = args.qemu_variants or "multifd"
    args.size, args.ws = parse_size(args.size), parse_size(args.ws)
    args.setups = args.setups.split(",")
    args.profiles = args.profiles.split(",")
    args.workloads = args.workloads.split(",")
    args.qemu_variants = [v for v in args.qemu_variants.split(",") if v]
    args.cache = args.cache or os.path.join(os.path.abspath(args.build), "bench", "migrate-images")
    if os.geteuid() != 0 and any(s != "loopback" for s in args.setups):
        log("migbench: not root: the network-namespace setups are left out (loopback only)")
        args.setups = [s for s in args.setups if s == "loopback"]

    b = Bench(args)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    results = []
    try:
        Bench.delete_stale_namespaces()
        missing = [f for f in ("bin/hpvmmigrate", "bin/hpvmd", "bin/hpvmapp", "bin/hpvmcreate", "guests/hpvmk")
                   if not os.path.exists(os.path.join(b.build, f))]
        if not args.no_hpvm and missing:
            log("migbench: %s missing in %s: the hpvm rows are left out" % (", ".join(missing), b.build))
            args.no_hpvm = True
        print("host: %d CPUs, %.1f GiB; load %s; QEMU %s (TCG)" % (
            os.cpu_count(), os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / (1 << 30),
            open("/proc/loadavg").read().split()[:3], qemu_version()))
        print("guests: %d MiB of RAM from the image, 1 vCPU; dirtying: one word per page of %d MiB at the rate"
              % (args.size // MiB, args.ws // MiB))
        by_setup = {}
        for row in plan(args):
            by_setup.setdefault(row[0], []).append(row)
        for setup, rows in by_setup.items():
            hosts = b.make_hosts(setup)
            try:
                if setup != "loopback":
                    mbps = b.probe_link(*hosts)
                    print("link %s: one TCP stream moves %s MB/s" % (SETUP_NAMES[setup][1], fmt(mbps, ".0f", "?")))
                if not args.no_hpvm:
                    shared = os.path.join(b.workdir, "shared-" + setup)
                    os.makedirs(shared, exist_ok=True)
                    for h in hosts:
                        b.start_hpvmd(h, shared)
                for row in rows:
                    _, profile, workload = row
                    image = b.image(profile, args.size)
                    res = []
                    if not args.no_hpvm:
                        log("migbench: %s %s %s: hpvm" % row)
                        try:
                            res.append(b.run_hpvm(hosts, args.size, image, workload))
                        except Fail as e:
                            res.append({"system": "hpvm", "variant": "", "error": str(e).splitlines()[0]})
                            log("migbench: %s" % e)
                    if not args.no_qemu:
                        for v in qemu_variants(args, workload):
                            log("migbench: %s %s %s: QEMU %s" % (row + (v,)))
                            try:
                                res.append(b.run_qemu(hosts, args.size, image, workload, v))
                            except Fail as e:
                                res.append({"system": "QEMU 7.2", "variant": v, "error": str(e).splitlines()[0]})
                                log("migbench: %s" % e)
                    results.append((row, res))
            finally:
                b.teardown_hosts(hosts)
        print_table(b, results)
    finally:
        b.cleanup()


def parse_size(s):
    m = re.fullmatch(r"(\d+)([KMG]?)(i?B)?", s, re.I)
    if not m:
        raise SystemExit("migbench: %s is not a size (e.g. 256M, 2G)" % s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2).upper()]


def qemu_version():
    try:
        out = subprocess.run(["qemu-system-x86_64", "--version"], capture_output=True, text=True).stdout
        return out.split()[3]
    except (OSError, IndexError):
        return "?"


if __name__ == "__main__":
    main()
