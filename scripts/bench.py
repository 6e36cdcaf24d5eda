"""`make bench`: load test of the REST channel, beside a stock Rasa yardstick.

What it does (DESIGN.md, "How speed is measured"):

1. Starts Digor (scripts/stack.py: Rasa server, action server, backlog
   service, on the embedded default: SQLite files in a temporary folder) and a
   stock Rasa server: `rasa init`'s project with `language: fr`, trained once
   on its own data (kept in bench-results/yardstick/ for the next runs).
2. For N = 1, 10, 50, 100, 200 concurrent conversations, in two modes:
   closed loop (the next message leaves as soon as the answer comes: the
   saturation throughput) and 5 s of think time per message (what people
   do), sends realistic French intake conversations to
   `POST /webhooks/rest/webhook` of both servers, one after the other.
   It measures latency per message (p50/p95/p99), messages per second,
   errors (HTTP error, time-out, no answer at all) and the peak memory and
   CPU of each process.
3. Stops the servers, then times `Agent.parse_message` alone (the NLU) on
   both models, in this process.
4. Writes bench-results/bench-<time>.json (and latest.json) and a plot
   (.png), and prints a table with the ratios to the yardstick.

Settings (environment): BENCH_QUICK=1 (a smoke run: N = 1 and 10, 8 s per
level), BENCH_LEVELS ("1,10,50"), BENCH_MODES ("closed,think"),
BENCH_DURATION (seconds per level, 45 by default), BENCH_THINK (5),
BENCH_YARDSTICK=0 (Digor only), BENCH_NLU=0 (no NLU timing), BENCH_DB_URL (an empty PostgreSQL database for
the backlog and the tracker store instead of SQLite; with DIGOR_LOCK_STORE=redis
the lock store is Redis), BENCH_PROFILE=1 (py-spy samples the Rasa
server and the action server during the closed loop at N = 50, when py-spy is
installed), BENCH_OUT (bench-results/).

The load comes from an asyncio + aiohttp client in this process rather than
Locust: one coroutine per conversation costs little (the client's own CPU
time per message is in the results, to check it stays small beside the
server's), and it needs no extra dependency.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import aiohttp

from scripts.stack import ROOT, VENV_BIN, Stack, default_env, is_up, latest_model

OUT = Path(os.environ.get("BENCH_OUT") or ROOT / "bench-results")
QUICK = os.environ.get("BENCH_QUICK") == "1"
LEVELS = [int(n) for n in (os.environ.get("BENCH_LEVELS") or ("1,10" if QUICK else "1,10,50,100,200")).split(",")]
MODES = (os.environ.get("BENCH_MODES") or "closed,think").split(",")
DURATION = float(os.environ.get("BENCH_DURATION") or (8 if QUICK else 45))
THINK = float(os.environ.get("BENCH_THINK") or 5)
WITH_YARDSTICK = os.environ.get("BENCH_YARDSTICK", "1") != "0"
PROFILE = os.environ.get("BENCH_PROFILE") == "1"
PROFILE_LEVEL = int(os.environ.get("BENCH_PROFILE_LEVEL") or 50)
REQUEST_TIMEOUT = 60.0

# Realistic French intake conversations: how people write (typos, no accents,
# long stories, details given early, "je ne sais pas"), each ending with the
# confirmation that files the ticket.
CONVERSATIONS: List[List[str]] = [
    ["bonjour",
     "le car de 7h ne passe jamais depuis la rentrée, mes enfants arrivent en retard au lycée",
     "à Quimperlé", "tous les matins", "oui"],
    ["bjr", "jai pa pu fer ma demande de bourse sur le site, sa bug a chaque fois",
     "Rennes", "a chaque fois que j'essaie", "oui c'est ça"],
    ["Bonjour, depuis 3 mois le RSA n'est pas versé et personne ne répond au téléphone à la CAF de Brest",
     "tous les mois", "oui"],
    ["salut", "impossible de prendre rendez-vous pour une carte d'identité à la mairie, il n'y a jamais de créneau",
     "à Vannes", "je ne sais pas", "oui"],
    ["bonsoir",
     "Ma mère a 82 ans, elle n'a pas internet et on lui demande de tout faire en ligne pour sa retraite. "
     "Elle a appelé plusieurs fois, on la renvoie vers le site. Elle ne sait pas quoi faire.",
     "Lannion", "depuis janvier, à chaque démarche", "oui"],
    ["bonjour",
     "la dame appelle car son fils n'a plus de car le mercredi depuis la rentrée",
     "Saint-Brieuc", "toutes les semaines", "oui"],
]


# ---------------------------------------------------------------- processes

def _proc_tree(root_pid: int) -> List[int]:
    """`root_pid` and its descendants, read from /proc."""
    children: Dict[int, List[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root_pid]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def _rss_and_cpu(pids: List[int]) -> Tuple[int, float]:
    """Resident memory (bytes) and CPU seconds used so far by `pids`."""
    rss, cpu = 0, 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    page = os.sysconf("SC_PAGE_SIZE")
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            rss += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * page
        except (OSError, IndexError, ValueError):
            continue
        cpu += (int(fields[11]) + int(fields[12])) / ticks
    return rss, cpu


class Sampler:
    """Peak memory and CPU use of named processes (with their children) during a level."""

    def __init__(self, pids: Dict[str, int], interval: float = 0.5) -> None:
        self.pids = pids
        self.interval = interval
        self.peak: Dict[str, int] = {name: 0 for name in pids}
        self._cpu0: Dict[str, float] = {}
        self._t0 = 0.0
        self.cpu_percent: Dict[str, float] = {}
        self._task: Optional[asyncio.Task] = None

    def _sample(self) -> Dict[str, float]:
        cpu = {}
        for name, pid in self.pids.items():
            rss, seconds = _rss_and_cpu(_proc_tree(pid))
            self.peak[name] = max(self.peak[name], rss)
            cpu[name] = seconds
        return cpu

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            self._sample()

    def start(self) -> None:
        self._t0 = time.monotonic()
        self._cpu0 = self._sample()
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        cpu1 = self._sample()
        elapsed = max(time.monotonic() - self._t0, 1e-9)
        self.cpu_percent = {n: round(100 * (cpu1[n] - self._cpu0[n]) / elapsed, 1) for n in self.pids}


def start_yardstick(workdir: Path, port: int, log: Path) -> subprocess.Popen:
    """A stock Rasa server: `rasa init`'s project with language fr, trained on its own data."""
    cache = OUT / "yardstick"
    cache.mkdir(parents=True, exist_ok=True)
    models = sorted(cache.glob("*.tar.gz"))
    env = {**os.environ, "RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
    if not models:
        import rasa.cli.scaffold  # the folder `rasa init` copies

        project = workdir / "yardstick"
        shutil.copytree(Path(rasa.cli.scaffold.__file__).parent / "initial_project", project)
        config = project / "config.yml"
        config.write_text(config.read_text().replace("language: en", "language: fr"))
        print("Entraînement du modèle de référence (rasa init, language: fr)…", flush=True)
        subprocess.run(
            [str(VENV_BIN / "rasa"), "train", "--config", "config.yml", "--domain", "domain.yml",
             "--data", "data", "--out", str(cache), "--fixed-model-name", "yardstick"],
            cwd=project, env=env, check=True, stdout=subprocess.DEVNULL,
        )
        models = sorted(cache.glob("*.tar.gz"))
    credentials = workdir / "yardstick-credentials.yml"
    credentials.write_text("rest:\n")
    output = open(log, "ab")
    return subprocess.Popen(
        [str(VENV_BIN / "rasa"), "run", "--model", str(models[-1]), "--credentials", str(credentials),
         "--port", str(port)],
        cwd=workdir, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
    )


def wait_for(url: str, process: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not is_up(url):
        if process.poll() is not None:
            raise RuntimeError(f"{url}: the server stopped at start-up")
        if time.monotonic() > deadline:
            raise TimeoutError(f"{url} not up after {timeout:.0f} s")
        time.sleep(0.5)


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# ---------------------------------------------------------------- load

def percentile(values: List[float], q: float) -> Optional[float]:
    if not values:
        return None
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def _conversation_worker(
    session: aiohttp.ClientSession, url: str, worker: int, concurrency: int, stop_at: float,
    think: float, run_id: str, records: List[Dict[str, Any]], counts: Dict[str, int],
) -> None:
    rng = random.Random(worker)
    number = worker
    if think:
        # Spread the first messages over one think time, as people arrive.
        await asyncio.sleep(rng.uniform(0, think))
    while time.monotonic() < stop_at:
        script = CONVERSATIONS[number % len(CONVERSATIONS)]
        sender = f"bench-{run_id}-{worker}-{number}"
        finished = True
        for text in script:
            if time.monotonic() >= stop_at:
                finished = False
                break
            started = time.perf_counter()
            error = None
            empty = False
            try:
                async with session.post(url, json={"sender": sender, "message": text}) as answer:
                    body = await answer.read()
                    if answer.status != 200:
                        error = f"HTTP {answer.status}"
                    elif not json.loads(body):
                        # 200 with no message: Rasa's REST channel also answers so when
                        # handling the message raised (logged on the server).
                        empty = True
            except asyncio.TimeoutError:
                error = "time-out"
            except aiohttp.ClientError as exc:
                error = type(exc).__name__
            records.append({"latency": time.perf_counter() - started, "error": error, "empty": empty})
            if think:
                await asyncio.sleep(think)
        if finished:
            counts["conversations"] += 1
        number += concurrency


async def run_level(url: str, concurrency: int, think: float, duration: float,
                    pids: Dict[str, int]) -> Dict[str, Any]:
    records: List[Dict[str, Any]] = []
    counts = {"conversations": 0}
    run_id = uuid.uuid4().hex[:8]
    # The client drops idle connections before Sanic's 5 s keep-alive does,
    # so a closed connection is never reused (a client artefact, not an error).
    connector = aiohttp.TCPConnector(limit=0, keepalive_timeout=2)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT)
    sampler = Sampler(pids)
    cpu_start = resource.getrusage(resource.RUSAGE_SELF)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        sampler.start()
        started = time.monotonic()
        stop_at = started + duration
        await asyncio.gather(*(
            _conversation_worker(session, url, worker, concurrency, stop_at, think, run_id, records, counts)
            for worker in range(concurrency)
        ))
        ended = time.monotonic()
        await sampler.stop()
    cpu_end = resource.getrusage(resource.RUSAGE_SELF)
    latencies = [r["latency"] for r in records if r["error"] is None]
    errors: Dict[str, int] = {}
    for record in records:
        if record["error"]:
            errors[record["error"]] = errors.get(record["error"], 0) + 1
    window = max(ended - started, 1e-9)
    client_cpu = (cpu_end.ru_utime + cpu_end.ru_stime) - (cpu_start.ru_utime + cpu_start.ru_stime)

    def ms(value: Optional[float]) -> Optional[float]:
        return None if value is None else round(value * 1000, 1)

    return {
        "concurrency": concurrency,
        "think_seconds": think,
        "seconds": round(window, 1),
        "messages": len(records),
        "ok": len(latencies),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "empty_answers": sum(1 for r in records if r["empty"]),
        "conversations_completed": counts["conversations"],
        "messages_per_second": round(len(latencies) / window, 2),
        "p50_ms": ms(percentile(latencies, 50)),
        "p95_ms": ms(percentile(latencies, 95)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies) if latencies else None),
        "peak_rss_mb": {n: round(v / 2**20) for n, v in sampler.peak.items()},
        "cpu_percent": sampler.cpu_percent,
        "client_cpu_ms_per_message": round(1000 * client_cpu / max(len(records), 1), 2),
    }


async def server_errors(metrics_url: Optional[str]) -> Optional[int]:
    """Messages whose handling raised on the Rasa server (connectors/health.py metrics)."""
    if not metrics_url:
        return None
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            async with session.get(metrics_url) as answer:
                text = await answer.text()
    except aiohttp.ClientError:
        return None
    return int(sum(
        float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
        if line.startswith("digor_rasa_messages_total{") and 'outcome="error"' in line
    ))


# ---------------------------------------------------------------- profile

def start_profile(pid: int, name: str, seconds: int) -> Optional[subprocess.Popen]:
    py_spy = shutil.which("py-spy") or (str(VENV_BIN / "py-spy") if (VENV_BIN / "py-spy").exists() else None)
    if not py_spy:
        print("BENCH_PROFILE=1 mais py-spy n'est pas installé : pas de profil.", flush=True)
        return None
    return subprocess.Popen(
        [py_spy, "record", "--pid", str(pid), "--duration", str(seconds), "--rate", "50",
         "--format", "raw", "--output", str(OUT / f"profile-{name}.txt"), "--nonblocking"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


def summarise_profile(path: Path, top: int = 25) -> Dict[str, Any]:
    """Self and inclusive share of the samples, per function, from py-spy's collapsed stacks."""
    if not path.exists():
        return {}
    self_count: Dict[str, int] = {}
    inclusive: Dict[str, int] = {}
    total = 0
    idle = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = [frame.split(" (")[0] + " (" + frame.split(" (")[-1].split(":")[0].split("/")[-1] + ")"
                  if " (" in frame else frame for frame in stack.split(";")]
        total += count
        if frames and ("select (selectors.py)" in frames[-1] or "epoll" in frames[-1] or "_run_once" in frames[-1] and len(frames) < 6):
            idle += count
        self_count[frames[-1]] = self_count.get(frames[-1], 0) + count
        for frame in set(frames):
            inclusive[frame] = inclusive.get(frame, 0) + count

    def share(table: Dict[str, int]) -> List[Tuple[str, float]]:
        return [(name, round(100 * n / total, 1)) for name, n in sorted(table.items(), key=lambda x: -x[1])[:top]]

    return {"samples": total, "idle_percent": round(100 * idle / max(total, 1), 1),
            "self_percent": share(self_count), "inclusive_percent": share(inclusive)}


# ---------------------------------------------------------------- NLU alone

def quiet_rasa_logs() -> None:
    """Rasa logs every parse (texts included) through structlog at debug level."""
    import logging

    import structlog

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


async def nlu_latency(model: Path, repeats: int) -> Dict[str, Any]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(model))
    texts = [text for script in CONVERSATIONS for text in script]
    for text in texts[:5]:
        await agent.parse_message(text)
    latencies = []
    for _ in range(repeats):
        for text in texts:
            started = time.perf_counter()
            await agent.parse_message(text)
            latencies.append(time.perf_counter() - started)
    return {"parses": len(latencies), "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p95_ms": round(percentile(latencies, 95) * 1000, 1),
            "mean_ms": round(sum(latencies) / len(latencies) * 1000, 1)}


# ---------------------------------------------------------------- report

def ratio(ours: Optional[float], theirs: Optional[float]) -> Optional[float]:
    if ours is None or not theirs:
        return None
    return round(ours / theirs, 2)


def plot(results: Dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 3, figsize=(16, 4.8))
    styles = {"digor": "tab:blue", "yardstick": "tab:gray"}
    for system, rows in results["load"].items():
        for mode, marker in (("closed", "o-"), ("think", "s--")):
            selected = [r for r in rows if r["mode"] == mode]
            if not selected:
                continue
            n = [r["concurrency"] for r in selected]
            label = f"{system}, {'boucle fermée' if mode == 'closed' else f'{THINK:g} s de réflexion'}"
            axes[0].plot(n, [r["messages_per_second"] for r in selected], marker, color=styles[system], label=label)
            axes[1].plot(n, [r["p95_ms"] or float("nan") for r in selected], marker, color=styles[system], label=label)
            axes[2].plot(n, [r["errors"] for r in selected], marker, color=styles[system], label=label)
    axes[0].set_title("Messages par seconde")
    axes[1].set_title("Latence p95 par message (ms)")
    axes[1].set_yscale("log")
    axes[1].axhline(1000, color="tab:red", linewidth=0.8, linestyle=":")
    axes[2].set_title("Erreurs (HTTP, délai dépassé)")
    levels = sorted({r["concurrency"] for rows in results["load"].values() for r in rows})
    for axis in axes:
        axis.set_xlabel("Conversations simultanées")
        axis.set_xscale("log")
        axis.set_xticks(levels)
        axis.set_xticklabels([str(n) for n in levels])
        axis.minorticks_off()
        axis.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    figure.suptitle(f"make bench — {results['started_at']} — {results['machine']['cpus']} cœurs")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def print_table(results: Dict[str, Any]) -> None:
    digor = {(r["mode"], r["concurrency"]): r for r in results["load"].get("digor", [])}
    base = {(r["mode"], r["concurrency"]): r for r in results["load"].get("yardstick", [])}
    print("\nmode    N   | msg/s  p50    p95    p99   erreurs vides | réf. msg/s  p95   | ratio msg/s  p95")
    for key, row in digor.items():
        other = base.get(key, {})
        print(f"{key[0]:<7}{key[1]:>4} | {row['messages_per_second']:>6} {row['p50_ms']!s:>6} {row['p95_ms']!s:>6} "
              f"{row['p99_ms']!s:>6} {row['errors']:>5} {row['empty_answers']:>5} | {other.get('messages_per_second', '-')!s:>9} "
              f"{other.get('p95_ms', '-')!s:>6} | {ratio(row['messages_per_second'], other.get('messages_per_second'))!s:>10} "
              f"{ratio(row['p95_ms'], other.get('p95_ms'))!s:>6}")
    for name, values in results.get("nlu", {}).items():
        print(f"NLU seule ({name}) : p50 {values['p50_ms']} ms, p95 {values['p95_ms']} ms")


# ---------------------------------------------------------------- main

async def bench(targets: Dict[str, Tuple[str, Dict[str, int], Optional[str]]]) -> Dict[str, List[Dict[str, Any]]]:
    load: Dict[str, List[Dict[str, Any]]] = {name: [] for name in targets}
    for mode in MODES:
        think = THINK if mode == "think" else 0.0
        for concurrency in LEVELS:
            # The same level on each system back to back: the machine's drift hits both.
            for name, (url, pids, metrics_url) in targets.items():
                profiles = []
                if PROFILE and name == "digor" and mode == "closed" and concurrency == PROFILE_LEVEL:
                    seconds = int(min(DURATION, 30))
                    profiles = [p for p in (start_profile(pids["rasa"], "rasa", seconds),
                                            start_profile(pids["actions"], "actions", seconds)) if p]
                errors_before = await server_errors(metrics_url)
                row = await run_level(url, concurrency, think, DURATION, pids)
                errors_after = await server_errors(metrics_url)
                if errors_before is not None and errors_after is not None:
                    row["server_errors"] = errors_after - errors_before
                for process in profiles:
                    process.wait(timeout=120)
                row["mode"] = mode
                load[name].append(row)
                print(f"{name:<9} {mode:<6} N={concurrency:<4} {row['messages_per_second']:>6} msg/s  "
                      f"p50 {row['p50_ms']} ms  p95 {row['p95_ms']} ms  p99 {row['p99_ms']} ms  "
                      f"erreurs {row['errors']}  vides {row['empty_answers']}  RSS {row['peak_rss_mb']}  CPU% {row['cpu_percent']}", flush=True)
                await asyncio.sleep(2)
    return load


def main() -> int:
    os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    model = latest_model()
    if model is None:
        print("Aucun modèle dans models/. Lancez d'abord : make train", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    logs = OUT / "logs" / stamp
    logs.mkdir(parents=True, exist_ok=True)
    results: Dict[str, Any] = {
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "load_average_at_start": os.getloadavg()},
        "settings": {"levels": LEVELS, "modes": MODES, "seconds_per_level": DURATION,
                     "database": "BENCH_DB_URL" if os.environ.get("BENCH_DB_URL") else "sqlite",
                     "lock_store": os.environ.get("DIGOR_LOCK_STORE") or "in_memory",
                     "think_seconds": THINK, "quick": QUICK, "model": model.name},
    }
    with tempfile.TemporaryDirectory(prefix="digor-bench-") as tmp:
        work = Path(tmp)
        env = default_env({
            **os.environ,
            "DIGOR_RASA_PORT": str(free_port()),
            "DIGOR_ACTIONS_PORT": str(free_port()),
            "DIGOR_WEB_PORT": str(free_port()),
            # BENCH_DB_URL: an empty database (PostgreSQL) for the backlog and the tracker store.
            "DIGOR_DB_URL": os.environ.get("BENCH_DB_URL") or f"sqlite:///{work / 'backlog.db'}",
            "DIGOR_TRACKER_DB_URL": os.environ.get("BENCH_DB_URL") or f"sqlite:///{work / 'tracker.db'}",
        })
        for name in ("DIGOR_ACTION_ENDPOINT_URL", "DIGOR_RASA_PUBLIC_URL"):
            env.pop(name, None)
        env = default_env(env)
        stack = Stack(env=env, model=model, log_dir=logs)
        yardstick: Optional[subprocess.Popen] = None
        try:
            print(f"Démarrage de Digor ({model.name})…", flush=True)
            stack.start()
            targets: Dict[str, Tuple[str, Dict[str, int], Optional[str]]] = {}
            if WITH_YARDSTICK:
                port = free_port()
                yardstick = start_yardstick(work, port, logs / "yardstick.log")
            stack.wait_until_up(timeout=300)
            targets["digor"] = (
                f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/rest/webhook",
                {name: process.pid for name, process in stack.processes.items()},
                f"http://127.0.0.1:{env['DIGOR_RASA_PORT']}/webhooks/health/metrics",
            )
            if yardstick is not None:
                wait_for(f"http://127.0.0.1:{port}/webhooks/rest/", yardstick)
                targets["yardstick"] = (f"http://127.0.0.1:{port}/webhooks/rest/webhook", {"rasa": yardstick.pid}, None)
            print("Serveurs prêts. Mesure…", flush=True)
            results["load"] = asyncio.run(bench(targets))
        finally:
            stack.stop()
            if yardstick is not None and yardstick.poll() is None:
                os.killpg(yardstick.pid, signal.SIGTERM)
                try:
                    yardstick.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(yardstick.pid, signal.SIGKILL)
    if os.environ.get("BENCH_NLU", "1") != "0":
        print("Latence de la NLU seule (Agent.parse_message, dans ce processus)…", flush=True)
        quiet_rasa_logs()
        repeats = 2 if QUICK else 10
        results["nlu"] = {"digor": asyncio.run(nlu_latency(model, repeats))}
        yard_models = sorted((OUT / "yardstick").glob("*.tar.gz"))
        if WITH_YARDSTICK and yard_models:
            results["nlu"]["yardstick"] = asyncio.run(nlu_latency(yard_models[-1], repeats))
    if PROFILE:
        results["profile"] = {name: summarise_profile(OUT / f"profile-{name}.txt") for name in ("rasa", "actions")}
    results["machine"]["load_average_at_end"] = os.getloadavg()
    if "yardstick" in results["load"]:
        base = {(r["mode"], r["concurrency"]): r for r in results["load"]["yardstick"]}
        for row in results["load"]["digor"]:
            other = base.get((row["mode"], row["concurrency"]))
            if other:
                row["ratio_to_yardstick"] = {
                    "messages_per_second": ratio(row["messages_per_second"], other["messages_per_second"]),
                    "p50": ratio(row["p50_ms"], other["p50_ms"]),
                    "p95": ratio(row["p95_ms"], other["p95_ms"]),
                    "p99": ratio(row["p99_ms"], other["p99_ms"]),
                }
    path = OUT / f"bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    shutil.copyfile(path, OUT / "latest.json")
    plot(results, path.with_suffix(".png"))
    shutil.copyfile(path.with_suffix(".png"), OUT / "latest.png")
    print_table(results)
    print(f"\nRésultats : {path} et {path.with_suffix('.png')}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
