#!/usr/bin/env python3
"""Server CPU per SCIM request, for comparing builds of muster on one machine.

Runs each given `muster` binary's `serve` on a fresh database (one worker), drives a fixed
workload over one keep-alive connection (creates, GETs by id, userName filters, PATCHes), and
reads the server process's user+system CPU from /proc before and after each operation. The
binaries take turns, `--rounds` times, and the table gives every run and the medians.

    python3 benches/cpu.py --backend sqlite OLD/muster target/release/muster
    python3 benches/cpu.py --backend postgres --pg postgres://postgres@127.0.0.1:5432/postgres A B

Standard library only. CPU time, unlike throughput, does not depend on how busy the machine is,
so two builds can be compared to a few percent.
"""
import argparse
import base64
import http.client
import json
import os
import random
import statistics
import subprocess
import tempfile
import time
import uuid

TICKS = os.sysconf("SC_CLK_TCK")
OPERATIONS = [("create", 2000), ("get", 6000), ("filter", 6000), ("patch", 4000)]


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


class Server:
    """One `muster serve` on a fresh database, with a tenant and its SCIM token."""

    def __init__(self, binary, args, port):
        self.env = dict(os.environ, MUSTER_BIND=f"127.0.0.1:{port}", MUSTER_WORKERS="1",
                        MUSTER_LOG="warn", MUSTER_PUBLIC_URL=f"http://127.0.0.1:{port}")
        self.db = None
        if args.backend == "sqlite":
            self.dir = tempfile.TemporaryDirectory()
            self.env["DATABASE_URL"] = os.path.join(self.dir.name, "muster.db")
        else:
            self.db = f"muster_cpu_{uuid.uuid4().hex[:8]}"
            self.admin = args.pg
            self.psql(f"CREATE DATABASE {self.db}")
            self.env["DATABASE_URL"] = args.pg.rsplit("/", 1)[0] + "/" + self.db
            # PostgreSQL has no key file beside it: the processes share this key.
            self.env["MUSTER_SECRET_KEY"] = base64.b64encode(os.urandom(32)).decode()
        self.cli(binary, "tenant", "create", "bench")
        self.token = self.cli(binary, "token", "create", "bench").strip()
        self.proc = subprocess.Popen([binary, "serve"], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for _ in range(200):
            try:
                c = http.client.HTTPConnection("127.0.0.1", port)
                c.request("GET", "/healthz")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.05)
        self.conn = http.client.HTTPConnection("127.0.0.1", port)

    def psql(self, sql):
        subprocess.run(["psql", self.admin, "-Xqc", sql], check=True, capture_output=True)

    def cli(self, binary, *args):
        return subprocess.run([binary, *args], env=self.env, check=True, capture_output=True,
                              text=True).stdout

    def scim(self, method, path, body=None):
        self.conn.request(method, "/scim/v2/bench" + path,
                          body=json.dumps(body) if body else None,
                          headers={"Authorization": f"Bearer {self.token}",
                                   "Content-Type": "application/scim+json"})
        r = self.conn.getresponse()
        data = r.read()
        if r.status >= 300:
            raise RuntimeError(f"{method} {path}: {r.status} {data[:200]!r}")
        return json.loads(data) if data else None

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        if self.db:
            self.psql(f"DROP DATABASE {self.db} WITH (FORCE)")


def workload(s):
    """Microseconds of server CPU per request, by operation."""
    rnd, ids, out = random.Random(7), [], {}
    for name, n in OPERATIONS:
        start = cpu_seconds(s.proc.pid)
        for i in range(n):
            if name == "create":
                body = {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                        "userName": f"user{i}@example.com", "externalId": f"ext-{i}",
                        "name": {"givenName": "Ada", "familyName": f"L{i}"}, "active": True,
                        "emails": [{"value": f"user{i}@example.com", "type": "work",
                                    "primary": True}]}
                ids.append(s.scim("POST", "/Users", body)["id"])
            elif name == "get":
                s.scim("GET", f"/Users/{rnd.choice(ids)}")
            elif name == "filter":
                who = rnd.randrange(len(ids))
                s.scim("GET", f"/Users?filter=userName%20eq%20%22user{who}%40example.com%22")
            else:
                ops = [{"op": "replace", "path": "displayName", "value": f"Ada {i}"}]
                s.scim("PATCH", f"/Users/{rnd.choice(ids)}",
                       {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": ops})
        out[name] = (cpu_seconds(s.proc.pid) - start) / n * 1e6
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("binaries", nargs="+", help="muster binaries to compare")
    p.add_argument("--backend", choices=["sqlite", "postgres"], default="sqlite")
    p.add_argument("--pg", default="postgres://postgres@127.0.0.1:5432/postgres",
                   help="admin URL; a database is made and dropped per run")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args()
    runs = {b: [] for b in args.binaries}
    port = 18300
    for r in range(args.rounds):
        # Alternate the order too, so a drift of the machine favours no build.
        order = args.binaries if r % 2 == 0 else list(reversed(args.binaries))
        for b in order:
            port += 1
            s = Server(b, args, port)
            try:
                runs[b].append(workload(s))
            finally:
                s.close()
    print(f"| operation ({args.backend}) | " + " | ".join(
        f"`{b}` µs per request" for b in args.binaries) + " |")
    print("|---|" + "---:|" * len(args.binaries))
    for name, _ in OPERATIONS:
        cells = []
        for b in args.binaries:
            values = [r[name] for r in runs[b]]
            cells.append(" / ".join(f"{v:.0f}" for v in values)
                         + f" (median {statistics.median(values):.0f})")
        print(f"| {name} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
