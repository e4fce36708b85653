"""Size and time of albert_np.explain's page on an albert-base-v2-shaped model: 32 and 512 tokens.

    python tests/benchmarks/explain_size.py                 # the bundled tokenizer (16,000 pieces)
    python tests/benchmarks/explain_size.py --vocab 30000   # a 30,000-piece vocabulary trained here
    python tests/benchmarks/explain_size.py --out-dir /tmp/pages --browser   # keep the pages, open them

The model has albert-base-v2's shape (embeddings 128, hidden 768, 12 heads, 12 layer applications,
feed-forward 3072, 512 positions) with random weights: a page's size depends on the shape, the number
of tokens and how many distinct pieces the logit lens shows, not on what the weights learnt. The
vocabulary is sized to the tokenizer, so that every id the MLM head can rank is a piece the page can
name: with the bundled tokenizer that is 16,000 pieces (albert-base-v2 has 30,000); --vocab 30000
trains a 30,000-piece vocabulary with train_tokenizer on 4M characters of ../shared/data's Wikipedia
text (a few seconds) and sizes the model to it. Random weights spread the lens over more distinct
pieces than a trained model does, so the sizes are on the high side.

Issue 29's budgets: at most 3 MB for 32 tokens and 15 MB for 512. tests/test_explain.py checks them
with the bundled tokenizer. --browser opens each page in headless Chromium (selenium + chromedriver)
and reports the time until its views are drawn.
"""
import argparse
import os
import shutil
import sys
import tempfile
import time

import numpy as np

from albert_np import AlbertConfig, AlbertForMaskedLM, explain, train_tokenizer
from albert_np.tasks.loading import DEFAULT_MODEL, load_tokenizer
from albert_np.tokenization import AlbertTokenizerFast

BUDGETS = {32: 3_000_000, 512: 15_000_000}        # bytes, issue 29
BASE_SHAPE = dict(embedding_size=128, hidden_size=768, num_attention_heads=12, num_hidden_layers=12,
                  intermediate_size=3072, max_position_embeddings=512)
WIKI = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "shared", "data", "pretrain",
                    "enwiki_2015_part1_of_2.txt.xz")
# Written for this benchmark: plain prose about the model, repeated to reach 512 tokens.
PARAGRAPH = (
    "A language model reads a sentence as a list of pieces. Each piece becomes a vector, and every layer "
    "lets each vector look at the others before it is updated. ALBERT keeps one set of layer weights and "
    "applies it twelve times, so the model stays small while the computation stays deep. When a word is "
    "hidden behind a mask, the last vectors are turned back into scores over the whole vocabulary, and the "
    "highest scores are the model's guesses. Teachers like to show each of these steps on a single page, "
    "so that a learner can follow one sentence from its characters to its predictions.")


def base_model(vocab_size, seed=0):
    """An AlbertForMaskedLM of albert-base-v2's shape with random weights and `vocab_size` pieces."""
    return AlbertForMaskedLM(AlbertConfig(vocab_size=vocab_size, **BASE_SHAPE), seed=seed)


def text_of_tokens(tok, n, paragraph=PARAGRAPH):
    """A text of exactly n tokens ([CLS] and [SEP] included) with one [MASK]: a run of the
    paragraph's words (repeated as needed), its middle word masked."""
    words = (paragraph + " ") * (n // 40 + 2)
    words = words.split()
    for start in range(len(words)):
        for count in range(1, len(words) - start + 1):
            chosen = list(words[start:start + count])
            chosen[len(chosen) // 2] = tok.mask_token
            size = len(tok(" ".join(chosen))["input_ids"])
            if size == n:
                return " ".join(chosen)
            if size > n:
                break
    raise ValueError(f"no run of the paragraph's words has exactly {n} tokens")


def trained_tokenizer(folder, wiki):
    """A 30,000-piece vocabulary trained with ALBERT's recipe on 4M characters of Wikipedia."""
    if not os.path.isfile(wiki):
        sys.exit(f"--vocab 30000 needs {wiki} (../shared/data beside the repository, or pass --wiki)")
    model_file = train_tokenizer([wiki], 30000, os.path.join(folder, "spiece30k"), max_chars_per_file=4_000_000,
                                 seed=0, num_threads=1)
    return AlbertTokenizerFast(vocab_file=model_file)


def page_load_seconds(paths):
    """Seconds from navigation until each page has drawn its views, in headless Chromium."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000"):
        options.add_argument(arg)
    options.binary_location = shutil.which("chromium") or shutil.which("google-chrome") or ""
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    seconds = []
    try:
        for path in paths:
            t = time.perf_counter()
            driver.get("file://" + os.path.abspath(path))
            WebDriverWait(driver, 120).until(lambda d: d.execute_script("return document.body.dataset.ready"))
            seconds.append(time.perf_counter() - t)
    finally:
        driver.quit()
    return seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocab", choices=("bundled", "30000"), default="bundled")
    parser.add_argument("--wiki", default=WIKI, help="the text --vocab 30000 trains on (default: %(default)s)")
    parser.add_argument("--out-dir", help="keep the pages here (default: a temporary folder)")
    parser.add_argument("--browser", action="store_true", help="time each page's drawing in headless Chromium")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out_dir or tmp
        os.makedirs(out, exist_ok=True)
        tok = load_tokenizer(DEFAULT_MODEL) if args.vocab == "bundled" else trained_tokenizer(tmp, args.wiki)
        model = base_model(len(tok))
        print(f"model: albert-base-v2 shape, vocab {len(tok):,} ({args.vocab} tokenizer), "
              f"{model.num_parameters():,} parameters, random weights")
        paths = []
        for n, budget in BUDGETS.items():
            text = text_of_tokens(tok, n)
            t = time.perf_counter()
            page = explain(text, model=model, tokenizer=tok)
            path = page.save(os.path.join(out, f"explain_base_{n}.html"))
            seconds = time.perf_counter() - t
            size = os.path.getsize(path)
            a = page.data["attention"]
            kept = "all weights" if a["mode"] == "full" else (
                f"top {a['k']} per row ({100 * a['kept_mean']:.1f} % of the attention on average), "
                f"{a['thumbnail_size']}x{a['thumbnail_size']} thumbnails")
            paths.append(path)
            print(f"{n:4d} tokens: {size / 1e6:6.2f} MB (budget {budget / 1e6:.0f} MB, "
                  f"{'ok' if size <= budget else 'OVER'}), {seconds:5.1f} s; attention: {kept}; "
                  f"{len(page.data['vocab']):,} distinct pieces")
        if args.browser:
            for n, s in zip(BUDGETS, page_load_seconds(paths)):
                print(f"{n:4d} tokens: drawn in headless Chromium in {s:.1f} s")
        if args.out_dir:
            print("pages:", ", ".join(paths))


if __name__ == "__main__":
    np.seterr(all="raise")
    main()
