"""process_docs for the Featherweight lm-eval tasks (scripts/oracle/lmeval/*.yaml).

Our MMLU file (.data/mmlu_test.jsonl, see data/manifest.json) is the test split of all 57 subjects
in one file, with fields question/answer_a..d/correct_answer/topic. Each subject task keeps its own
rows, in file order, and maps them to the fields lm-eval's stock MMLU template reads (question,
subject, choices, answer as in cais/mmlu). `row` is the 0-based line in the file: Featherweight's
item id is mmlu_test:ROW (gsm8k_test:ROW), which is how the fixtures are matched to `feather eval`.
"""


def _mmlu(subject):
    topic = subject.replace("_", " ")

    def process(dataset):
        dataset = dataset.map(lambda doc, i: {"row": i}, with_indices=True)
        dataset = dataset.filter(lambda doc: doc["topic"] == topic)
        return dataset.map(
            lambda doc: {
                "question": doc["question"],
                "subject": subject,
                "choices": [doc["answer_a"], doc["answer_b"], doc["answer_c"], doc["answer_d"]],
                "answer": "ABCD".index(doc["correct_answer"].strip()),
            },
            remove_columns=["answer_a", "answer_b", "answer_c", "answer_d", "correct_answer", "topic"],
        )

    process.__name__ = f"process_{subject}"
    return process


SUBJECTS = [
    "abstract_algebra", "anatomy", "astronomy", "business_ethics", "clinical_knowledge", "college_biology",
    "college_chemistry", "college_computer_science", "college_mathematics", "college_medicine", "college_physics",
    "computer_security", "conceptual_physics", "econometrics", "electrical_engineering", "elementary_mathematics",
    "formal_logic", "global_facts", "high_school_biology", "high_school_chemistry", "high_school_computer_science",
    "high_school_european_history", "high_school_geography", "high_school_government_and_politics",
    "high_school_macroeconomics", "high_school_mathematics", "high_school_microeconomics", "high_school_physics",
    "high_school_psychology", "high_school_statistics", "high_school_us_history", "high_school_world_history",
    "human_aging", "human_sexuality", "international_law", "jurisprudence", "logical_fallacies", "machine_learning",
    "management", "marketing", "medical_genetics", "miscellaneous", "moral_disputes", "moral_scenarios", "nutrition",
    "philosophy", "prehistory", "professional_accounting", "professional_law", "professional_medicine",
    "professional_psychology", "public_relations", "security_studies", "sociology", "us_foreign_policy", "virology",
    "world_religions",
]

for _s in SUBJECTS:
    globals()[f"process_{_s}"] = _mmlu(_s)


def process_gsm8k(dataset):
    return dataset.map(lambda doc, i: {"row": i}, with_indices=True)
