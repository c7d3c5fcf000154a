#!/usr/bin/env python3
"""lm-eval itself as the oracle of `feather eval`: runs lm-evaluation-harness (pinned in
scripts/oracle/requirements-lmeval.txt, venv made by scripts/oracle/setup-lmeval.sh) against
`feather serve` on a seeded subset and writes its per-item outputs as fixtures under
Tests/Fixtures/lmeval/MODEL/ (read by Tests/EvalTests/LMEvalConformanceTests.swift).

  .venv-lmeval/bin/python scripts/oracle/lmeval_fixtures.py smollm2-135m [--feather .build/debug/feather]

Runs, each with `--log_samples` and the task YAMLs of scripts/oracle/lmeval/ (`--include_path`):
  mmlu        local-completions (loglikelihood through /v1/completions echo+logprobs, token ids from
              feather's /tokenize via lm-eval's remote tokenizer), group mmlu_fw (57 subjects), 0-shot
              (stock MMLU's default) and --num_fewshot 2 (few-shot from the test split, see the YAML) on
              the first of each subject's two docs.
  gsm8k       local-completions, generate_until, greedy, 5-shot (stock), max_gen_toks 128.
  gsm8k_chat  local-chat-completions --apply_chat_template (few-shot as multi-turn, lm-eval's default
              with a chat template), same settings, on the first 20 of the 50 GSM8K docs.

The subset is chosen with `--samples` (lm-eval evaluates these doc indices of each task; the
few-shot pools are still each task's whole split): for every MMLU subject 2 doc indices and for
GSM8K 50, drawn with Python's random.Random(SEED) and sorted. `--limit` is not used because it
takes the first N docs of each task, not a seeded choice.
"""
import argparse
import glob
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TASKS = os.path.join(ROOT, "scripts", "oracle", "lmeval")
sys.path.insert(0, TASKS)
from utils import SUBJECTS  # noqa: E402

SEED = 2024
MMLU_PER_SUBJECT = 2
GSM8K_ITEMS = 50
# The chat variant runs on the first GSM8K_CHAT_ITEMS of the GSM8K docs (generation is the slow part).
GSM8K_CHAT_ITEMS = 20
MAX_GEN_TOKS = 128


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def subset():
    """{task: sorted doc indices}: 2 per MMLU subject, 50 GSM8K problems, from random.Random(SEED)."""
    rows = [json.loads(line) for line in open(os.path.join(ROOT, ".data", "mmlu_test.jsonl")) if line.strip()]
    counts = {s: 0 for s in SUBJECTS}
    for r in rows:
        counts[r["topic"].replace(" ", "_")] += 1
    rng = random.Random(SEED)
    mmlu = {f"mmlu_fw_{s}": sorted(rng.sample(range(counts[s]), MMLU_PER_SUBJECT)) for s in SUBJECTS}
    n_gsm = sum(1 for line in open(os.path.join(ROOT, ".data", "gsm8k_test.jsonl")) if line.strip())
    gsm = {"gsm8k_fw": sorted(rng.sample(range(n_gsm), GSM8K_ITEMS))}
    return mmlu, gsm


class Serve:
    def __init__(self, feather, model, ctx):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(ROOT, ".build", f"lmeval-serve-{self.port}.log"), "w")
        self.proc = subprocess.Popen([feather, "serve", os.path.join(ROOT, ".models", model + ".gguf"), "--port", str(self.port), "--ctx", str(ctx), "--parallel", "1"],
                                     cwd=ROOT, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 300
        while time.time() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"feather serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                with urllib.request.urlopen(self.base + "/health", timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.5)
        self.stop()
        sys.exit("feather serve did not become healthy in 300 s")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.log.close()


REUSE = False


def lm_eval(out, model_type, model_args, tasks, samples, extra=()):
    if REUSE:
        # --reuse: the fixtures again from the outputs of an earlier run, lm-eval not run.
        results = glob.glob(os.path.join(out, "**", "results_*.json"), recursive=True)
        assert len(results) == 1, f"--reuse: no single earlier results_*.json under {out}"
        return os.path.dirname(results[0]), json.load(open(results[0]))
    shutil.rmtree(out, ignore_errors=True)
    cmd = [os.path.join(os.path.dirname(sys.executable), "lm_eval"), "run", "--model", model_type, "--model_args", model_args,
           "--tasks", *tasks, "--include_path", TASKS, "--samples", json.dumps(samples), "--log_samples",
           "--output_path", out, "--batch_size", "1", *extra]
    print("+", " ".join(cmd), flush=True)
    env = dict(os.environ, HF_DATASETS_OFFLINE="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    results = glob.glob(os.path.join(out, "**", "results_*.json"), recursive=True)
    assert len(results) == 1, results
    return os.path.dirname(results[0]), json.load(open(results[0]))


def samples_of(folder, task):
    files = glob.glob(os.path.join(folder, f"samples_{task}_*.jsonl"))
    assert len(files) == 1, (task, files)
    return [json.loads(line) for line in open(files[0])]


def mmlu_items(folder, tasks):
    items = []
    for task in sorted(tasks):
        for s in sorted(samples_of(folder, task), key=lambda s: s["doc_id"]):
            args = [s["arguments"][f"gen_args_{i}"] for i in range(len(s["arguments"]))]
            items.append({
                "task": task, "doc_id": s["doc_id"], "id": f"mmlu_test:{s['doc']['row']}",
                "prompt": args[0]["arg_0"], "continuations": [a["arg_1"] for a in args],
                # resps: per choice [[loglikelihood, is_greedy]] as strings
                "loglikelihoods": [float(r[0][0]) for r in s["resps"]],
                "is_greedy": [r[0][1] == "True" for r in s["resps"]],
                "target": int(s["target"]), "acc": s["acc"],
            })
    return items


def gsm8k_items(folder, task, chat):
    by_doc = {}
    for s in samples_of(folder, task):
        item = by_doc.setdefault(s["doc_id"], {
            "doc_id": s["doc_id"], "id": f"gsm8k_test:{s['doc']['row']}",
            "prompt": s["arguments"]["gen_args_0"]["arg_0"],
            "generated": s["resps"][0][0], "target": s["target"], "extracted": {}, "exact_match": {},
        })
        if chat:
            # local-chat-completions logs arg_0 as [messages as a JSON string].
            p = item["prompt"]
            p = p[0] if isinstance(p, list) and len(p) == 1 and isinstance(p[0], str) else p
            item["messages"] = p if isinstance(p, list) else json.loads(p)
        item["extracted"][s["filter"]] = s["filtered_resps"][0]
        item["exact_match"][s["filter"]] = s["exact_match"]
    items = [by_doc[k] for k in sorted(by_doc)]
    if chat:
        for i in items:
            del i["prompt"]
    return items


def trim_results(r, keep_tasks):
    """lm-eval's results.json with only some subtasks (enough to check the schema), nothing dropped inside them."""
    out = dict(r)
    for key in ("results", "configs", "versions", "n-shot", "higher_is_better", "n-samples"):
        if key in out:
            out[key] = {k: v for k, v in out[key].items() if k in keep_tasks}
    if "group_subtasks" in out:
        out["group_subtasks"] = {k: [t for t in v if t in keep_tasks] for k, v in out["group_subtasks"].items() if k in keep_tasks}
    if "samples" in out:
        del out["samples"]
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="model short name under .models/ (smollm2-135m, gemma3-270m)")
    ap.add_argument("--feather", default=os.environ.get("FEATHER_BIN", ".build/debug/feather"))
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--only", default="mmlu,mmlu_fewshot,gsm8k,gsm8k_chat", help="comma-separated runs")
    ap.add_argument("--reuse", action="store_true", help="write the fixtures from the lm-eval outputs of an earlier run under .build/lmeval-out")
    args = ap.parse_args()
    global REUSE
    REUSE = args.reuse
    only = set(args.only.split(","))
    feather = os.path.join(ROOT, args.feather)
    fixtures = os.path.join(ROOT, "Tests", "Fixtures", "lmeval", args.model)
    os.makedirs(fixtures, exist_ok=True)
    work = os.path.join(ROOT, ".build", "lmeval-out", args.model)
    mmlu, gsm = subset()
    from importlib.metadata import version
    about = {"lm_eval": version("lm_eval"), "model": args.model,
             "seed": SEED, "subset": "lm-eval --samples: %d docs per MMLU subject, %d GSM8K docs, random.Random(%d).sample, sorted"
             % (MMLU_PER_SUBJECT, GSM8K_ITEMS, SEED),
             "regenerate": f".venv-lmeval/bin/python scripts/oracle/lmeval_fixtures.py {args.model}"}
    server = Serve(feather, args.model, args.ctx) if not REUSE else None
    try:
        base = server.base if server else "http://reused"
        completions = (f"model={args.model},base_url={base}/v1/completions,tokenizer_backend=remote,"
                       f"num_concurrent=1,max_retries=2,timeout=1200")
        chat = f"model={args.model},base_url={base}/v1/chat/completions,num_concurrent=1,max_retries=2,timeout=1200"
        gen = ["--gen_kwargs", f"max_gen_toks={MAX_GEN_TOKS}"]
        for name, shots in (("mmlu", 0), ("mmlu_fewshot", 2)):
            if name not in only:
                continue
            # The 2-shot run takes the first of each subject's two docs (57): its prompts are three times longer.
            docs = mmlu if shots == 0 else {t: d[:1] for t, d in mmlu.items()}
            folder, results = lm_eval(os.path.join(work, name), "local-completions", completions, ["mmlu_fw"], docs,
                                      ["--num_fewshot", str(shots)])
            keep = {"mmlu_fw", "mmlu_fw_anatomy", "mmlu_fw_virology"}
            json.dump({"about": about, "shots": shots, "items": mmlu_items(folder, docs)}, open(os.path.join(fixtures, f"{name}.json"), "w"), indent=1)
            if shots == 0:
                json.dump(trim_results(results, keep), open(os.path.join(fixtures, "results_mmlu.json"), "w"), indent=1)
                json.dump(samples_of(folder, "mmlu_fw_anatomy")[0], open(os.path.join(fixtures, "sample_mmlu.json"), "w"), indent=1)
        if "gsm8k" in only:
            folder, results = lm_eval(os.path.join(work, "gsm8k"), "local-completions", completions, ["gsm8k_fw"], gsm, gen)
            json.dump({"about": about, "shots": 5, "max_gen_toks": MAX_GEN_TOKS, "items": gsm8k_items(folder, "gsm8k_fw", False)},
                      open(os.path.join(fixtures, "gsm8k.json"), "w"), indent=1)
            json.dump(trim_results(results, {"gsm8k_fw"}), open(os.path.join(fixtures, "results_gsm8k.json"), "w"), indent=1)
            json.dump(samples_of(folder, "gsm8k_fw")[0], open(os.path.join(fixtures, "sample_gsm8k.json"), "w"), indent=1)
        if "gsm8k_chat" in only:
            chat_docs = {"gsm8k_fw": gsm["gsm8k_fw"][:GSM8K_CHAT_ITEMS]}
            folder, _ = lm_eval(os.path.join(work, "gsm8k_chat"), "local-chat-completions", chat, ["gsm8k_fw"], chat_docs,
                                gen + ["--apply_chat_template"])
            json.dump({"about": about, "shots": 5, "max_gen_toks": MAX_GEN_TOKS, "items": gsm8k_items(folder, "gsm8k_fw", True)},
                      open(os.path.join(fixtures, "gsm8k_chat.json"), "w"), indent=1)
    finally:
        if server:
            server.stop()
    print("fixtures in", fixtures)


if __name__ == "__main__":
    main()
