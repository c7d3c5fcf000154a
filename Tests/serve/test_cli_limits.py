"""The CLI refuses what it cannot run with one clear line and a non-zero exit, never a crash:
contexts whose KV cache exceeds memory, more threads than CPUs, sampling values no sampler
defines, missing files."""
import os
import subprocess
import tempfile
import unittest

from serve_support import FEATHER, ROOT

SMOL = "smollm2-135m"


def feather(*args, timeout=120):
    r = subprocess.run([FEATHER, *args], cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    return r.returncode, r.stdout, r.stderr


class CLILimitTests(unittest.TestCase):
    def refused(self, args, *needles):
        code, _, err = feather(*args)
        self.assertNotEqual(code, 0, f"{args} was accepted")
        self.assertLess(code, 128, f"{args} died with a signal: {err[-500:]}")
        self.assertNotIn("Fatal error", err)
        self.assertNotIn("Error Domain", err)
        for needle in needles:
            self.assertIn(needle, err, f"{args}: {err[-500:]}")
        return err

    def test_context_larger_than_memory_is_refused_before_allocating(self):
        self.refused(["run", SMOL, "-p", "hi", "--ctx", "100000000", "-n", "1"], "KV cache", "lower --ctx", "trained for 8192")
        self.refused(["serve", SMOL, "--ctx", "100000000", "--port", "0"], "KV cache")
        # 64 sequences of a context that fits once (4.6 GB of cache) do not fit together.
        self.refused(["serve", SMOL, "--ctx", "200000", "--parallel", "64", "--port", "0"], "for 64 sequences")

    def test_context_beyond_training_warns(self):
        code, out, err = feather("run", SMOL, "-p", "hi", "--ctx", "16384", "-n", "1", "--temp", "0", "-t", "1")
        self.assertEqual(code, 0, err)
        self.assertIn("exceeds the model's trained context (8192 tokens)", err)

    def test_threads_beyond_the_cpus_are_refused(self):
        self.refused(["run", SMOL, "-p", "hi", "-t", "1000"], "-t 1000", "at most")
        self.refused(["run", SMOL, "-p", "hi", "-t", "0"], "at least 1")
        self.refused(["serve", SMOL, "-t", "1000", "--port", "0"], "at most")
        self.refused(["perplexity", SMOL, "-f", "README.md", "-t", "1000"], "at most")

    def test_sampling_values_are_checked(self):
        for args, needle in [(["--temp=-1"], "--temp"), (["--temp", "nan"], "--temp"), (["--top-p", "2"], "--top-p"),
                             (["--min-p=5"], "--min-p"), (["-n=-1"], "-n"), (["--top-k=-3"], "--top-k"),
                             (["--repeat-penalty", "0"], "--repeat-penalty")]:
            self.refused(["run", SMOL, "-p", "hi", *args], needle)
        self.refused(["chat", SMOL, "--temp", "inf"], "--temp")

    def test_missing_and_wrong_files_are_one_line(self):
        err = self.refused(["perplexity", SMOL, "-f", "/nonexistent/text.txt"], "no such file")
        self.assertEqual(len(err.strip().splitlines()), 1, err)
        with tempfile.TemporaryDirectory() as d:
            self.refused(["perplexity", SMOL, "-f", d], "is a directory")
            self.refused(["run", d, "-p", "hi"], "is a directory")


if __name__ == "__main__":
    from serve_support import run
    run(CLILimitTests)
