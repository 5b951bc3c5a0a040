#!/usr/bin/env python3
"""Records the oracle for the prompt identity test: llama.cpp's llama-server renders every chat
template under tests/data/chat_templates/ (`--jinja --chat-template-file`) for a set of request
shapes through `POST /apply-template`, and counts the prompt's tokens through a one-token chat
completion (usage.prompt_tokens: where BOS is added or not). The result is
tests/data/chat_templates/llama_server_renders.json, committed; run this script to regenerate it:

    python3 tests/server/chat/record_templates.py [--peer ../shared/peer] [--model ../shared/models/stories260K.gguf]

A case the peer refuses (e.g. HTTP 500 from a template that raises) is recorded with its status and
message; the test expects Tandem to refuse it too.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
from peer_tools import free_port, peer_libs  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
TEMPLATES = os.path.join(ROOT, "tests", "data", "chat_templates")
OUT = os.path.join(TEMPLATES, "llama_server_renders.json")

WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather in a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "The city name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"], "description": "Temperature unit"},
            },
            "required": ["city"],
        },
    },
}
TIME_TOOL = {
    "type": "function",
    "function": {"name": "get_time", "description": "Current local time", "parameters": {"type": "object", "properties": {}}},
}
# A property with no "type" (an enum alone, as zod and pydantic write for literals): Gemma 4's template
# reads its type anyway, which Python Jinja2 refuses and llama.cpp renders as an empty type.
UNTYPED_TOOL = {
    "type": "function",
    "function": {"name": "set_unit", "description": "Set the unit",
                 "parameters": {"type": "object", "properties": {"unit": {"enum": ["c", "f"]}}, "required": ["unit"]}},
}
CALL = {"id": "call_1", "type": "function",
        "function": {"name": "get_weather", "arguments": "{\"city\": \"Paris\"}"}}

SYS = {"role": "system", "content": "You are a terse assistant."}
U1 = {"role": "user", "content": "Hello there!"}
A1 = {"role": "assistant", "content": "Hi. What do you need?"}
U2 = {"role": "user", "content": "What is the weather in Paris?"}

# name -> request body (the chat completion fields that shape the prompt).
CASES = {
    "user": {"messages": [U1]},
    "system_user": {"messages": [SYS, U1]},
    "multi_turn": {"messages": [U1, A1, U2]},
    "system_multi_turn": {"messages": [SYS, U1, A1, U2]},
    "no_generation_prompt": {"messages": [U1, A1], "add_generation_prompt": False},
    "tools": {"messages": [SYS, U2], "tools": [WEATHER_TOOL, TIME_TOOL]},
    "tool_choice_none": {"messages": [U2], "tools": [WEATHER_TOOL], "tool_choice": "none"},
    "untyped_tool_property": {"messages": [U2], "tools": [UNTYPED_TOOL]},
    "tool_call_history": {
        "messages": [U2, {"role": "assistant", "content": None, "tool_calls": [CALL]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp_c\": 18}"}],
        "tools": [WEATHER_TOOL],
    },
    "tool_call_with_text": {
        "messages": [SYS, U2, {"role": "assistant", "content": "Let me check.", "tool_calls": [CALL]},
                     {"role": "tool", "tool_call_id": "call_1", "content": "18 C, cloudy"},
                     {"role": "assistant", "content": "It is 18 C and cloudy."}, {"role": "user", "content": "Thanks"}],
        "tools": [WEATHER_TOOL],
    },
    "reasoning_history": {
        "messages": [U1, {"role": "assistant", "content": "Hi.", "reasoning_content": "The user greets me."}, U2],
    },
    "thinking_on": {"messages": [U2], "chat_template_kwargs": {"enable_thinking": True}},
    "thinking_off": {"messages": [U2], "chat_template_kwargs": {"enable_thinking": False}},
    "reasoning_effort": {"messages": [SYS, U2], "reasoning_effort": "low"},
    "kwargs_reasoning_effort": {"messages": [U2], "chat_template_kwargs": {"reasoning_effort": "high"}},
    "continue_final": {"messages": [U1, {"role": "assistant", "content": "Sure, here"}],
                       "continue_final_message": True, "add_generation_prompt": False},
}


def post(port, path, body):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", json.dumps(body).encode(),
                                 {"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=120) as r:
            return r.status, json.load(r)
    except urllib.error.HTTPError as e:
        try:
            return e.code, json.load(e)
        except ValueError:
            return e.code, {}


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=30) as r:
        return json.load(r)


def serve(lib, model, template, log):
    port = free_port()
    cmd = [os.path.join(lib, "llama-server"), "-m", model, "--jinja", "--chat-template-file", template,
           "--port", str(port), "-c", "8192", "-t", "1", "-np", "1", "--no-webui"]
    env = dict(os.environ, LD_LIBRARY_PATH=lib)
    proc = subprocess.Popen(cmd, env=env, stdout=open(log, "w"), stderr=subprocess.STDOUT)
    for _ in range(300):
        if proc.poll() is not None:
            return proc, None
        try:
            get(port, "/health")
            return proc, port
        except Exception:
            time.sleep(0.1)
    proc.kill()
    return proc, None


def record_template(lib, model, path, tmp):
    name = os.path.basename(path)[: -len(".jinja")]
    proc, port = serve(lib, model, path, os.path.join(tmp, name + ".log"))
    if port is None:
        proc.wait()
        return [{"template": name, "case": c, "status": 0, "error": "llama-server did not start (template refused)"}
                for c in CASES], None
    out = []
    try:
        caps = get(port, "/props").get("chat_template_caps")
        for case, body in CASES.items():
            status, res = post(port, "/apply-template", body)
            row = {"template": name, "case": case, "status": status}
            if status == 200:
                row["prompt"] = res["prompt"]
                status2, res2 = post(port, "/v1/chat/completions", dict(body, max_tokens=1, temperature=0))
                if status2 == 200:
                    row["n_prompt_tokens"] = res2["usage"]["prompt_tokens"]
            else:
                row["error"] = res.get("error", {}).get("message", "") if isinstance(res, dict) else ""
            out.append(row)
    finally:
        proc.terminate()
        proc.wait()
    return out, caps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--peer", default=os.path.join(ROOT, "..", "shared", "peer"))
    ap.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "models", "stories260K.gguf"))
    ap.add_argument("--only", default="", help="comma-separated template names (default: all)")
    args = ap.parse_args()
    only = set(filter(None, args.only.split(",")))
    renders, caps = [], {}
    started = int(time.time())
    with tempfile.TemporaryDirectory() as tmp:
        lib = peer_libs(os.path.abspath(args.peer), tmp)
        for f in sorted(os.listdir(TEMPLATES)):
            if not f.endswith(".jinja") or (only and f[:-6] not in only):
                continue
            rows, c = record_template(lib, os.path.abspath(args.model), os.path.join(TEMPLATES, f), tmp)
            renders += rows
            caps[f[:-6]] = c
            ok = sum(1 for r in rows if r["status"] == 200)
            print(f"{f}: {ok}/{len(rows)} rendered", file=sys.stderr)
    if only and os.path.exists(OUT):  # merge into the existing recording
        old = json.load(open(OUT))
        renders = [r for r in old["renders"] if r["template"] not in only] + renders
        caps = {**{k: v for k, v in old["caps"].items() if k not in only}, **caps}
    doc = {
        "about": "llama-server (../shared/peer) renders of tests/data/chat_templates/*.jinja; see record_templates.py",
        "model": os.path.basename(args.model),
        "recorded_at": started,  # unix time: templates that print today's date (strftime_now) used it
        "cases": CASES,
        "caps": caps,
        "renders": sorted(renders, key=lambda r: (r["template"], list(CASES).index(r["case"]))),
    }
    with open(OUT, "w") as fh:
        json.dump(doc, fh, indent=1, ensure_ascii=False)
        fh.write("\n")
    print(f"wrote {OUT}: {len(renders)} renders", file=sys.stderr)


if __name__ == "__main__":
    main()
