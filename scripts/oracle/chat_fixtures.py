#!/usr/bin/env python3
"""Two-turn greedy chats with llama.cpp (llama-cpp-python 0.3.36), for the `feather chat` tests.

Each turn: the conversation so far is rendered with jinja2 (the model's own template, or for the
template-less gemma3-270m the Gemma 3 instruct template that feather falls back to), a BOS the
template writes is dropped (llama.cpp adds its own), the text is tokenized with special tokens
parsed, and llama.cpp generates greedily (argmax, fresh prefill of the whole conversation) until an
end-of-generation token or MAX_TOKENS. The answer's text goes into the history for the next turn.

    .venv-oracle/bin/python scripts/oracle/chat_fixtures.py
Writes Tests/Fixtures/chat/chat.json.
"""
import json, pathlib
import numpy as np
import gguf
import llama_cpp
from jinja2.sandbox import ImmutableSandboxedEnvironment

ROOT = pathlib.Path(__file__).resolve().parents[2]
MAX_TOKENS = 48
CHATS = {
    "smollm2-135m": ["Hi!", "What is 2+2?"],
    # gemma3-270m is a base model: with Gemma turn markers it never writes <end_of_turn> on these
    # (nor on any of ~20 other short prompts tried); the fixture records what llama.cpp does.
    "gemma3-270m": ["Hi!", "What is 2+2?"],
}


def template_for(path):
    reader = gguf.GGUFReader(path)
    field = reader.fields.get("tokenizer.chat_template")
    if field is not None:
        return bytes(field.parts[field.data[0]]).decode()
    return (ROOT / "Tests/Fixtures/templates/google-gemma-3-4b-it.jinja").read_text()


def main():
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
    out = {}
    for name, turns in CHATS.items():
        path = str(ROOT / ".models" / f"{name}.gguf")
        template = env.from_string(template_for(path))
        llm = llama_cpp.Llama(model_path=path, n_ctx=512, logits_all=True, n_threads=2, verbose=False)
        vocab = llm._model.vocab
        bos = llm.detokenize([llm.token_bos()], special=True).decode()
        eos = llm.detokenize([llm.token_eos()], special=True).decode()
        add_bos = llama_cpp.llama_vocab_get_add_bos(vocab)
        messages, records = [], []
        for user in turns:
            messages.append({"role": "user", "content": user})
            text = template.render(messages=messages, add_generation_prompt=True, bos_token=bos, eos_token=eos)
            if add_bos and text.startswith(bos):
                text = text[len(bos):]
            prompt = llm.tokenize(text.encode(), add_bos=add_bos, special=True)
            llm.reset()
            llm.eval(prompt)
            tokens, stopped = [], False
            while len(tokens) < MAX_TOKENS:
                nxt = int(np.argmax(llm.scores[llm.n_tokens - 1]))
                if llama_cpp.llama_vocab_is_eog(vocab, nxt):
                    stopped = True
                    break
                tokens.append(nxt)
                llm.eval([nxt])
            answer = llm.detokenize(tokens).decode("utf-8", errors="replace")
            records.append({"user": user, "rendered": text, "prompt_tokens": prompt, "tokens": tokens,
                            "text": answer, "finish_reason": "stop" if stopped else "length"})
            messages.append({"role": "assistant", "content": answer})
        out[name] = {"max_tokens": MAX_TOKENS, "turns": records}
        print(name, [(r["finish_reason"], len(r["tokens"]), r["text"][:60]) for r in records])
    (ROOT / "Tests/Fixtures/chat/chat.json").write_text(json.dumps(out, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
