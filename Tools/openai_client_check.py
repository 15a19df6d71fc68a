#!/usr/bin/env python3
"""Drives `rill serve` with the official `openai` Python package: completions and chat,
streamed and not, a second chat turn served from the first one's snapshot, and the errors the
client raises for bad requests. Exits non-zero on the first failure.

    python3 Tools/openai_client_check.py --rill .build/release/rill --model mamba-tiny.rill

Starts the server itself on a free loopback port (with a ChatML template, since the fixture
checkpoint has none), and stops it with SIGTERM (graceful shutdown) at the end.
Needs: pip install openai
"""
import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

CHATML = ("{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + "
          "'<|im_end|>' + '\\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rill", default=".build/release/rill")
    ap.add_argument("--model", required=True, help="a .rill file with a tokenizer")
    args = ap.parse_args()
    try:
        import openai
    except ImportError:
        raise SystemExit("openai_client_check.py: pip install openai")

    port = free_port()
    with tempfile.NamedTemporaryFile("w", suffix=".jinja", delete=False) as f:
        f.write(CHATML)
        template = f.name
    server = subprocess.Popen(
        [args.rill, "serve", args.model, "--port", str(port), "--slots", "2", "--chat-template", template,
         "--api-key", "check-key", "--alias", "tiny"],
        stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            line = server.stderr.readline()
            if not line:
                raise SystemExit(f"FAIL: the server exited ({server.wait()})")
            if line.startswith("ready on port"):
                break
        client = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="check-key", max_retries=0)

        models = client.models.list()
        check([m.id for m in models.data] == ["tiny"], "models.list lists the alias")

        c = client.completions.create(model="tiny", prompt="And God said", max_tokens=8, temperature=0)
        check(c.object == "text_completion" and len(c.choices) == 1, "completions.create returns one choice")
        check(c.usage.completion_tokens == 8 and c.choices[0].finish_reason == "length", "completion usage and finish_reason")
        text = c.choices[0].text

        parts = list(client.completions.create(model="tiny", prompt="And God said", max_tokens=8, temperature=0, stream=True))
        check("".join(p.choices[0].text for p in parts if p.choices) == text, "streamed completion equals the plain one (greedy)")

        msgs = [{"role": "user", "content": "In the beginning"}]
        r1 = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=8, temperature=0)
        reply = r1.choices[0].message.content
        check(r1.choices[0].message.role == "assistant" and r1.usage.prompt_tokens > 0, "chat.completions.create")

        chunks = list(client.chat.completions.create(model="tiny", messages=msgs, max_tokens=8, temperature=0, stream=True))
        streamed = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
        check(streamed == reply, "streamed chat equals the plain one (greedy)")

        msgs += [{"role": "assistant", "content": reply}, {"role": "user", "content": "And the earth"}]
        r2 = client.chat.completions.create(model="tiny", messages=msgs, max_tokens=8, temperature=0)
        cached = r2.usage.prompt_tokens_details.cached_tokens
        check(cached >= r1.usage.prompt_tokens, f"second turn reused the first turn's state ({cached} of {r2.usage.prompt_tokens} prompt tokens cached)")

        try:
            client.completions.create(model="tiny", prompt="x", max_tokens=0)
            check(False, "max_tokens 0 is refused")
        except openai.BadRequestError as e:
            check(e.status_code == 400 and e.body.get("param") == "max_tokens", "max_tokens 0 is a BadRequestError naming the field")
        try:
            client.completions.create(model="other-model", prompt="x", max_tokens=1)
            check(False, "unknown model is refused")
        except openai.NotFoundError as e:
            check(e.status_code == 404, "an unknown model is a NotFoundError")
        bad = openai.OpenAI(base_url=f"http://127.0.0.1:{port}/v1", api_key="wrong", max_retries=0)
        try:
            bad.models.list()
            check(False, "a wrong key is refused")
        except openai.AuthenticationError as e:
            check(e.status_code == 401, "a wrong API key is an AuthenticationError")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            raise SystemExit("FAIL: the server did not stop on SIGTERM")
        os.unlink(template)
    check(code == 0, "the server stopped cleanly on SIGTERM")
    print("openai client check: all passed")


if __name__ == "__main__":
    main()
