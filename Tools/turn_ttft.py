#!/usr/bin/env python3
"""Time to first token, turn by turn, over one multi-turn chat against an OpenAI-compatible server.

A recurrent model's state after turn N cannot be "rolled back", so a server that keeps no snapshot
of it must prefill the whole conversation again at every turn, and its time to first token grows
with the history. This tool measures that: it starts a server command (or uses a running server),
drives one chat of --turns turns through /v1/chat/completions with stream=true, temperature 0 and
max_tokens --max-tokens, appends each assistant reply to the history, and records per turn

  prompt tokens   usage.prompt_tokens
  cached tokens   usage.prompt_tokens_details.cached_tokens, when the server reports it
  TTFT            request sent -> first chunk carrying non-empty delta.content
  total           request sent -> end of the stream
  server timings  llama-server's "timings" (prompt_n, cache_n, prompt_ms) when present

The user messages are a fixed list of 20 (39-48 words each) after a one-line system message, so
every run sends the same turns; the history still depends on the model's own replies. Before
turn 1 one short unrelated request (no shared prefix) warms the server up (--no-warmup skips it).
Standard library only.

Usage (the command after -- is started, "{port}" in it is replaced by --port; its output goes to
--server-log; the server is stopped with SIGINT, then SIGKILL, at the end):

  python3 Tools/turn_ttft.py --label rill --port 8091 --json rill.json -- \\
      .build/release/rill serve model.rill --port {port} --slots 1 -t 2 --chat-template chatml.jinja

  python3 Tools/turn_ttft.py --label llama-server --port 8092 --json llama.json -- \\
      llama-server -m model.gguf --port {port} -np 1 -t 2 -tb 2 --jinja --chat-template-file chatml.jinja

  python3 Tools/turn_ttft.py --url http://127.0.0.1:8080 --label running     # a server already up

  python3 Tools/turn_ttft.py --compare rill.json llama.json                    # side-by-side table

--write-chatml FILE writes the ChatML Jinja template used for the measurements (the same one
for every server, so the prompts are the same text).
"""
import argparse
import http.client
import json
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import urllib.parse

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

SYSTEM = "You are a careful assistant. Answer briefly and say when you are unsure."

USER_MESSAGES = [
    "I am planning a week-long cycling trip along the Danube from Passau to Vienna in early May. "
    "I have never done a multi-day ride before. What should I think about first: the bike, the daily "
    "distances, or where to sleep each night?",
    "My bike is a ten-year-old steel touring frame with rim brakes and a triple chainring. A friend says "
    "I should replace the tyres and brake pads before leaving. Is that enough, or should a shop check "
    "anything else, like the bearings or the chain?",
    "The whole route is about three hundred and twenty kilometres. I can ride sixty kilometres comfortably "
    "on a weekend, but never several days in a row. How would you split the distance so that I am not "
    "exhausted by the fourth day?",
    "I would rather not book every night in advance, because the weather might force a rest day. On the "
    "other hand, May has holidays in Austria and small towns can fill up. How much flexibility is "
    "reasonable without risking a night with nowhere to stay?",
    "For luggage I have two rear panniers and a handlebar bag. I want to carry a light rain jacket, two "
    "sets of cycling clothes, one set of evening clothes, a small tool kit and a charger. Does that sound "
    "like too much or too little for seven days?",
    "What tools would you actually carry? I know how to fix a puncture and adjust the brakes, but I have "
    "never replaced a spoke or a chain link on the road. Is it worth learning that before I go, or is "
    "help usually close enough on this route?",
    "I have read that the path is mostly flat but that the wind along the river can be strong. Which "
    "direction does it usually blow in May, and does it matter much whether I ride downstream towards "
    "Vienna or upstream towards Passau?",
    "Food is another question. I do not want to stop at restaurants for lunch every day because it breaks "
    "the rhythm. What would you eat during the ride, and how often should I eat on a day of sixty to "
    "seventy kilometres?",
    "There is a section near the Wachau valley with vineyards and old monasteries. I would like to spend "
    "half a day there without the bike. Is Melk or Durnstein a better base, and can I leave loaded "
    "panniers somewhere safely while I walk around?",
    "My phone will be my only navigation. The battery lasts about a day with the screen off, but much less "
    "with maps open all the time. Should I buy a dedicated bike computer, a dynamo charger, or simply "
    "carry a power bank and paper maps?",
    "I am also worried about my knees. On long rides the left one sometimes aches after about forty "
    "kilometres. Could that be the saddle height or the cleats, and is there anything I can check myself "
    "before paying for a professional bike fit?",
    "Suppose it rains for two full days in the middle of the trip. Would you ride anyway with proper rain "
    "gear, take a train for one stage, or wait it out in a town? I am not sure how miserable riding in "
    "steady rain really is.",
    "Trains in Austria seem to allow bikes, but I do not know the rules. Do I need a separate ticket for "
    "the bike, a reservation on regional trains, and is it easy to lift a loaded touring bike into the "
    "carriage alone?",
    "A colleague suggested I ride with a small group instead of alone, for safety and company. I like "
    "the freedom of going alone, though. What are the real risks of riding solo on a busy, well-marked "
    "route like this one?",
    "Let us talk about money. Roughly how much should I budget per day for a simple guesthouse, breakfast, "
    "an evening meal and a few snacks, and is it still common to need cash in small Austrian villages or "
    "are cards accepted everywhere now?",
    "I would like to keep a short diary with a few photos each evening. Is there a simple way to do that "
    "on a phone without draining the battery, and should I back the photos up somewhere every night in "
    "case the phone is lost?",
    "On the last day I arrive in Vienna in the afternoon and fly home the next morning. How do airlines "
    "usually handle bikes? Do I need a box, and where would I even find one in Vienna on short notice?",
    "Looking back at everything we discussed, which three preparations would you say matter most for a "
    "first multi-day trip, and which worries of mine are probably exaggerated? I tend to overplan and "
    "then feel stressed by my own lists.",
    "If this trip goes well, I am thinking of riding from Vienna to Budapest next year, which is longer "
    "and less developed for tourists. What would change in my preparation for that route, especially "
    "regarding camping and border crossings?",
    "Thank you. To finish, could you write a short checklist of the things I should do in the two weeks "
    "before departure, in the order I should do them, so that I can print it and stick it on the fridge?",
]


# ---------------------------------------------------------------------------------------- client

def post_stream(host, port, path, body, timeout):
    """POST a streamed chat request; returns (first_chunk_s, first_content_s, total_s, text,
    usage, timings, finish_reason, n_content_chunks). Times are from just before the request
    is sent."""
    payload = json.dumps(body).encode()
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    t0 = time.perf_counter()
    conn.request("POST", path, body=payload, headers={"Content-Type": "application/json",
                                                       "Accept": "text/event-stream"})
    resp = conn.getresponse()
    if resp.status != 200:
        detail = resp.read().decode(errors="replace")
        conn.close()
        raise RuntimeError(f"HTTP {resp.status}: {detail[:500]}")
    first_chunk = first_content = None
    text, usage, timings, finish, n_content = [], None, None, None, 0
    while True:
        line = resp.readline()
        if not line:
            break
        line = line.strip()
        if not line.startswith(b"data:"):
            continue
        data = line[5:].strip()
        if data == b"[DONE]":
            break
        now = time.perf_counter() - t0
        if first_chunk is None:
            first_chunk = now
        event = json.loads(data)
        if "error" in event:
            raise RuntimeError(f"server error in stream: {event['error']}")
        for choice in event.get("choices") or []:
            content = (choice.get("delta") or {}).get("content")
            if content:
                n_content += 1
                text.append(content)
                if first_content is None:
                    first_content = now
            if choice.get("finish_reason"):
                finish = choice["finish_reason"]
        if event.get("usage"):
            usage = event["usage"]
        if event.get("timings"):
            timings = event["timings"]
    total = time.perf_counter() - t0
    conn.close()
    return first_chunk, first_content, total, "".join(text), usage, timings, finish, n_content


def get_status(host, port, path, timeout=2.0):
    try:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        conn.close()
        return resp.status
    except OSError:
        return None


def wait_ready(host, port, proc, deadline_s):
    """Polls GET /v1/models until it answers 200 (llama-server answers 503 while loading)."""
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with status {proc.returncode} before it was ready")
        if get_status(host, port, "/v1/models") == 200:
            return
        time.sleep(0.2)
    raise RuntimeError(f"server not ready after {deadline_s} s")


def stop_server(proc):
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ------------------------------------------------------------------------------------------ run

def run_conversation(args):
    url = urllib.parse.urlparse(args.url or f"http://127.0.0.1:{args.port}")
    host, port = url.hostname, url.port or 80
    proc, log = None, None
    command = [part.replace("{port}", str(args.port)) for part in args.command]
    if command:
        if get_status(host, port, "/v1/models") is not None:
            sys.exit(f"turn_ttft.py: something already answers on {host}:{port}")
        log = open(args.server_log, "w") if args.server_log else subprocess.DEVNULL
        proc = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    elif not args.url:
        sys.exit("turn_ttft.py: give a server command after --, or --url of a running server")

    record = {
        "label": args.label, "command": shlex.join(command) if command else None, "url": f"http://{host}:{port}",
        "turns": args.turns, "max_tokens": args.max_tokens, "temperature": 0, "stream": True,
        "system": SYSTEM, "extra_body": args.extra_body, "warmup": args.warmup,
        "host": platform.node(), "started_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "load_avg_start": os.getloadavg(), "results": [],
    }
    try:
        t_start = time.perf_counter()
        wait_ready(host, port, proc, args.ready_timeout)
        record["ready_s"] = round(time.perf_counter() - t_start, 3)
        if args.warmup:
            # One short, unrelated request so that turn 1 does not pay for first-touch page faults of
            # the weights; its prompt shares no prefix with the conversation's.
            post_stream(host, port, "/v1/chat/completions", {
                "messages": [{"role": "user", "content": "Warm-up."}], "max_tokens": 4,
                "temperature": 0, "stream": True}, args.timeout)
        messages = [{"role": "system", "content": SYSTEM}] if SYSTEM and not args.no_system else []
        header = f"{'turn':>4} {'prompt':>6} {'cached':>6} {'new':>5} {'TTFT ms':>9} {'total ms':>9} {'gen':>4}  server"
        print(f"# {args.label}: {record['command'] or record['url']}", flush=True)
        print(header, flush=True)
        for turn in range(1, args.turns + 1):
            messages.append({"role": "user", "content": USER_MESSAGES[(turn - 1) % len(USER_MESSAGES)]})
            body = {"messages": messages, "max_tokens": args.max_tokens, "temperature": 0, "stream": True,
                    "stream_options": {"include_usage": True}}
            body.update(args.extra_body or {})
            first_chunk, first_content, total, reply, usage, timings, finish, n_content = post_stream(
                host, port, "/v1/chat/completions", body, args.timeout)
            usage = usage or {}
            prompt_tokens = usage.get("prompt_tokens")
            cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
            row = {
                "turn": turn, "messages": len(messages), "prompt_tokens": prompt_tokens, "cached_tokens": cached,
                "completion_tokens": usage.get("completion_tokens"), "finish_reason": finish,
                "ttft_s": first_content, "first_chunk_s": first_chunk, "total_s": total,
                "content_chunks": n_content, "reply": reply, "server_timings": timings,
            }
            record["results"].append(row)
            new = prompt_tokens - cached if prompt_tokens is not None and cached is not None else None
            server = ""
            if timings:
                server = (f"prompt_n={timings.get('prompt_n')} cache_n={timings.get('cache_n')} "
                          f"prompt_ms={timings.get('prompt_ms', 0):.1f}")
            print(f"{turn:>4} {fmt(prompt_tokens):>6} {fmt(cached):>6} {fmt(new):>5} {ms(first_content):>9} "
                  f"{ms(total):>9} {fmt(usage.get('completion_tokens')):>4}  {server}", flush=True)
            messages.append({"role": "assistant", "content": reply})
        record["load_avg_end"] = os.getloadavg()
    finally:
        stop_server(proc)
        if log not in (None, subprocess.DEVNULL):
            log.close()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
            f.write("\n")
    return record


def fmt(v):
    return "-" if v is None else str(v)


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.1f}"


def compare(paths):
    records = [json.load(open(p)) for p in paths]
    labels = [r["label"] for r in records]
    cols = ["turn"]
    for lab in labels:
        cols += [f"{lab} prompt", f"{lab} cached", f"{lab} TTFT ms"]
    print("| " + " | ".join(cols) + " |")
    print("|" + "---:|" * len(cols))
    n = max(len(r["results"]) for r in records)
    for i in range(n):
        cells = [str(i + 1)]
        for r in records:
            row = r["results"][i] if i < len(r["results"]) else {}
            cells += [fmt(row.get("prompt_tokens")), fmt(row.get("cached_tokens")), ms(row.get("ttft_s"))]
        print("| " + " | ".join(cells) + " |")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--label", default="server", help="name of this run in the table and the JSON")
    ap.add_argument("--port", type=int, default=8091, help="port of the started server ({port} in the command)")
    ap.add_argument("--url", help="base URL of a server already running (no command is started)")
    ap.add_argument("--turns", type=int, default=20, help="user turns (the 20 messages repeat beyond 20)")
    ap.add_argument("--max-tokens", type=int, default=32, help="max_tokens of every reply")
    ap.add_argument("--no-system", action="store_true", help="no system message")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false", help="skip the short warm-up request")
    ap.add_argument("--extra-body", type=json.loads, help='JSON object merged into every request, e.g. \'{"cache_prompt": true}\'')
    ap.add_argument("--timeout", type=float, default=600, help="seconds per request")
    ap.add_argument("--ready-timeout", type=float, default=300, help="seconds to wait for the server to load")
    ap.add_argument("--server-log", help="file for the started server's stdout and stderr")
    ap.add_argument("--json", help="write the per-turn record here")
    ap.add_argument("--write-chatml", metavar="FILE", help="write the ChatML Jinja template and exit")
    ap.add_argument("--compare", nargs="+", metavar="JSON", help="print a Markdown table of runs and exit")
    ap.add_argument("command", nargs=argparse.REMAINDER, help="-- then the server command")
    args = ap.parse_args()
    if args.command and args.command[0] == "--":
        args.command = args.command[1:]
    if args.write_chatml:
        with open(args.write_chatml, "w") as f:
            f.write(CHATML + "\n")
        return
    if args.compare:
        compare(args.compare)
        return
    run_conversation(args)


if __name__ == "__main__":
    main()
