#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-or-later
"""kill -9 wg-activator at random moments while it activates and expires
sessions, and watch its WireGuard interface (tests/integration/
activator_kill9.sh).

  activator_chaos.py --bin WG-ACTIVATOR --conf CONF --sock SOCKET
                     --uapi UAPI-SOCKET --keys FILE --log FILE --pidfile FILE
                     [--seed N] [--activations N] [--durations 2,3,4,5]

FILE --keys holds "USER DEVICE PUBLIC-KEY" lines. Three threads:

- the client activates a random device for a random duration, over and
  over, until --activations requests were acknowledged (requests that fail
  because the daemon is down are retried later; a request cut by a kill has
  an unknown outcome and is resolved after the restart from `list`);
- the killer starts the daemon, lets it live a random while (sometimes
  only through its start-up reconcile), kill -9s it, leaves it down a
  random while (sessions expire meanwhile) and starts it again; after each
  start it checks that every acknowledged session not yet expired is in
  `list` and its peer on the interface;
- the monitor reads the interface's peers over UAPI every few ms and
  checks that (a) the peer of every acknowledged, unexpired session is
  there, and (b) no peer outlives its session's expiry by more than the
  time the daemon was up since (its lateness: the daemon cannot remove
  anything while it is dead, but must within 1 s once it is back).

The random choices come from --seed (two generators, so the schedule of
requests and of kills replays; the exact moments depend on timing). The
daemon's pid is kept in --pidfile for the caller's cleanup. Prints
"name value" result lines on stdout, problems as "# ..." lines.
"""

import argparse
import base64
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time

POLL = 0.01		# monitor period, s
START_TIMEOUT = 10.0	# a start that takes longer is a failure


def log(msg):
    print(f"# {msg}", flush=True)


class Daemon:
    """wg-activator, its up-intervals, and the pid file."""

    def __init__(self, a):
        self.a = a
        self.proc = None
        self.intervals = []	# [spawn, death or None]
        self.logf = open(a.log, "ab")

    def start(self):
        t = time.time()
        self.proc = subprocess.Popen([self.a.bin, "-c", self.a.conf, "-f"],
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=self.logf)
        with open(self.a.pidfile + ".tmp", "w") as f:
            f.write(f"{self.proc.pid}\n")
        os.rename(self.a.pidfile + ".tmp", self.a.pidfile)
        return t

    def kill9(self):
        """Returns the exit status if it had died on its own, else None."""
        st = self.proc.poll()
        if st is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        return st

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait()


def request(path, obj, timeout=5.0):
    """One request on a new connection; the reply object, or raises."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(json.dumps(obj).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            d = s.recv(65536)
            if not d:
                raise ConnectionResetError("connection closed without a reply")
            buf += d
        return json.loads(buf)
    finally:
        s.close()


def uapi_peers(path):
    """The interface's peers (hex public keys)."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.settimeout(5)
        s.connect(path)
        s.sendall(b"get=1\n\n")
        buf = b""
        while not buf.endswith(b"\n\n"):
            d = s.recv(65536)
            if not d:
                break
            buf += d
    finally:
        s.close()
    peers = set()
    for line in buf.decode().splitlines():
        if line.startswith("public_key="):
            peers.add(line[11:])
        elif line.startswith("errno=") and line != "errno=0":
            raise OSError(f"uapi: {line}")
    return peers


class Key:
    def __init__(self, user, device, b64):
        self.user, self.device, self.b64 = user, device, b64
        self.hex = base64.b64decode(b64).hex()
        self.acked = 0		# expiry of the latest acknowledged activation
        self.possible = 0	# the latest expiry it may have (acked or not)
        self.uncertain = None	# upper bound of a request cut by a kill
        self.inflight = False
        self.sent = 0.0		# when the last request was sent


class Chaos:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.keys = []
        for line in open(a.keys):
            user, device, b64 = line.split()
            self.keys.append(Key(user, device, b64))
        self.by_hex = {k.hex: k for k in self.keys}
        self.durations = [int(x) for x in a.durations.split(",")]
        self.daemon = Daemon(a)
        self.stop_killing = threading.Event()
        self.stop_monitor = threading.Event()
        self.kill_delay = None	# set by the killer: kill inside the next request
        self.killed_in_request = threading.Event()
        self.acks = 0
        self.refused = 0	# daemon down: connection refused or no socket
        self.cut = 0		# sent, no reply: the daemon was killed
        self.kills = 0
        self.kinds = {}
        self.starts = 0
        self.start_failures = 0
        self.died = 0		# exited before we killed it
        self.lost = 0		# acknowledged live session without its peer / in list
        self.late = 0		# peers more than 1 s past expiry while up
        self.worst = 0.0
        self.worst_what = ""
        self.removals = 0
        self.overdue = 0	# peers seen past their expiry (whatever the daemon's state)
        self.samples = 0
        self.errors = []

    # --- up-time of the daemon ---------------------------------------------
    def uptime_since(self, since, until):
        """Seconds the daemon was up between since and until."""
        up = 0.0
        for s, d in self.daemon.intervals:
            end = until if d is None else min(d, until)
            beg = max(s, since)
            if end > beg:
                up += end - beg
        return up

    def problem(self, msg):
        if len(self.errors) < 20:
            self.errors.append(msg)
            log(msg)

    # --- the client -----------------------------------------------------------
    def client(self):
        rng = random.Random(self.a.seed)
        n = 0
        while self.acks < self.a.activations:
            k = rng.choice(self.keys)
            d = rng.choice(self.durations)
            gap = rng.uniform(0, 0.05)
            n += 1
            with self.lock:
                k.inflight = True
                k.sent = time.time()
            req = {"version": 1, "op": "activate", "user": k.user, "device": k.device,
                   "duration": d, "origin": "chaos", "id": n}
            sent = False
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.settimeout(10)
                try:
                    s.connect(self.a.sock)
                    s.sendall(json.dumps(req).encode() + b"\n")
                    sent = True
                    self.kill_in_request()
                    buf = b""
                    while not buf.endswith(b"\n"):
                        chunk = s.recv(65536)
                        if not chunk:
                            raise ConnectionResetError("closed")
                        buf += chunk
                finally:
                    s.close()
                r = json.loads(buf)
                if not r.get("ok") or r.get("id") != n:
                    self.problem(f"activate {k.user}: refused: {r}")
                    with self.lock:
                        k.inflight = False
                    continue
                with self.lock:
                    e = r["expires"]
                    if e < k.acked:
                        self.problem(f"{k.user}: an activation shortened the session "
                                     f"({k.acked} -> {e})")
                    k.acked = max(k.acked, e)
                    k.possible = max(k.possible, e)
                    k.inflight = False
                    self.acks += 1
            except (ConnectionRefusedError, FileNotFoundError, ConnectionResetError,
                    BrokenPipeError, socket.timeout, json.JSONDecodeError, OSError) as ex:
                now = time.time()
                with self.lock:
                    if sent:
                        # the daemon may have stored it: expires <= now + d
                        self.cut += 1
                        ub = int(now) + d
                        k.uncertain = max(k.uncertain or 0, ub)
                        k.possible = max(k.possible, ub)
                    else:
                        self.refused += 1
                    k.inflight = False
                if isinstance(ex, socket.timeout):
                    self.problem(f"activate {k.user}: no reply within 10 s")
                time.sleep(0.02)
                continue
            time.sleep(gap)
        self.stop_killing.set()

    def kill_in_request(self):
        """In the client, right after a request went out: the kill the
        killer asked for, a few ms into the daemon's handling of it."""
        with self.lock:
            delay, self.kill_delay = self.kill_delay, None
        if delay is None:
            return
        end = time.perf_counter() + delay
        while time.perf_counter() < end:
            pass
        self.daemon.proc.send_signal(signal.SIGKILL)
        self.killed_in_request.set()

    # --- the killer -----------------------------------------------------------
    def start_daemon(self):
        """Start and wait until it answers; returns when it is up."""
        while True:
            spawn = self.daemon.start()
            with self.lock:
                self.daemon.intervals.append([spawn, None])
            self.starts += 1
            end = spawn + START_TIMEOUT
            while time.time() < end:
                try:
                    r = request(self.a.sock, {"version": 1, "op": "ping"}, 2)
                    if r.get("ok") and r.get("pid") == self.daemon.proc.pid:
                        return
                except OSError:
                    pass
                if self.daemon.proc.poll() is not None:
                    break
                time.sleep(0.005)
            self.start_failures += 1
            self.problem(f"wg-activator did not start (status {self.daemon.proc.poll()})")
            self.daemon.kill9()
            with self.lock:
                self.daemon.intervals[-1][1] = time.time()
            if self.start_failures > 3:
                raise RuntimeError("wg-activator does not start")
            time.sleep(0.5)

    def check_after_start(self):
        """Every acknowledged live session is listed and on the interface."""
        with self.lock:
            want = {k.hex: k.acked for k in self.keys if k.acked}
        try:
            r = request(self.a.sock, {"version": 1, "op": "list"})
            t = time.time()
        except OSError:
            return		# killed meanwhile (a kill right after the start)
        listed = {base64.b64decode(s["public_key"]).hex(): s["expires"]
                  for s in r.get("sessions", [])}
        with self.lock:
            for h, e in want.items():
                k = self.by_hex[h]
                if e > t and listed.get(h, 0) < e:
                    self.lost += 1
                    self.problem(f"after restart: {k.user}'s session (expires {e}) "
                                 f"is {'missing' if h not in listed else 'shorter'} "
                                 f"in list")
            # Resolve the requests cut by kills: the store now tells.
            for k in self.keys:
                if k.uncertain is None or k.inflight:
                    continue
                if k.hex in listed:
                    k.possible = max(k.acked, listed[k.hex])
                else:
                    k.possible = max(k.acked, min(k.uncertain, t))
                k.uncertain = None

    def pick_moment(self, rng):
        """Wait for the moment of the next kill: a random one, one inside a
        request (just after it was sent), or one just after an expiry."""
        how = rng.random()
        if how < 0.3:
            self.killed_in_request.clear()
            with self.lock:
                self.kill_delay = 0 if rng.random() < 0.3 else rng.uniform(0, 0.003)
            if self.killed_in_request.wait(2):
                return "request"
            with self.lock:
                self.kill_delay = None
            return "random"
        if how < 0.55:
            now = time.time()
            with self.lock:
                due = [k.possible for k in self.keys if k.possible > now]
            if due:
                self.stop_killing.wait(min(due) - now + rng.uniform(0, 0.004))
                return "expiry"
        # usually a while, sometimes only through the start-up reconcile
        self.stop_killing.wait(rng.uniform(0, 0.03) if rng.random() < 0.2
                               else rng.uniform(0.05, 1.2))
        return "random"

    def killer(self):
        rng = random.Random(self.a.seed + 1)
        self.start_daemon()
        self.check_after_start()
        while not self.stop_killing.is_set():
            down = 0 if rng.random() < 0.2 else rng.uniform(0, 1.0)
            how = self.pick_moment(rng)
            if self.stop_killing.is_set():
                break
            st = self.daemon.kill9() if how != "request" else self.daemon.proc.wait() and None
            with self.lock:
                self.daemon.intervals[-1][1] = time.time()
            self.kills += 1
            self.kinds[how] = self.kinds.get(how, 0) + 1
            if st is not None:
                self.died += 1
                self.problem(f"wg-activator had exited by itself (status {st})")
            time.sleep(down)
            self.start_daemon()
            self.check_after_start()

    # --- the monitor -------------------------------------------------------
    def monitor(self):
        before = set()
        while not self.stop_monitor.is_set():
            with self.lock:
                acked = {k.hex: k.acked for k in self.keys}
            t0 = time.time()
            try:
                peers = uapi_peers(self.a.uapi)
            except OSError as ex:
                self.problem(f"monitor: {ex}")
                time.sleep(POLL)
                continue
            t1 = time.time()
            self.samples += 1
            with self.lock:
                for k in self.keys:
                    present = k.hex in peers
                    if not present and acked[k.hex] > t1:
                        self.lost += 1
                        self.problem(f"{k.user}: peer missing at {t1:.3f}, session "
                                     f"acknowledged until {acked[k.hex]}")
                    if not present or k.inflight or k.sent >= t0 or k.uncertain is not None:
                        continue
                    if k.possible > t0:
                        continue
                    late = self.uptime_since(k.possible, t0)
                    self.overdue += 1
                    if late > self.worst:
                        self.worst = late
                        self.worst_what = f"{k.user} expiry {k.possible}"
                    if late > 1.0:
                        self.late += 1
                        self.problem(f"{k.user}: peer still there {late:.3f} s of up-time "
                                     f"after its expiry {k.possible}")
                gone = {h for h in before - peers if h in self.by_hex}
                self.removals += len(gone)
            before = peers
            time.sleep(POLL)

    def run(self):
        mon = threading.Thread(target=self.monitor, daemon=True)
        kil = threading.Thread(target=self.killer, daemon=True)
        mon.start()
        kil.start()
        t_begin = time.time()
        try:
            self.client()
            kil.join()
            # Quiet: the daemon is up; every session must end on time.
            with self.lock:
                last = max(k.possible for k in self.keys)
            while time.time() < last + 1.5:
                time.sleep(0.1)
            self.stop_monitor.set()
            mon.join()
            peers = uapi_peers(self.a.uapi)
            left = [self.by_hex[h].user for h in peers if h in self.by_hex]
            sessions = request(self.a.sock, {"version": 1, "op": "list"}).get("sessions")
            alive = self.daemon.proc.poll() is None
        finally:
            self.stop_killing.set()
            self.stop_monitor.set()
            self.daemon.stop()
        print(f"seconds {time.time() - t_begin:.1f}")
        print(f"acknowledged {self.acks}")
        print(f"cut {self.cut}")
        print(f"refused {self.refused}")
        print(f"kills {self.kills}")
        print("kinds " + ", ".join(f"{v} {k}" for k, v in sorted(self.kinds.items())))
        print(f"starts {self.starts}")
        print(f"start_failures {self.start_failures}")
        print(f"died {self.died}")
        print(f"removals {self.removals}")
        print(f"samples {self.samples}")
        print(f"lost {self.lost}")
        print(f"late {self.late}")
        print(f"overdue {self.overdue}")
        print(f"worst_ms {self.worst * 1000:.0f}")
        print(f"worst_what {self.worst_what or '-'}")
        print(f"peers_left {len(left)}")
        print(f"sessions_left {len(sessions) if sessions is not None else -1}")
        print(f"alive_at_end {1 if alive else 0}")
        print(f"problems {len(self.errors)}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--conf", required=True)
    p.add_argument("--sock", required=True)
    p.add_argument("--uapi", required=True)
    p.add_argument("--keys", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--pidfile", required=True)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--activations", type=int, default=1000)
    p.add_argument("--durations", default="2,3,4,5")
    a = p.parse_args()
    if a.seed is None:
        a.seed = random.SystemRandom().randrange(1, 2**31)
    Chaos(a).run()


if __name__ == "__main__":
    main()
