#!/usr/bin/env python3
"""A bounded load test of `rill serve` on loopback: N concurrent clients send R requests in all
(completions and chat, streamed and not, some clients hanging up mid-stream), and every request
must end in a whole answer or a deliberate 503; the server's resident memory is sampled and
must stay flat. Standard library only.

    python3 Tools/load_test.py --rill .build/release/rill --model mamba-tiny.rill \
        --clients 32 --requests 2000 --slots 2 --queue 16

Prints a summary (counts by outcome, latency percentiles, RSS first/peak/last) and exits
non-zero when a request was lost (a connection error, a truncated body, a status other than
200/503) or RSS grew by more than --rss-slack-mb after the warm-up (the first quarter of the
requests).
"""
import argparse
import http.client
import json
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
PROMPTS = ["In the beginning", "And God said", "The LORD is my shepherd", "Blessed are the meek", "And it came to pass"]


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def one_request(port, rng, stats, lock):
    """One request to its end; a 503 is counted and the same request is sent again after the
    Retry-After the server gave (scaled down, so that the queue refills)."""
    while True:
        outcome, retry_after = attempt(port, rng)
        with lock:
            stats.setdefault(outcome, 0)
            stats[outcome] += 1
        if outcome != "503":
            return
        time.sleep(rng.uniform(0.05, 0.2) * retry_after)


def attempt(port, rng):
    stream = rng.random() < 0.5
    chat = rng.random() < 0.5
    hangup = stream and rng.random() < 0.1
    max_tokens = rng.randint(4, 48)
    if chat:
        path = "/v1/chat/completions"
        body = {"messages": [{"role": "user", "content": rng.choice(PROMPTS)}], "max_tokens": max_tokens, "stream": stream}
    else:
        path = "/v1/completions"
        body = {"prompt": rng.choice(PROMPTS), "max_tokens": max_tokens, "stream": stream}
    t0 = time.time()
    outcome = "ok"
    retry_after = 1.0
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        conn.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        res = conn.getresponse()
        if res.status == 503:
            res.read()
            outcome = "503"
            retry_after = float(res.getheader("Retry-After", "1"))
        elif res.status != 200:
            outcome = f"status {res.status}"
        elif stream:
            if hangup:
                res.read(64)  # a first event, then hang up
                conn.sock.shutdown(socket.SHUT_RDWR)
                outcome = "hung up"
            else:
                data = res.read().decode()
                events = [b[6:] for b in data.split("\n\n") if b.startswith("data: ")]
                if not events or events[-1] != "[DONE]":
                    outcome = "truncated stream"
                else:
                    last = json.loads(events[-2])
                    if last.get("usage") is None:
                        outcome = "no usage"
        else:
            obj = json.loads(res.read())
            if obj["choices"][0].get("finish_reason") not in ("stop", "length"):
                outcome = "bad body"
        conn.close()
    except Exception as e:  # a lost request
        outcome = f"error {type(e).__name__}"
    if outcome == "ok":
        LATENCIES.append(time.time() - t0)
    return outcome, retry_after


LATENCIES = []


def open_idle(port, n):
    """n connections that connect and send nothing, held open through the run."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, n + 1024)), hard))
    socks = []
    for _ in range(n):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        socks.append(s)
    return socks


def stalled_request_is_closed(port, timeout):
    """Half a request, then silence: the server must close the connection after its timeout."""
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"prompt\": ")
    s.settimeout(timeout + 15)
    t0 = time.time()
    try:
        while s.recv(4096):
            pass
        return time.time() - t0
    except socket.timeout:
        return None
    finally:
        s.close()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rill", default=".build/release/rill")
    ap.add_argument("--model", required=True)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--slots", type=int, default=2)
    ap.add_argument("--queue", type=int, default=16)
    ap.add_argument("--rss-slack-mb", type=float, default=8)
    ap.add_argument("--cache-mb", type=int, default=4, help="the server's snapshot budget (it fills during the warm-up)")
    ap.add_argument("--idle", type=int, default=0, help="idle connections held open during the run")
    ap.add_argument("--timeout", type=int, default=5, help="the server's --timeout; a stalled request must be closed after it")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.NamedTemporaryFile("w", suffix=".jinja", delete=False) as f:
        f.write(CHATML)
    server = subprocess.Popen([args.rill, "serve", args.model, "--port", str(port), "--slots", str(args.slots),
                               "--queue", str(args.queue), "--chat-template", f.name,
                               "--timeout", str(args.timeout), "--cache-mb", str(args.cache_mb), "--max-connections", str(args.idle + 4 * args.clients + 64)], stderr=subprocess.PIPE, text=True)
    while True:
        line = server.stderr.readline()
        if not line:
            raise SystemExit("the server exited")
        sys.stderr.write(line)
        if line.startswith("ready on port"):
            break
    threading.Thread(target=lambda: [None for _ in server.stderr], daemon=True).start()
    stats, lock = {}, threading.Lock()
    rss = []
    remaining = [args.requests]
    done = threading.Event()

    def client(i):
        rng = random.Random(i)
        while True:
            with lock:
                if remaining[0] == 0:
                    return
                remaining[0] -= 1
            one_request(port, rng, stats, lock)

    issued_at_sample = []

    def sampler():
        while not done.is_set():
            rss.append(rss_kib(server.pid))
            issued_at_sample.append(args.requests - remaining[0])
            time.sleep(0.1)

    threading.Thread(target=sampler, daemon=True).start()
    idle = open_idle(port, args.idle)
    rss_idle = rss_kib(server.pid)
    stalled = [None]
    stall_thread = threading.Thread(target=lambda: stalled.__setitem__(0, stalled_request_is_closed(port, args.timeout)))
    stall_thread.start()
    t0 = time.time()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.time() - t0
    stall_thread.join()
    done.set()
    rss.append(rss_kib(server.pid))
    server.send_signal(signal.SIGTERM)
    server.wait(timeout=60)
    for sock in idle:
        sock.close()
    lat = sorted(LATENCIES or [0])
    # The warm-up is the first quarter of the requests: the snapshot cache fills and the
    # allocator's pools reach their size; from then on nothing may grow.
    warm = [r for r, n in zip(rss, issued_at_sample) if n >= args.requests // 4] or rss
    print(json.dumps({
        "requests": args.requests, "clients": args.clients, "slots": args.slots, "queue": args.queue,
        "seconds": round(elapsed, 1), "outcomes": stats, "idle_connections": args.idle,
        "rss_with_idle_mib": round(rss_idle / 1024, 1),
        "stalled_request_closed_after_s": None if stalled[0] is None else round(stalled[0], 1),
        "latency_s": {"p50": round(lat[len(lat) // 2], 3), "p99": round(lat[min(len(lat) - 1, int(0.99 * len(lat)))], 3)},
        "rss_mib": {"first": round(rss[0] / 1024, 1), "after_warmup": round(warm[0] / 1024, 1),
                    "peak": round(max(rss) / 1024, 1), "last": round(rss[-1] / 1024, 1)},
    }, indent=1))
    lost = {k: v for k, v in stats.items() if k not in ("ok", "503", "hung up")}
    if lost:
        raise SystemExit(f"FAIL: lost requests {lost}")
    if stalled[0] is None:
        raise SystemExit("FAIL: a stalled request was not closed")
    if (max(warm) - warm[0]) / 1024 > args.rss_slack_mb:
        raise SystemExit(f"FAIL: RSS grew from {warm[0] / 1024:.1f} to {max(warm) / 1024:.1f} MiB")


if __name__ == "__main__":
    main()
