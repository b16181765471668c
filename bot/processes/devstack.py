"""Start the real processes of the stack on free ports with their own database: for end-to-end
tests and the benchmark. Each process is started exactly as the Procfile does (`python -m bot launch`)."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

import httpx

from bot.core.settings import ROOT, Settings
from bot.processes.model_files import model_path

PORT_RANGE = "DOORSTEP_PORT_RANGE"  # "first-last": take ports from this range (tests/conftest.py, per xdist worker)
_port_cursor: dict[str, int] = {}


def free_port() -> int:
    """A free port on 127.0.0.1 for a process about to start: the kernel's pick, or with
    DOORSTEP_PORT_RANGE set the next free one of that range. Two test workers starting processes at once
    could otherwise both be handed one port between its probe here and its use by the process."""
    span = os.environ.get(PORT_RANGE)
    if not span:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])
    first, last = (int(part) for part in span.split("-", 1))
    size = last - first + 1
    start = _port_cursor.get(span, random.randrange(size))
    for step in range(size):
        offset = (start + step) % size
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", first + offset))
            except OSError:  # in use
                continue
        _port_cursor[span] = offset + 1
        return first + offset
    raise RuntimeError(f"no free port in {PORT_RANGE}={span}")


class Stack:
    def __init__(self, workdir: Path, *, processes: Iterable[str] = ("rasa", "actions", "web"),
                 database_url: str | None = None, extra_env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.processes = tuple(processes)
        workdir.mkdir(parents=True, exist_ok=True)
        ports = {"web": free_port(), "rasa": free_port(), "actions": free_port()}
        self.env = {
            "DATABASE_URL": database_url or f"sqlite:///{workdir / 'doorstep.db'}",
            "RASA_TRACKER_URL": f"sqlite:///{workdir / 'tracker.db'}",
            "WEB_PORT": str(ports["web"]), "RASA_PORT": str(ports["rasa"]), "ACTIONS_PORT": str(ports["actions"]),
            "RASA_URL": f"http://127.0.0.1:{ports['rasa']}",
            "RASA_PUBLIC_URL": f"http://127.0.0.1:{ports['rasa']}",
            "WEB_INTERNAL_URL": f"http://127.0.0.1:{ports['web']}",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{ports['web']}",
            "ACTION_SERVER_URL": f"http://127.0.0.1:{ports['actions']}/webhook",
            "SANDBOX_TICK_SECONDS": "1",
            # Tests and benchmarks speak for many customers from one address: per-client limits off
            # unless a test sets them (tests/security).
            "CHAT_MESSAGES_PER_MINUTE": "60000", "CHAT_BURST": "10000", "VERIFY_FAILURES_PER_CLIENT": "100000",
            **(extra_env or {}),
        }
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []

    @property
    def settings(self) -> Settings:
        """The settings the processes run with (same environment, no `.env`)."""
        saved = dict(os.environ)
        try:
            os.environ.update(self.env)
            return Settings(_env_file=None)  # type: ignore[call-arg]
        finally:
            os.environ.clear()
            os.environ.update(saved)

    def _environ(self) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if not k.startswith(("TWILIO_", "SMS_", "SENDGRID_"))}
        return {**base, **self.env, "PYTHONPATH": str(ROOT)}

    def setup(self) -> None:
        subprocess.run([sys.executable, "-m", "bot", "setup"], cwd=ROOT, env=self._environ(), check=True,
                       capture_output=True)

    def start(self, timeout: float = 180.0) -> None:
        if "rasa" in self.processes and not model_path().exists():
            raise RuntimeError(f"no trained model at {model_path()}: run `make model` (`make test` trains it first)")
        self.setup()
        for name in self.processes:
            self._launch(name)
        self.wait_ready(timeout)

    def _launch(self, name: str) -> None:
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self._procs[name] = subprocess.Popen(
            [sys.executable, "-m", "bot", "launch", name], cwd=ROOT, env=self._environ(),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def restart(self, name: str, timeout: float = 180.0) -> None:
        """Stop one process (SIGTERM, as a deploy would) and start it again."""
        proc = self._procs[name]
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
        self._launch(name)
        self.wait_ready(timeout)

    def _probes(self) -> dict[str, tuple[str, dict[str, str]]]:
        s = self.settings
        return {
            "rasa": (f"{s.rasa_url}/status", {"token": s.rasa_token}),
            "actions": (s.action_server_url.rsplit("/webhook", 1)[0] + "/health", {}),
            "web": (f"{s.web_internal_url}/api/openapi.json", {}),
        }

    def wait_ready(self, timeout: float) -> float:
        """Wait until every started process answers its health probe; returns the seconds waited."""
        started = time.monotonic()
        deadline = started + timeout
        pending = {name for name in self._procs if name in self._probes()}
        while pending:
            for name in list(pending):
                proc = self._procs[name]
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited ({proc.returncode}):\n{self.log(name)[-3000:]}")
                url, params = self._probes()[name]
                try:
                    if httpx.get(url, params=params, timeout=2).status_code == 200:
                        pending.discard(name)
                except httpx.HTTPError:
                    pass
            if time.monotonic() > deadline:
                raise TimeoutError(f"not ready after {timeout}s: {sorted(pending)}")
            time.sleep(0.3)
        return time.monotonic() - started

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def pid(self, name: str) -> int:
        return self._procs[name].pid

    def stop(self) -> None:
        for proc in self._procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self._procs.values():
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        self._procs.clear()
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> Stack:
        try:
            self.start()
        except BaseException:
            self.stop()  # what did start must not outlive a failed start
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


SUPERVISOR_CONFIG = ROOT / "deploy" / "supervisord.conf"


class SupervisedStack(Stack):
    """All four processes under supervisord, with the shipped deploy/supervisord.conf (its var/ paths
    moved into the work directory): a process that dies is started again by supervisord, as in
    production. For the supervisor test and the fault run."""

    def __init__(self, workdir: Path, *, database_url: str | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
        super().__init__(workdir, processes=("rasa", "actions", "web", "scheduler"), database_url=database_url,
                         extra_env=extra_env)
        self.config = workdir / "supervisord.conf"
        self._bin = Path(sys.executable).parent
        self._supervisord: subprocess.Popen[bytes] | None = None

    def _render_config(self) -> None:
        text = SUPERVISOR_CONFIG.read_text()
        text = text.replace("%(here)s/../var", str(self.workdir)).replace("%(here)s/..", str(ROOT))
        (self.workdir / "log").mkdir(exist_ok=True)
        self.config.write_text(text)

    def start(self, timeout: float = 180.0) -> None:
        if "rasa" in self.processes and not model_path().exists():
            raise RuntimeError(f"no trained model at {model_path()}: run `make model` (`make test` trains it first)")
        self.setup()
        self._render_config()
        log = open(self.workdir / "supervisord.out", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self._supervisord = subprocess.Popen(
            [str(self._bin / "supervisord"), "--nodaemon", "-c", str(self.config)], cwd=ROOT,
            env=self._environ(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.wait_ready(timeout)

    def ctl(self, *args: str) -> str:
        """A supervisorctl command against this stack's supervisord; its output."""
        done = subprocess.run([str(self._bin / "supervisorctl"), "-c", str(self.config), *args], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
        return done.stdout.strip()

    def pid(self, name: str) -> int:
        """The running process's pid, 0 while it is down."""
        answer = self.ctl("pid", f"doorstep:{name}")
        return int(answer) if answer.isdigit() else 0

    def kill(self, name: str, sig: int = signal.SIGKILL) -> int:
        """Kill one process as a crash would (not through supervisord); returns the pid killed."""
        pid = self.pid(name)
        if not pid:
            raise RuntimeError(f"{name} is not running")
        os.kill(pid, sig)
        return pid

    def _up(self, name: str) -> bool:
        """RUNNING for supervisord (up for `startsecs`: it did not die at start, e.g. unable to bind
        its port), and answering its health probe if it has one."""
        if "RUNNING" not in self.ctl("status", f"doorstep:{name}"):
            return False
        probe = self._probes().get(name)
        if probe is None:  # the scheduler
            return True
        url, params = probe
        try:
            return httpx.get(url, params=params, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def wait_ready(self, timeout: float, names: Iterable[str] | None = None, *, not_pid: int = 0) -> float:
        """Wait until the processes answer (and, if `not_pid` is given, run as another process than
        that one); returns the seconds waited."""
        started = time.monotonic()
        pending = set(names or self.processes)
        while pending:
            if self._supervisord is not None and self._supervisord.poll() is not None:
                raise RuntimeError(f"supervisord exited ({self._supervisord.returncode})")
            for name in list(pending):
                pid = self.pid(name)
                if pid and pid != not_pid and self._up(name):
                    pending.discard(name)
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"not ready after {timeout}s: {sorted(pending)}")
            time.sleep(0.3)
        return time.monotonic() - started

    def restart(self, name: str, timeout: float = 180.0) -> None:
        self.ctl("restart", f"doorstep:{name}")
        self.wait_ready(timeout, [name])

    def log(self, name: str) -> str:
        path = self.workdir / "log" / f"{name}.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def stop(self) -> None:
        if self._supervisord is not None and self._supervisord.poll() is None:
            programs = [pid for pid in map(self.pid, self.processes) if pid]
            os.kill(self._supervisord.pid, signal.SIGTERM)  # stops every program (stopasgroup) first
            try:
                self._supervisord.wait(timeout=90)
            except subprocess.TimeoutExpired:
                for pid in [self._supervisord.pid, *programs]:  # each program has its own group
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(pid, signal.SIGKILL)
                self._supervisord.wait()
        self._supervisord = None
        for log in self._logs:
            log.close()
        self._logs.clear()


class ScaledStack(Stack):
    """The scaled set on free ports (issue 17): HAProxy with the configuration `make run-scaled` uses,
    in front of `rasa` Rasa replicas, `actions` action servers and `web` web replicas, with Rasa's
    tracker store in the (PostgreSQL) database and its locks and web chat rooms in Redis."""

    def __init__(self, workdir: Path, *, database_url: str, redis_url: str, rasa: int = 2, actions: int = 1,
                 web: int = 1, extra_env: dict[str, str] | None = None) -> None:
        from bot.processes.scaled import Topology

        self.topology = Topology(rasa_front=free_port(), actions_front=free_port(), web_front=free_port(),
                                 stats=free_port(), rasa=tuple(free_port() for _ in range(rasa)),
                                 actions=tuple(free_port() for _ in range(actions)),
                                 web=tuple(free_port() for _ in range(web)), workers=0)
        t = self.topology
        names = [f"rasa{n + 1}" for n in range(rasa)] + [f"actions{n + 1}" for n in range(actions)] + \
            [f"web{n + 1}" for n in range(web)]
        super().__init__(workdir, processes=names, database_url=database_url, extra_env={
            "RASA_TRACKER_URL": database_url, "RASA_REDIS_URL": redis_url,
            "WEB_PORT": str(t.web_front), "RASA_PORT": str(t.rasa_front), "ACTIONS_PORT": str(t.actions_front),
            "RASA_URL": f"http://127.0.0.1:{t.rasa_front}", "RASA_PUBLIC_URL": f"http://127.0.0.1:{t.rasa_front}",
            "WEB_INTERNAL_URL": f"http://127.0.0.1:{t.web_front}", "PUBLIC_BASE_URL": f"http://127.0.0.1:{t.web_front}",
            "ACTION_SERVER_URL": f"http://127.0.0.1:{t.actions_front}/webhook",
            **(extra_env or {})})

    def port(self, name: str) -> int:
        """The port replica `name` (rasa1, actions2, web1, ...) listens on itself."""
        kind, number = name.rstrip("0123456789"), int(name[len(name.rstrip("0123456789")):])
        ports: tuple[int, ...] = getattr(self.topology, kind)
        return ports[number - 1]

    def _replica_env(self, name: str) -> dict[str, str]:
        kind = name.rstrip("0123456789")
        port = str(self.port(name))
        if kind == "rasa":
            return {"RASA_PORT": port, "RASA_PROXIES_COUNT": "1"}
        if kind == "actions":
            return {"ACTIONS_PORT": port}
        return {"WEB_PORT": port, "TRUSTED_PROXIES": "127.0.0.1"}

    def _launch(self, name: str) -> None:
        import shutil

        from bot.processes.scaled import haproxy_config

        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        if name == "haproxy":
            config = self.workdir / "haproxy.cfg"
            config.write_text(haproxy_config(self.topology))
            argv = [shutil.which("haproxy") or "/usr/sbin/haproxy", "-db", "-f", str(config)]
            env = self._environ()
        else:
            argv = [sys.executable, "-m", "bot", "launch", name.rstrip("0123456789")]
            env = {**self._environ(), **self._replica_env(name)}
        self._procs[name] = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                                             start_new_session=True)

    def start(self, timeout: float = 240.0) -> None:
        if not model_path().exists():
            raise RuntimeError(f"no trained model at {model_path()}: run `make model` (`make test` trains it first)")
        self.setup()
        self._launch("haproxy")
        for name in self.processes:
            self._launch(name)
        self.wait_ready(timeout)

    def _probes(self) -> dict[str, tuple[str, dict[str, str]]]:
        token = {"token": self.settings.rasa_token}
        probes: dict[str, tuple[str, dict[str, str]]] = {"haproxy": (f"http://127.0.0.1:{self.topology.stats}/", {})}
        for name in self.processes:
            kind = name.rstrip("0123456789")
            path = {"rasa": "/status", "actions": "/health", "web": "/api/openapi.json"}[kind]
            probes[name] = (f"http://127.0.0.1:{self.port(name)}{path}", token if kind == "rasa" else {})
        return probes

    def wait_ready(self, timeout: float) -> float:
        """Every running process answers, and HAProxy's checks have found each running replica up."""
        started = time.monotonic()
        super().wait_ready(timeout)
        while not self._balanced():
            if time.monotonic() - started > timeout:
                raise TimeoutError(f"HAProxy did not find every replica up in {timeout}s")
            time.sleep(0.3)
        return time.monotonic() - started

    def _balanced(self) -> bool:
        try:
            csv = httpx.get(f"http://127.0.0.1:{self.topology.stats}/;csv", timeout=5).text
        except httpx.HTTPError:
            return False
        rows = [line.split(",") for line in csv.splitlines() if line and not line.startswith("#")]
        servers = [row for row in rows if row[1] not in ("FRONTEND", "BACKEND") and row[1] in self._procs]
        return bool(servers) and all(row[17] == "UP" for row in servers)

    def kill(self, name: str) -> None:
        """SIGKILL one replica (and whatever it started), as a machine failing would."""
        proc = self._procs.pop(name)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)

    def restart(self, name: str, timeout: float = 240.0) -> None:
        if name in self._procs and self._procs[name].poll() is None:
            os.killpg(self._procs[name].pid, signal.SIGTERM)
            self._procs[name].wait(timeout=30)
        self._launch(name)
        self.wait_ready(timeout)

    def served(self, backend: str) -> dict[str, int]:
        """Requests each Rasa replica got from one HAProxy backend (rasa_rest, rasa_sms, ...) so far."""
        csv = httpx.get(f"http://127.0.0.1:{self.topology.stats}/;csv", timeout=5).text
        rows = [line.split(",") for line in csv.splitlines() if line and not line.startswith("#")]
        return {row[1]: int(row[7] or 0) for row in rows if row[0] == backend and row[1] not in ("FRONTEND", "BACKEND")}
