"""authql's load benchmark: the real service (release build) on PostgreSQL, with RabbitMQ,
`authql worker` and an SMTP server that takes 300 ms per mail, driven over loopback by wrk.
Each figure is reported next to the bound it is held against, measured in the same run;
`me` next to its floor, `bench/floor` (the same work in a minimal axum server).

Run it with `bench/run` (see BENCHMARKS.md). Standard library only."""

import base64
import argparse
import http.client as httpc
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from live import live_scenario

ROOT = Path(__file__).resolve().parent.parent
BENCH = ROOT / "bench"
TARGET = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
BIN = TARGET / "release" / "authql"
FLOOR_BIN = TARGET / "release" / "authql-floor"
PG_ADMIN = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
AMQP = os.environ.get("BENCH_AMQP", "amqp://guest:guest@127.0.0.1:5672/%2f")
DB = "authql_bench"
PGBENCH_DB = "authql_pgbench"
QUEUE = "authql.bench"
PASSWORD = "bench-passphrase-1"
CORES = os.cpu_count() or 1

procs = []


def log(msg):
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(db, sql):
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + db
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


LOGS = Path(os.environ.get("TMPDIR", "/tmp")) / f"authql-bench-{os.getpid()}" / "logs"


def start(cmd, env=None):
    """Starts a process whose output goes to a log file of its own (for a failed run)."""
    LOGS.mkdir(parents=True, exist_ok=True)
    name = f"{len(procs)}-{Path(cmd[1] if cmd[0] == sys.executable else cmd[0]).stem}"
    out = open(LOGS / f"{name}.log", "wb")
    p = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                         start_new_session=True)
    procs.append(p)
    return p


def stop_all():
    for p in reversed(procs):
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
    for p in procs:
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill()


def http(method, url, body=None, headers=None, timeout=30):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return res.status, res.read()


def gql(base, query, variables=None, token=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    _, raw = http("POST", base + "/graphql", {"query": query, "variables": variables or {}},
                  headers)
    out = json.loads(raw)
    if "errors" in out:
        raise RuntimeError(f"GraphQL error: {out['errors']}")
    return out["data"]


def wait_ready(base, timeout=30.0, path="/readyz"):
    start_t = time.monotonic()
    while time.monotonic() - start_t < timeout:
        try:
            if http("GET", base + path, timeout=1)[0] == 200:
                return time.monotonic() - start_t
        except OSError:
            pass
        time.sleep(0.005)
    raise RuntimeError(f"authql did not become ready (logs in {LOGS})")


def rss_kib(pid):
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    hwm = int(re.search(r"VmHWM:\s+(\d+)", status).group(1))
    return rss, hwm


def parse_duration_ms(s):
    value, unit = re.match(r"([\d.]+)(us|ms|s|m)", s).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def cpu_seconds(pid):
    """User plus system CPU time the process has used so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(base, script, args, connections, duration, threads=None, pid=None):
    """One wrk run; with `pid`, also the CPU that process spent per answer (a figure the
    other load on a shared machine disturbs less than the rate)."""
    threads = threads or min(CORES, connections)
    cmd = ["wrk", "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
           "--latency", "--timeout", "10s"]
    if script:
        cmd += ["-s", str(BENCH / "wrk" / script)]
    cmd.append(base + ("/graphql" if script else "/healthz"))
    if args:
        cmd += ["--"] + [str(a) for a in args]
    env = {**os.environ, "AUTHQL_WRK_DIR": str(BENCH / "wrk")}
    cpu_before = cpu_seconds(pid) if pid else None
    run = subprocess.run(cmd, capture_output=True, text=True, env=env, check=True)
    out = run.stdout
    if os.environ.get("BENCH_VERBOSE"):
        log(" ".join(cmd) + "\n" + out)
    result = {"rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))}
    answered = int(re.search(r"(\d+) requests in", out).group(1))
    if pid and answered:
        result["cpu_us_per_request"] = (cpu_seconds(pid) - cpu_before) / answered * 1e6
    for pct in ("50", "99"):
        m = re.search(rf"\s{pct}%\s+([\d.]+\w+)", out)
        result[f"p{pct}_ms"] = parse_duration_ms(m.group(1)) if m else None
    errors = re.search(r"graphql_errors: (\d+)", out)
    result["errors"] = int(errors.group(1)) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result["errors"] += int(non2xx.group(1)) if non2xx else 0
    socket_errors = re.search(r"Socket errors: (.*)", out)
    if socket_errors:
        result["socket_errors"] = socket_errors.group(1)
    first_error = re.search(r"first error answer: (.*)", run.stderr)
    if first_error and result["errors"]:
        result["first_error"] = first_error.group(1)
    return result


def warm_then(base, script, args, connections, warmup, duration, threads=None, pid=None):
    wrk(base, script, args, connections, warmup, threads)
    return wrk(base, script, args, connections, duration, threads, pid)


def pgbench(connections, duration):
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + PGBENCH_DB
    out = subprocess.run(
        ["pgbench", "-S", "-M", "prepared", "-n", "-c", str(connections), "-j", str(CORES),
         "-T", str(duration), url], capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))


def free_pg_connections():
    """Connections PostgreSQL can still accept (max_connections is 100 by default)."""
    url = PG_ADMIN
    out = subprocess.run(
        ["psql", url, "-At", "-c",
         "SELECT current_setting('max_connections')::int - count(*) - 5 FROM pg_stat_activity"],
        capture_output=True, text=True, check=True).stdout
    return max(1, int(out.strip()))


def median_run(runs):
    """The run with the median throughput, with every round's throughput beside it."""
    ordered = sorted(runs, key=lambda r: r["rps"])
    mid = dict(ordered[(len(ordered) - 1) // 2])
    mid["rounds_rps"] = [r["rps"] for r in runs]
    return mid


def percentile(values, p):
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


def signup_to_mail(base, sink_log, rate, seconds):
    """signUps at a steady `rate` per second; for each, the time from sending it to the
    SMTP server accepting its verification mail."""
    sent, lock = {}, threading.Lock()
    response_ms = []

    def one(name):
        t0 = time.time()
        gql(base, "mutation($i: SignUpInput!) { signUp(input: $i) }",
            {"i": {"username": name, "email": f"{name}@rate.example", "password": PASSWORD}})
        with lock:
            sent[f"{name}@rate.example"] = t0
            response_ms.append((time.time() - t0) * 1000)

    stamp = int(time.time())
    workers = []
    begin = time.monotonic()
    for i in range(rate * seconds):
        target = begin + i / rate
        delay = target - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t = threading.Thread(target=one, args=(f"r{stamp}n{i}",))
        t.start()
        workers.append(t)
    for t in workers:
        t.join()
    deadline = time.time() + 60
    received = {}
    while time.time() < deadline:
        for line in Path(sink_log).read_text().splitlines():
            rec = json.loads(line)
            if rec["to"] in sent:
                received[rec["to"]] = rec["t"]
        if len(received) == len(sent):
            break
        time.sleep(0.5)
    lat = [(received[k] - sent[k]) * 1000 for k in received]
    return {
        "sent": len(sent),
        "received": len(received),
        "p50_ms": percentile(lat, 50),
        "p99_ms": percentile(lat, 99),
        "response_p50_ms": percentile(response_ms, 50),
        "response_p99_ms": percentile(response_ms, 99),
    }


# The `me` of the main scenarios: the document a client sends for its signed-in user (the
# account's fields, no profile), as a client library sends it (named, with variables).
ME_DOC = {"operationName": "Me", "variables": {},
          "query": "query Me { me { id username email emailVerified firstName lastName "
                   "isActive createdAt lastLoginAt } }"}


def mail_drain(base, sink_log, clients, seconds):
    """signUps as fast as `clients` closed-loop clients get answers (the fastest rate the API
    reaches here), for `seconds`; then how long after the load's end the SMTP server (300 ms
    a mail) accepted the last of their mails."""
    sent, lock = set(), threading.Lock()
    stamp = int(time.time())
    stop_at = time.monotonic() + seconds

    def client(c):
        i = 0
        while time.monotonic() < stop_at:
            name = f"d{stamp}c{c}n{i}"
            i += 1
            try:
                gql(base, "mutation($i: SignUpInput!) { signUp(input: $i) }",
                    {"i": {"username": name, "email": f"{name}@drain.example",
                           "password": PASSWORD}})
            except (RuntimeError, OSError):
                continue
            with lock:
                sent.add(f"{name}@drain.example")

    threads = [threading.Thread(target=client, args=(c,)) for c in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ended = time.time()
    deadline = ended + 120
    received = {}
    while time.time() < deadline:
        for line in Path(sink_log).read_text().splitlines():
            rec = json.loads(line)
            if rec["to"] in sent:
                received[rec["to"]] = rec["t"]
        if len(received) == len(sent):
            break
        time.sleep(0.2)
    last = max(received.values(), default=ended)
    return {
        "signups": len(sent),
        "signups_per_s": round(len(sent) / seconds, 1),
        "received": len(received),
        "last_mail_after_end_ms": round((last - ended) * 1000, 1),
    }


def me_answer(base, token):
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    return json.loads(http("POST", base + "/graphql", ME_DOC, headers)[1])


def floor_scenario(base, env, tokens, tmp, W, D, profiled):
    """`me` on bench/floor: the same work in a minimal axum server, on the same database
    with the keys authql publishes. Its answers are checked to be authql's first."""
    port = free_port()
    floor_base = f"http://127.0.0.1:{port}"
    floor_env = {k: v for k, v in env.items() if k in ("PATH", "HOME", "DATABASE_URL")}
    floor_env.update({"AUTHQL_URL": base, "FLOOR_BIND": f"127.0.0.1:{port}"})
    if env.get("DATABASE_MAX_CONNECTIONS"):
        floor_env["FLOOR_DB_POOL"] = env["DATABASE_MAX_CONNECTIONS"]
    floor = start([str(FLOOR_BIN)], floor_env)
    try:
        wait_ready(floor_base, path="/healthz")
        for token in tokens[:4]:
            ours, theirs = me_answer(floor_base, token), me_answer(base, token)
            if ours != theirs or "errors" in ours:
                raise RuntimeError(f"the floor answers {ours}, authql {theirs}")
        log("floor: me c=32")
        return profiled("floor_me_c32", floor.pid, lambda: warm_then(
            floor_base, "me.lua", [tmp / "tokens", tmp / "me.json"], 32, W, D, pid=floor.pid))
    finally:
        stop(floor)


LOGIN_Q = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
ME_Q = "{ me { id username email emailVerified firstName lastName isAdmin isActive createdAt " \
    "lastLoginAt profile { username bio contact avatarUrl } } }"


def legit_client(port, source, users, seconds, pace_s=0.1, me_calls=5):
    """One ordinary client on its own address: every `pace_s` it logs in (the users in
    turn) and calls `me` `me_calls` times with the new token (60 requests a second, under
    the per-address rate), for `seconds`. Returns the latency of each kind of call and
    how many answers were errors."""
    conn = httpc.HTTPConnection("127.0.0.1", port, source_address=(source, 0), timeout=30)

    def post(body, token=None):
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        t0 = time.perf_counter()
        conn.request("POST", "/graphql", json.dumps(body), headers)
        raw = conn.getresponse().read()
        return (time.perf_counter() - t0) * 1000, json.loads(raw)

    login_ms, me_ms, errors = [], [], []
    end = time.monotonic() + seconds
    i = 0
    while time.monotonic() < end:
        started = time.monotonic()
        name = users[i % len(users)]
        i += 1
        ms, out = post({"query": LOGIN_Q,
                        "variables": {"i": {"usernameOrEmail": name, "password": PASSWORD}}})
        login_ms.append(ms)
        token = ((out.get("data") or {}).get("login") or {}).get("accessToken")
        if not token:
            errors.append(out.get("errors"))
            continue
        for _ in range(me_calls):
            ms, out = post({"query": ME_Q}, token)
            me_ms.append(ms)
            if "errors" in out:
                errors.append(out["errors"])
        time.sleep(max(0.0, pace_s - (time.monotonic() - started)))
    conn.close()
    return {
        "logins": len(login_ms),
        "login_p50_ms": percentile(login_ms, 50),
        "login_p99_ms": percentile(login_ms, 99),
        "login_max_ms": max(login_ms) if login_ms else None,
        "me_calls": len(me_ms),
        "me_p50_ms": percentile(me_ms, 50),
        "me_p99_ms": percentile(me_ms, 99),
        "errors": len(errors),
        "first_error": errors[0] if errors else None,
    }


def production_env(db, port, sink_port, media):
    """authql as a deployment runs it: APP_ENV=production, JSON logs at info, every setting
    at its default unless the caller raises it."""
    return {
        **{k: v for k, v in os.environ.items() if k in ("PATH", "HOME")},
        "APP_ENV": "production",
        "SIGNING_KEY_ENCRYPTION_KEY": base64.b64encode(os.urandom(32)).decode(),
        "APP_URL": "https://app.bench.example",
        "PUBLIC_URL": "https://auth.bench.example",
        "DATABASE_URL": PG_ADMIN.rsplit("/", 1)[0] + "/" + db,
        "SMTP_URL": f"smtp://127.0.0.1:{sink_port}",
        "BIND": f"127.0.0.1:{port}",
        "METRICS_BIND": f"127.0.0.1:{free_port()}",
        "LOG_FORMAT": "json",
        "RUST_LOG": "info",
        "MEDIA_DIR": str(media),
    }


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()


def flood_scenarios(tmp, sink_port, D):
    """One hostile client (127.0.0.1) floods batched sign-ups and wrong-password logins
    while an ordinary client (127.0.0.2) logs in and calls `me`; the ordinary client's
    latencies are measured alone and during the flood. The service runs as a deployment
    does: APP_ENV=production, JSON logs at info, every limit at its default, its own fresh
    database. A second round opens the login and sign-up throttles, so that every one of
    the flood's operations reaches the hasher: what a flood from many addresses looks like
    to the hasher queue."""
    db = DB + "_flood"
    out = {}
    for name, extra in (("defaults", {}),
                        ("throttles_open", {"LOGIN_MAX_FAILURES": "10000",
                                            "LOGIN_MAX_FAILURES_PER_ACCOUNT": "1000000",
                                            "LOGIN_MAX_FAILURES_PER_IP": "1000000",
                                            "SIGNUP_MAX_PER_IP": "1000000"})):
        psql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        psql("postgres", f'CREATE DATABASE "{db}"')
        port = free_port()
        env = {**production_env(db, port, sink_port, tmp / "media-flood"), **extra}
        base = f"http://127.0.0.1:{port}"
        api = start([str(BIN), "serve"], env)
        try:
            wait_ready(base)
            # 40 ordinary accounts, signed up from addresses of their own (sign-ups are
            # limited per address), so that no account logs in more often than a person.
            users = [f"person{i}" for i in range(40)]
            for i, user in enumerate(users):
                c = httpc.HTTPConnection("127.0.0.1", port,
                                               source_address=(f"127.0.1.{i // 10 + 1}", 0))
                c.request("POST", "/graphql", json.dumps({
                    "query": "mutation($i: SignUpInput!) { signUp(input: $i) }",
                    "variables": {"i": {"username": user, "email": f"{user}@bench.example",
                                        "password": PASSWORD}}}),
                    {"Content-Type": "application/json"})
                answer = json.loads(c.getresponse().read())
                c.close()
                if "errors" in answer:
                    raise RuntimeError(f"seeding {user}: {answer['errors']}")
            log(f"flood ({name}): the ordinary client alone")
            alone = legit_client(port, "127.0.0.2", users[:20], D)
            log(f"flood ({name}): the ordinary client during the flood")
            result = {}
            flood = threading.Thread(target=lambda: result.__setitem__(
                "flood", wrk(base, "flood.lua", [], 16, D + 3)))
            flood.start()
            time.sleep(1)
            during = legit_client(port, "127.0.0.2", users[20:], D)
            flood.join()
            out[name] = {"alone": alone, "during": during, "flood": result.get("flood"),
                         "rss_peak_mib": rss_kib(api.pid)[1] / 1024}
        finally:
            api.send_signal(signal.SIGTERM)
            try:
                api.wait(timeout=20)
            except subprocess.TimeoutExpired:
                api.kill()
            psql("postgres", f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--duration", type=int, default=15, help="seconds per scenario")
    ap.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per scenario")
    ap.add_argument("--no-build", action="store_true")
    ap.add_argument("--out", default=str(BENCH / "results" / "latest.json"))
    ap.add_argument("--only", help="comma-separated scenarios to run (default: all)")
    ap.add_argument("--profile", help="record a perf profile of the API during this scenario")
    ap.add_argument("--rounds", type=int, default=3,
                    help="interleaved rounds of me, its floor and me at RUST_LOG=warn")
    opts = ap.parse_args()
    D, W = opts.duration, opts.warmup
    only = set(opts.only.split(",")) if opts.only else None

    def wanted(name):
        return only is None or name in only

    def profiled(name, pid, run):
        """Runs a scenario, under `perf record` of the API when asked to."""
        if opts.profile != name:
            return run()
        data = BENCH / "results" / f"perf-{name}.data"
        data.parent.mkdir(parents=True, exist_ok=True)
        # BENCH_PERF_CALL_GRAPH=dwarf unwinds Rust frames too (the release build keeps no
        # frame pointers), at a cost in overhead and file size.
        graph = os.environ.get("BENCH_PERF_CALL_GRAPH", "fp")
        perf = subprocess.Popen(["perf", "record", "-F", os.environ.get("BENCH_PERF_FREQ", "499"), "-e", "cpu-clock",
                                 "--call-graph", graph, "-o", str(data), "-p", str(pid)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return run()
        finally:
            perf.send_signal(signal.SIGINT)
            perf.wait()
            report_txt = subprocess.run(
                ["perf", "report", "-i", str(data), "--no-children", "--percent-limit", "1",
                 "--stdio", "-g", "none", "--sort", "dso,symbol"],
                capture_output=True, text=True).stdout
            (BENCH / "results" / f"profile-{name}.txt").write_text(report_txt)
            log(f"profile written to bench/results/profile-{name}.txt")

    if not opts.no_build:
        log("building the release binaries (authql and its floor)")
        subprocess.run(["cargo", "build", "--release", "--locked", "-p", "authql",
                        "-p", "authql-floor", "--bins"], cwd=ROOT, check=True)

    log("fresh databases")
    psql("postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{DB}"')
    psql("postgres", f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')
    psql("postgres", f'CREATE DATABASE "{PGBENCH_DB}"')
    subprocess.run(["pgbench", "-i", "-q", "-s", "10",
                    PG_ADMIN.rsplit("/", 1)[0] + "/" + PGBENCH_DB],
                   check=True, capture_output=True)
    for q in ("", ".dead", ".retry.10s", ".retry.60s", ".retry.300s", ".retry.1800s"):
        subprocess.run(["rabbitmqctl", "-q", "delete_queue", QUEUE + q],
                       capture_output=True, check=False)

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"authql-bench-{os.getpid()}"
    tmp.mkdir(parents=True, exist_ok=True)
    sink_port, api_port = free_port(), free_port()
    sink_log = tmp / "mail.jsonl"
    sink_log.write_text("")
    start([sys.executable, str(BENCH / "smtp_sink.py"), str(sink_port), "300", str(sink_log)])

    # As a deployment runs: APP_ENV=production, JSON logs at info (written to a file, as a
    # deployment ships them), the default pool and MAIL_PREFETCH. Raised are only the
    # budgets that one load generator would otherwise exhaust by itself, since it is one
    # client address standing for many clients, and 64 accounts logging in thousands of
    # times (measured at their defaults in the flood scenarios).
    env = {
        **production_env(DB, api_port, sink_port, tmp / "media"),
        "AMQP_URL": AMQP,
        "MAIL_QUEUE": QUEUE,
        "MAIL_EXCHANGE": QUEUE,
        "HTTP_RATE_PER_IP": "10000000",
        "HTTP_RATE_BURST": "10000000",
        "HTTP_MAX_CONNECTIONS_PER_IP": "1024",
        "GRAPHQL_MAX_RUNNING_PER_CLIENT": "10000",
        "SIGNUP_MAX_PER_IP": "1000000",
        "LOGIN_MAX_SUCCESSES": "1000000",
        # Thousands of logins of 64 accounts would end the seeded sessions (the tokens
        # `me` runs with) at the per-account session cap.
        "SESSIONS_MAX_PER_ACCOUNT": "10000",
        # The live scenario's WS_MAX_CONNECTIONS connections all come from this address.
        "WS_MAX_CONNECTIONS_PER_IP": "100000",
    }
    if os.environ.get("BENCH_DB_POOL"):
        env["DATABASE_MAX_CONNECTIONS"] = os.environ["BENCH_DB_POOL"]
    base = f"http://127.0.0.1:{api_port}"
    results = {"machine": {"cores": CORES, "memory_gib": round(
        os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
        "duration_s": D, "warmup_s": W, "when": datetime.now(timezone.utc).isoformat(),
        "api_log": "a file (LOG_FORMAT=json, RUST_LOG=info)"}

    try:
        # First start migrates; the second measures start-to-ready on a migrated database.
        first = start([str(BIN), "serve"], env)
        wait_ready(base)
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=30)
        t0 = time.monotonic()
        api = start([str(BIN), "serve"], env)
        wait_ready(base)
        results["start_to_ready_s"] = time.monotonic() - t0
        start([str(BIN), "worker"], env)
        cost = json.loads(subprocess.run([str(BIN), "hash-cost", "--rounds", "20"], env=env,
                                         capture_output=True, text=True, check=True).stdout)
        results["argon2_verify_ms"] = cost["verify_ms"]
        results["rss_idle_mib"] = rss_kib(api.pid)[0] / 1024

        log("seeding users")
        users, tokens, refresh = [], [], []
        for i in range(64):
            name = f"bench{i}"
            gql(base, "mutation($i: SignUpInput!) { signUp(input: $i) }",
                {"i": {"username": name, "email": f"{name}@bench.example", "password": PASSWORD}})
            users.append(name)
        for name in users:
            login = gql(base, "mutation($i: LoginInput!) { login(input: $i) "
                        "{ accessToken refreshToken } }",
                        {"i": {"usernameOrEmail": name, "password": PASSWORD}})["login"]
            tokens.append(login["accessToken"])
            refresh.append(login["refreshToken"])
        (tmp / "users").write_text("\n".join(users) + "\n")
        (tmp / "tokens").write_text("\n".join(tokens) + "\n")
        (tmp / "refresh").write_text("\n".join(refresh) + "\n")
        (tmp / "me.json").write_text(json.dumps(ME_DOC))
        me_args = [tmp / "tokens", tmp / "me.json"]

        def restart_api(extra, why):
            """The API again with `extra` settings on top of the bench's."""
            nonlocal api
            log(f"restarting the API {why}")
            stop(api)
            api = start([str(BIN), "serve"], {**env, **extra})
            wait_ready(base)

        def me_run(c):
            return profiled(f"me_c{c}", api.pid, lambda: warm_then(
                base, "me.lua", me_args, c, W, D, pid=api.pid))

        if wanted("healthz"):
            log("healthz")
            results["healthz"] = profiled("healthz", api.pid, lambda: warm_then(
                base, None, None, 32, W, D))
        # `me`, its floor and `me` at RUST_LOG=warn, interleaved over rounds: the machine's
        # speed drifts by 10-20 % within minutes, so each ratio is taken within a round
        # and the median of the rounds is reported.
        trio = [n for n in ("me_c32", "floor_me_c32", "me_c32_warn") if wanted(n)]
        rounds = {n: [] for n in trio}
        for k in range(1 if opts.profile else opts.rounds):
            if "me_c32" in trio:
                log(f"me c=32 (round {k + 1})")
                rounds["me_c32"].append(me_run(32))
            if "floor_me_c32" in trio:
                rounds["floor_me_c32"].append(
                    floor_scenario(base, env, tokens, tmp, W, D, profiled))
            if "me_c32_warn" in trio:
                # The same binary with the per-request log line (and every other info
                # line) filtered out: what logging costs.
                restart_api({"RUST_LOG": "warn"}, "with RUST_LOG=warn")
                log(f"me c=32, RUST_LOG=warn (round {k + 1})")
                rounds["me_c32_warn"].append(profiled("me_c32_warn", api.pid, lambda: warm_then(
                    base, "me.lua", me_args, 32, W, D, pid=api.pid)))
                restart_api({}, "as before")
        for name, runs in rounds.items():
            results[name] = median_run(runs)
        for a, b, key in (("me_c32", "floor_me_c32", "me_vs_floor"),
                          ("me_c32", "me_c32_warn", "me_info_vs_warn")):
            if rounds.get(a) and rounds.get(b):
                per_round = [x["rps"] / y["rps"] for x, y in zip(rounds[a], rounds[b])]
                results[key] = {"per_round": per_round, "median": statistics.median(per_round)}
        if wanted("pgbench_c32"):
            pg_c = min(32, free_pg_connections())
            log(f"pgbench c={pg_c}")
            results["pgbench_c32"] = {"tps": pgbench(pg_c, D), "clients": pg_c}
        if wanted("me_c256"):
            log("me c=256")
            results["me_c256"] = me_run(256)
        if wanted("login_c8"):
            log("login c=8")
            results["login_c8"] = profiled("login_c8", api.pid, lambda: warm_then(
                base, "login.lua", [tmp / "users", PASSWORD], 8, W, D))
        if wanted("refresh_c32"):
            log("refresh c=32")
            results["refresh_c32"] = profiled("refresh_c32", api.pid, lambda: wrk(
                base, "refresh.lua", [tmp / "refresh", min(CORES, 32)], 32, D, pid=api.pid))
        if wanted("me_c32_during_login_flood"):
            log("me during a login flood")
            flood = threading.Thread(target=lambda: results.__setitem__(
                "login_flood", wrk(base, "login.lua", [tmp / "users", PASSWORD], 8, D + 2)))
            flood.start()
            time.sleep(1)
            results["me_c32_during_login_flood"] = wrk(base, "me.lua", me_args, 32, D)
            flood.join()
        for c in (1, 4):
            if wanted(f"signup_c{c}"):
                log(f"signUp c={c}")
                results[f"signup_c{c}"] = profiled(
                    f"signup_c{c}", api.pid, lambda c=c: warm_then(
                        base, "signup.lua", [f"s{c}"], c, W, D, threads=1))
        if wanted("signup_to_mail_50ps"):
            log("signUp-to-mail at 50/s")
            results["signup_to_mail_50ps"] = signup_to_mail(base, sink_log, 50, D)
        if wanted("mail_drain"):
            # Sign-ups as fast as the API takes them (the hash bound: 8 clients keep both
            # cores hashing), the worker at its defaults (MAIL_PREFETCH), SMTP at 300 ms.
            log("mail drain at defaults")
            results["mail_drain"] = mail_drain(base, sink_log, 8, D)
        if wanted("live"):
            # As many signed-in connections as a process takes at its defaults
            # (WS_MAX_CONNECTIONS, WS_MAX_PER_USER per account), each on its own session.
            log("live: 512 connections watching their sessions")
            sessions = []
            for name in users:
                for _ in range(8):
                    login = gql(base, "mutation($i: LoginInput!) { login(input: $i) "
                                "{ accessToken refreshToken } }",
                                {"i": {"usernameOrEmail": name, "password": PASSWORD}})["login"]
                    sessions.append((login["accessToken"], login["refreshToken"]))

            def logout(refresh_token):
                gql(base, "mutation($t: String!) { logout(refreshToken: $t) }",
                    {"t": refresh_token})

            results["live"] = live_scenario(api_port, sessions, logout, api.pid, rss_kib,
                                            cpu_seconds)
        results["rss_peak_mib"] = rss_kib(api.pid)[1] / 1024
        if wanted("flood"):
            stop(api)
            results["flood"] = flood_scenarios(tmp, sink_port, D)
    finally:
        stop_all()
        for q in ("", ".dead", ".retry.10s", ".retry.60s", ".retry.300s", ".retry.1800s"):
            subprocess.run(["rabbitmqctl", "-q", "delete_queue", QUEUE + q],
                           capture_output=True, check=False)
        psql("postgres", f'DROP DATABASE IF EXISTS "{DB}" WITH (FORCE)')
        psql("postgres", f'DROP DATABASE IF EXISTS "{PGBENCH_DB}" WITH (FORCE)')

    report(results)
    out = Path(opts.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    log(f"wrote {out}")
    # The run's files (tokens, the services' logs) are kept only when it failed.
    shutil.rmtree(tmp, ignore_errors=True)


def report(r):
    hash_ms = r["argon2_verify_ms"]
    login_bound = CORES * 1000 / hash_ms

    def rows():
        yield lambda: ("/healthz req/s (c=32)", r["healthz"]["rps"], None, None)
        yield lambda: ("floor me req/s (c=32)", r["floor_me_c32"]["rps"], None, None)
        yield lambda: ("me req/s (c=32), vs its floor", r["me_c32"]["rps"],
                       r["floor_me_c32"]["rps"], None)
        yield lambda: ("me vs floor, median of rounds", r["me_vs_floor"]["median"], 1.0, 0.5)
        yield lambda: ("me vs floor, each round",
                       " ".join(f"{x:.2f}" for x in r["me_vs_floor"]["per_round"]), None, None)
        yield lambda: ("me CPU µs/request, vs floor's", r["me_c32"]["cpu_us_per_request"],
                       r["floor_me_c32"]["cpu_us_per_request"], None)
        yield lambda: ("me p50 / p99 ms (c=32)",
                       f'{r["me_c32"]["p50_ms"]:.2f} / {r["me_c32"]["p99_ms"]:.2f}', None, None)
        yield lambda: ("floor me p50 / p99 ms (c=32)",
                       f'{r["floor_me_c32"]["p50_ms"]:.2f} / {r["floor_me_c32"]["p99_ms"]:.2f}',
                       None, None)
        yield lambda: ("me RUST_LOG=warn req/s, vs floor", r["me_c32_warn"]["rps"],
                       r["floor_me_c32"]["rps"], None)
        yield lambda: ("me at info vs at warn, median of rounds",
                       r["me_info_vs_warn"]["median"], 1.0, 0.95)
        yield lambda: ("me info vs warn, each round",
                       " ".join(f"{x:.2f}" for x in r["me_info_vs_warn"]["per_round"]), None, None)
        yield lambda: ("me CPU µs/request, info vs warn", r["me_c32"]["cpu_us_per_request"],
                       r["me_c32_warn"]["cpu_us_per_request"], None)
        yield lambda: ("pgbench -S tps (c=32)", r["pgbench_c32"]["tps"], None, None)
        yield lambda: ("me req/s (c=256)", r["me_c256"]["rps"], None, None)
        yield lambda: ("me p50 / p99 ms (c=256)",
                       f'{r["me_c256"]["p50_ms"]:.2f} / {r["me_c256"]["p99_ms"]:.2f}', None, None)
        yield lambda: ("login/s (c=8)", r["login_c8"]["rps"], login_bound, 0.85)
        yield lambda: ("refresh/s (c=32)", r["refresh_c32"]["rps"], 3000.0, 1.0)
        yield lambda: ("refresh CPU µs/request", r["refresh_c32"]["cpu_us_per_request"], None,
                       None)
        yield lambda: ("me p99 ms during login flood", r["me_c32_during_login_flood"]["p99_ms"],
                       2 * r["me_c32"]["p99_ms"], "<=bound")
        yield lambda: ("logins/s during that flood", r["login_flood"]["rps"], None, None)
        yield lambda: ("signUp p50 ms (c=1)", r["signup_c1"]["p50_ms"], hash_ms + 15, "<=bound")
        yield lambda: ("signUp p99 ms (c=1)", r["signup_c1"]["p99_ms"], None, None)
        yield lambda: ("signUp p50 / p99 ms (c=4)",
                       f'{r["signup_c4"]["p50_ms"]:.1f} / {r["signup_c4"]["p99_ms"]:.1f}', None,
                       None)
        yield lambda: ("signUp->mail p50 ms (50/s)", r["signup_to_mail_50ps"]["p50_ms"], 300.0,
                       None)
        yield lambda: ("signUp->mail p99 ms (50/s)", r["signup_to_mail_50ps"]["p99_ms"], 800.0,
                       "<=bound")
        yield lambda: ("mail drain: signUps/s (c=8)", r["mail_drain"]["signups_per_s"], None,
                       None)
        yield lambda: ("mail drain: last mail after load ms", r["mail_drain"]["last_mail_after_end_ms"],
                       1000.0, "<=bound")
        for name in ("defaults", "throttles_open") if "flood" in r else ():
            f = r["flood"][name]
            yield lambda f=f, name=name: (f"flood {name}: login p99 ms", f["during"]["login_p99_ms"],
                                          1000.0, "<=bound")
            yield lambda f=f, name=name: (f"flood {name}: login p99 alone",
                                          f["alone"]["login_p99_ms"], None, None)
            yield lambda f=f, name=name: (f"flood {name}: me p99 ms", f["during"]["me_p99_ms"],
                                          2 * f["alone"]["me_p99_ms"], "<=bound")
            yield lambda f=f, name=name: (f"flood {name}: me p99 alone", f["alone"]["me_p99_ms"],
                                          None, None)
            yield lambda f=f, name=name: (f"flood {name}: ordinary errors",
                                          f["during"]["errors"], None, None)
            yield lambda f=f, name=name: (f"flood {name}: flood batches/s", f["flood"]["rps"],
                                          None, None)
        yield lambda: ("live: connections", r["live"]["connections"], None, None)
        yield lambda: ("live: RSS KiB per connection", r["live"]["rss_per_connection_kib"],
                       None, None)
        yield lambda: ("live: CPU % idle / watching",
                       f'{r["live"]["idle_cpu_pct"]:.2f} / {r["live"]["watching_cpu_pct"]:.2f}',
                       None, None)
        yield lambda: ("live: session end->event p50 ms", r["live"]["end_to_event_p50_ms"],
                       None, None)
        yield lambda: ("live: session end->event p95 ms", r["live"]["end_to_event_p95_ms"],
                       1000.0, "<=bound")
        yield lambda: ("live: session end->event max ms", r["live"]["end_to_event_max_ms"],
                       None, None)
        yield lambda: ("RSS peak MiB", r["rss_peak_mib"], 150.0, "<=bound")
        yield lambda: ("RSS idle MiB", r["rss_idle_mib"], None, None)
        yield lambda: ("start to ready s", r["start_to_ready_s"], 1.0, "<=bound")

    print(f"\n{'figure':34} {'value':>16} {'bound':>12} {'ratio':>7}  target")
    for row in rows():
        try:
            name, value, bound, target = row()
        except (KeyError, TypeError):
            continue
        v = (f"{value:.2f}" if isinstance(value, float) and abs(value) < 10
             else f"{value:.1f}" if isinstance(value, float) else str(value))
        b = f"{bound:.1f}" if isinstance(bound, (int, float)) else ""
        ratio = ""
        if isinstance(value, float) and isinstance(bound, (int, float)) and bound:
            ratio = f"{value / bound:.2f}"
        t = ""
        if isinstance(target, float):
            t = f">= {target:.2f} " + ("met" if ratio and float(ratio) >= target else "NOT met")
        elif target == "<=bound" and isinstance(value, float):
            t = "met" if value <= bound else "NOT met"
        print(f"{name:34} {v:>16} {b:>12} {ratio:>7}  {t}")
    errors = {k: v.get("errors") for k, v in r.items() if isinstance(v, dict) and v.get("errors")}
    if errors:
        print(f"\nrequests answered with errors: {errors}")


if __name__ == "__main__":
    main()
