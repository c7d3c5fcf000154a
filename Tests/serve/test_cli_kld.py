"""`feather perplexity --kl-divergence-base` / `--kl-divergence` end to end: a base written and scored by
the same model, and every bad input (missing, truncated or foreign base, a text shorter than one chunk,
a text that is not the base's) refused with one line on stderr and exit 1, never a crash."""
import os
import subprocess
import tempfile
import unittest

from serve_support import FEATHER, ROOT

SMOL = "smollm2-135m"
GEMMA = "gemma3-270m"
WIKI = os.path.join(ROOT, ".data", "wiki.utf8")


def feather(*args, timeout=300):
    r = subprocess.run([FEATHER, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


class KLDivergenceCLITests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.TemporaryDirectory()
        cls.text = os.path.join(cls.dir.name, "text.txt")
        with open(WIKI, encoding="utf-8") as f:
            f.readline()
            body = f.read(3000)
        with open(cls.text, "w", encoding="utf-8") as f:
            f.write(body)
        cls.base = os.path.join(cls.dir.name, "smol.kld")
        code, out, err = feather("perplexity", SMOL, "-f", cls.text, "--ctx", "64", "--chunks", "2", "-t", "2",
                                 "--kl-divergence-base", cls.base)
        assert code == 0, err
        assert "perplexity:" in out, out

    @classmethod
    def tearDownClass(cls):
        cls.dir.cleanup()

    def refused(self, args, *needles):
        code, _, err = feather(*args)
        self.assertEqual(code, 1, f"{args}: exit {code}: {err[-500:]}")
        self.assertNotIn("Fatal error", err)
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        for needle in needles:
            self.assertIn(needle, err, f"{args}: {err[-500:]}")

    def test_the_model_against_its_own_base(self):
        code, out, err = feather("perplexity", SMOL, "--kl-divergence-base", self.base, "--kl-divergence", "-t", "2", "-f", self.text)
        self.assertEqual(code, 0, err)
        self.assertIn("Same top p: 100.000", out)
        self.assertIn("Mean    KLD:", out)
        self.assertEqual(os.path.getsize(self.base), 20 + 2 * 64 * 4 + 2 * 31 * (49152 + 4) * 2)

    def test_missing_truncated_and_foreign_bases(self):
        self.refused(["perplexity", SMOL, "--kl-divergence-base", "/nonexistent/b.kld", "--kl-divergence"], "no such file")
        truncated = os.path.join(self.dir.name, "truncated.kld")
        with open(self.base, "rb") as f, open(truncated, "wb") as g:
            g.write(f.read(os.path.getsize(self.base) - 1000))
        self.refused(["perplexity", SMOL, "--kl-divergence-base", truncated, "--kl-divergence"], "truncated")
        self.refused(["perplexity", SMOL, "--kl-divergence-base", self.text, "--kl-divergence"], "not a KL-divergence base")
        self.refused(["perplexity", GEMMA, "--kl-divergence-base", self.base, "--kl-divergence"], "vocabulary of 49152", "262144")
        self.refused(["perplexity", SMOL, "--kl-divergence-base", self.base, "--kl-divergence", "-f", os.path.join(ROOT, "README.md")],
                     "differ at token")
        # A usage error, as every option check of the CLI: ArgumentParser's exit 64 with the usage line.
        code, _, err = feather("perplexity", SMOL, "--kl-divergence")
        self.assertEqual(code, 64, err)
        self.assertIn("--kl-divergence needs --kl-divergence-base FILE", err)

    def test_a_text_shorter_than_one_chunk(self):
        short = os.path.join(self.dir.name, "short.txt")
        with open(short, "w") as f:
            f.write("Too short.")
        out = os.path.join(self.dir.name, "short.kld")
        self.refused(["perplexity", SMOL, "-f", short, "--ctx", "64", "--kl-divergence-base", out], "fewer than one chunk of 64")
        self.assertFalse(os.path.exists(out) or os.path.exists(out + ".part"))
        self.refused(["perplexity", SMOL, "-f", short, "--ctx", "64"], "fewer than one chunk")


if __name__ == "__main__":
    from serve_support import run
    run(KLDivergenceCLITests)
