#!/usr/bin/env python3
"""The requests FastChat's llm_judge sends for MT-Bench single-answer grading, for the MT-Bench test.

    python3 scripts/oracle/mt_bench_judge_prompts.py [DATA_DIR] > Tests/Fixtures/eval/mt_bench_requests.json

Python standard library only. Takes the first question of each category from DATA_DIR (default .data,
made by `make data`: mt_bench_questions.jsonl, mt_bench_judge_prompts.jsonl, mt_bench_reference_gpt4.jsonl)
and writes, per question and turn, what FastChat sends (lm-sys/FastChat fastchat/llm_judge):
- the answer request: the conversation so far, at temperature_config[category] (common.py; 0.7 for a
  category not listed, gen_model_answer.py; a temperature under 1e-4 is greedy);
- the judge request (common.py run_judge_single): system prompt, then prompt_template.format(...) with
  question/answer for turn 1 ("single-v1"), question_1/answer_1/question_2/answer_2 for turn 2
  ("single-v1-multi-turn"), and ref_answer_1/ref_answer_2 from the GPT-4 reference answers with the
  "single-math-v1" prompts for the categories in NEED_REF_CATS; judged at temperature 0, max_tokens 2048.
The candidate's answers are those of Tests/Fixtures/eval/fake_judge_server.py (answer() below is the same).
"""
import json, os, sys

# common.py
NEED_REF_CATS = ["math", "reasoning", "coding"]
temperature_config = {
    "writing": 0.7, "roleplay": 0.7, "extraction": 0.0, "math": 0.0, "coding": 0.0,
    "reasoning": 0.0, "stem": 0.1, "humanities": 0.1, "arena-hard-200": 0.0,
}


def answer(messages):
    return "ANSWER %d to <%s> {question_1} {{x}} }" % (len(messages), messages[-1]["content"][:40])


data = sys.argv[1] if len(sys.argv) > 1 else ".data"
def jsonl(name):
    with open(os.path.join(data, name), encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]

questions, firsts = jsonl("mt_bench_questions.jsonl"), {}
for q in questions:
    firsts.setdefault(q["category"], q)
prompts = {p["name"]: p for p in jsonl("mt_bench_judge_prompts.jsonl")}
references = {r["question_id"]: r for r in jsonl("mt_bench_reference_gpt4.jsonl")}

items = []
for q in firsts.values():
    temperature = temperature_config.get(q["category"], 0.7)
    conversation, answers, answer_requests = [], [], []
    for turn in q["turns"][:2]:
        conversation.append({"role": "user", "content": turn})
        answer_requests.append({"messages": list(conversation), "temperature": temperature})
        a = answer(conversation)
        answers.append(a)
        conversation.append({"role": "assistant", "content": a})
    kwargs = {}
    ref = q["category"] in NEED_REF_CATS
    if ref:
        turns = references[q["question_id"]]["choices"][0]["turns"]
        kwargs = {"ref_answer_1": turns[0], "ref_answer_2": turns[1]}
    judge_requests = []
    for multi_turn in (False, True):
        p = prompts[("single-math-v1" if ref else "single-v1") + ("-multi-turn" if multi_turn else "")]
        if multi_turn:
            user = p["prompt_template"].format(question_1=q["turns"][0], question_2=q["turns"][1],
                                               answer_1=answers[0], answer_2=answers[1], **kwargs)
        else:
            user = p["prompt_template"].format(question=q["turns"][0], answer=answers[0], **kwargs)
        judge_requests.append({"prompt": p["name"], "temperature": 0, "max_tokens": 2048,
                               "messages": [{"role": "system", "content": p["system_prompt"]}, {"role": "user", "content": user}]})
    items.append({"question_id": q["question_id"], "category": q["category"], "turns": q["turns"],
                  "answer_requests": answer_requests, "judge_requests": judge_requests})

json.dump({"source": "scripts/oracle/mt_bench_judge_prompts.py over make data's MT-Bench files (FastChat llm_judge)",
           "items": items}, sys.stdout, indent=1, ensure_ascii=False)
sys.stdout.write("\n")
