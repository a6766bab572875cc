"""What a PostgreSQL restart costs authql's clients: the release build runs on a database of
its own at production-like settings while clients call `me` and `signUp` without pause;
PostgreSQL is restarted in the middle; every answer is recorded with its time and error
code. It prints how many requests failed, with which code, and how long after PostgreSQL
accepted connections again the last failure came.

Restarts the local PostgreSQL cluster: run it on a machine of your own, never beside tests
(`bench/run --pg-restart` runs it; see BENCHMARKS.md). Standard library only."""

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / "target" / "release" / "authql"
PG_ADMIN = os.environ.get("BENCH_PG", "postgres://postgres@127.0.0.1:5432/postgres")
DB = "authql_restart"
PASSWORD = "bench-passphrase-1"
CLIENTS = 8
BEFORE_S, AFTER_S = 3.0, 5.0


def log(msg):
    print(f"[pg-restart] {msg}", file=sys.stderr, flush=True)


def psql(sql):
    subprocess.run(["psql", PG_ADMIN, "-q", "-v", "ON_ERROR_STOP=1", "-c", sql],
                   check=True, stdout=subprocess.DEVNULL)


def post(base, query, variables, token=None, timeout=30):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps({"query": query, "variables": variables}).encode()
    req = urllib.request.Request(base + "/graphql", data=body, method="POST", headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as res:
        return json.loads(res.read())


SIGN_UP = "mutation($i: SignUpInput!) { signUp(input: $i) }"
LOGIN = "mutation($i: LoginInput!) { login(input: $i) { accessToken } }"
ME = "query Me { me { id username email emailVerified firstName lastName isActive createdAt lastLoginAt } }"


def cluster():
    """The (version, name) of the cluster listening on 5432, for pg_ctlcluster."""
    out = subprocess.run(["pg_lsclusters", "-h"], capture_output=True, text=True, check=True)
    for line in out.stdout.splitlines():
        version, name, port = line.split()[:3]
        if port == "5432":
            return version, name
    raise RuntimeError("no PostgreSQL cluster on port 5432")


def main():
    if not BIN.exists():
        subprocess.run(["cargo", "build", "--release", "--locked"], cwd=ROOT, check=True)
    psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")
    psql(f"CREATE DATABASE {DB}")
    url = PG_ADMIN.rsplit("/", 1)[0] + "/" + DB
    port = 18000 + os.getpid() % 1000
    base = f"http://127.0.0.1:{port}"
    logs = Path(os.environ.get("TMPDIR", "/tmp")) / f"authql-pg-restart-{os.getpid()}.log"
    env = {
        "PATH": os.environ["PATH"],
        "DATABASE_URL": url,
        "BIND": f"127.0.0.1:{port}",
        "METRICS_BIND": "",
        "RUST_LOG": "info",
        "LOG_FORMAT": "json",
        "MAIL_DIR": str(logs.with_suffix(".mailbox")),
        # One client address stands for many clients here.
        "SIGNUP_MAX_PER_IP": "1000000",
        "HTTP_RATE_PER_IP": "1000000",
        "HTTP_RATE_BURST": "1000000",
        "GRAPHQL_MAX_RUNNING_PER_CLIENT": "64",
        "PASSWORD_HASH_QUEUE_PER_CLIENT": "64",
    }
    server = subprocess.Popen([str(BIN), "serve"], env=env, stdout=subprocess.DEVNULL,
                              stderr=open(logs, "wb"), start_new_session=True)
    try:
        for _ in range(300):
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        post(base, SIGN_UP, {"i": {"username": "rita", "email": "rita@example.com",
                                   "password": PASSWORD}})
        token = post(base, LOGIN, {"i": {"usernameOrEmail": "rita", "password": PASSWORD}}
                     )["data"]["login"]["accessToken"]

        answers = []  # (time, operation, outcome)
        lock = threading.Lock()
        stop = threading.Event()
        t0 = time.monotonic()

        def client(n):
            i = 0
            while not stop.is_set():
                i += 1
                if i % 4 == 0:
                    op, args = "signUp", (SIGN_UP, {"i": {"username": f"c{n}x{i}",
                                                          "email": f"c{n}x{i}@example.com",
                                                          "password": PASSWORD}}, None)
                else:
                    op, args = "me", (ME, {}, token)
                started = time.monotonic() - t0
                try:
                    out = post(base, *args)
                    errors = out.get("errors")
                    outcome = "ok" if not errors else errors[0].get("extensions", {}).get("code", "?")
                except Exception as e:  # noqa: BLE001 - every failure is an outcome here
                    outcome = f"transport: {type(e).__name__}"
                with lock:
                    answers.append((started, time.monotonic() - t0, op, outcome))

        threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(CLIENTS)]
        for t in threads:
            t.start()
        time.sleep(BEFORE_S)
        version, name = cluster()
        log(f"restarting PostgreSQL {version}/{name}")
        down_at = time.monotonic() - t0
        subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, name, "restart"],
                       check=True)
        while subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
            time.sleep(0.01)
        back_at = time.monotonic() - t0
        time.sleep(AFTER_S)
        stop.set()
        for t in threads:
            t.join(timeout=40)

        failed = [a for a in answers if a[3] != "ok"]
        by_code = {}
        for a in failed:
            by_code[a[3]] = by_code.get(a[3], 0) + 1
        last_failure = max((a[1] for a in failed), default=None)
        result = {
            "requests": len(answers),
            "failed": len(failed),
            "failed_by_code": by_code,
            "restart_s": round(back_at - down_at, 3),
            "last_failure_after_back_s":
                None if last_failure is None else round(last_failure - back_at, 3),
            "internal_errors": by_code.get("INTERNAL_SERVER_ERROR", 0),
        }
        print(json.dumps(result, indent=2))
        out = ROOT / "bench" / "results" / "pg_restart.json"
        out.write_text(json.dumps(result, indent=2) + "\n")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
        psql(f"DROP DATABASE IF EXISTS {DB} WITH (FORCE)")


if __name__ == "__main__":
    main()
