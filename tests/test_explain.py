"""explain.py: the page's numbers against the forward, the page in a real browser, bad input, sizes.

References: the embedded JSON is parsed back here (regex + json + base64, not the library's reader)
and compared with the HF-named classes' forward (AlbertForPreTraining / AlbertForMaskedLM(...,
output_attentions=True, output_hidden_states=True)), with the masked-LM head written out by hand in
NumPy, with fill_mask's own output and with the tokenizer, each within the precision the page
states. The browser tests open the files in headless Chromium (Debian's `chromium` and
`chromium-driver`, driven by selenium): no script error, every view drawn, a screenshot that is not
blank, and clicks, hovers and arrow keys that change the drawing. Without Chromium they skip with
the reason, except under CI=true, where they fail (.ci/run installs it).
"""
import base64
import importlib.util
import json
import logging
import os
import re
import shutil

import numpy as np
import pytest

import albert_np
from albert_np import (AlbertConfig, AlbertForMaskedLM, AlbertForPreTraining, AlbertForSequenceClassification,
                       explain, fill_mask)
from albert_np.__main__ import main
from albert_np.explain import Explanation
from albert_np.pretrained import bundled_model
from albert_np.tasks import load_tokenizer

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, "fixtures", "tasks")
MLM = os.path.join(FIXTURES, "mlm")                    # AlbertForMaskedLM, 128 positions, with a tokenizer
SEQ = os.path.join(FIXTURES, "seq_single_label")       # AlbertForSequenceClassification: no MLM head
MODEL = bundled_model()
TEXT = "The capital of France is [MASK]."
STEP = 1 / 510 + 1e-6                                   # 8-bit weights: half of 1/255, plus float32 rounding
needs_model = pytest.mark.skipif(MODEL is None, reason="no bundled model in this installation")

spec = importlib.util.spec_from_file_location("explain_size", os.path.join(HERE, "benchmarks", "explain_size.py"))
explain_size = importlib.util.module_from_spec(spec)
spec.loader.exec_module(explain_size)


# %% Reading the page back, independently of the library ------------------------------------------

def page_data(html):
    """The JSON the page embeds."""
    m = re.search(r'<script type="application/json" id="albert-np-data">(.*?)</script>', html, re.S)
    assert m, "no data element in the page"
    return json.loads(m.group(1))


def attention_of(data):
    """(R, A, T, T) weights as stored (top-K pages: zeros outside each row's kept weights), and the
    (R, A, T, K) kept indices (None for a full page)."""
    att, T, A, R = data["attention"], len(data["tokens"]["ids"]), data["heads"], len(data["runs"])
    w = np.frombuffer(base64.b64decode(att["weights"]), np.uint8) / 255.0
    if att["mode"] == "full":
        return w.reshape(R, A, T, T), None
    k = att["k"]
    idx = np.frombuffer(base64.b64decode(att["index"]), "<u2").reshape(R, A, T, k).astype(np.int64)
    dense = np.zeros((R, A, T, T))
    np.put_along_axis(dense, idx, w.reshape(R, A, T, k), -1)
    return dense, idx


def mlm_by_hand(p, h, eps):                        # (..., H) -> (..., V), float64
    """W_dec LayerNorm(gelu_new(W h + b)) + b_dec, written out (the decoder is the embedding table)."""
    x = h.astype(np.float64) @ p["dense"]["weight"].T.astype(np.float64) + p["dense"]["bias"]
    x = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x * x * x)))
    x = (x - x.mean(-1, keepdims=True)) / np.sqrt(x.var(-1, keepdims=True) + eps)
    x = x * p["LayerNorm"]["weight"] + p["LayerNorm"]["bias"]
    return x @ p["decoder"]["weight"].T.astype(np.float64) + p["decoder"]["bias"]


def softmax64(z):
    z = z - z.max(-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(-1, keepdims=True)


def reference(model_cls, name, data):
    """The HF-named class's forward on the page's tokens (float32, as the page)."""
    ref = model_cls.from_pretrained(name)
    ids = np.array([data["tokens"]["ids"]])
    types = np.array([data["tokens"]["types"]])
    return ref, ref(input_ids=ids, token_type_ids=types, output_attentions=True, output_hidden_states=True)


def check_layers(data, hidden):
    """The shared-layer view's numbers against hidden states (L + 1, T, H), to 4 significant digits."""
    h = np.asarray(hidden, dtype=np.float64)
    update = np.linalg.norm(h[1:] - h[:-1], axis=-1)
    norm = np.linalg.norm(h, axis=-1)
    cosine = (h[1:] * h[:-1]).sum(-1) / (norm[1:] * norm[:-1])
    for name, want in (("update_norm", update), ("cosine", cosine), ("norm", norm)):
        got = np.array(data["layers"][name])
        np.testing.assert_allclose(got, want, rtol=5.001e-4, atol=1e-12, err_msg=name)


def check_lens(data, params, hidden, eps):
    """The logit lens: at every depth and token, the page's top-k are the by-hand head's top-k
    (ties allowed) and its probabilities equal the by-hand ones to 4 decimals."""
    ids, probs = np.array(data["lens"]["ids"]), np.array(data["lens"]["probs"])      # (T, L + 1, k)
    k = data["lens"]["k"]
    for d, h in enumerate(hidden):
        p = softmax64(mlm_by_hand(params, np.asarray(h), eps))                          # (T, V)
        best = -np.sort(-p, axis=-1)[:, :k]
        got = np.take_along_axis(p, ids[:, d], -1)
        np.testing.assert_allclose(got, best, atol=1e-5, err_msg=f"depth {d}: not the top {k}")
        np.testing.assert_allclose(probs[:, d], got, atol=5e-5 + 1e-5, err_msg=f"depth {d}: probabilities")
    assert all(data["vocab"][str(i)] for i in np.unique(ids))


# %% The numbers -----------------------------------------------------------------------------------

@needs_model
def test_page_numbers_equal_the_forward():
    page = explain(TEXT)
    data = page_data(page.html)
    tok = load_tokenizer(MODEL)
    enc = tok(TEXT, return_offsets_mapping=True)
    assert data["tokens"]["ids"] == enc["input_ids"]
    assert data["tokens"]["pieces"] == tok.convert_ids_to_tokens(enc["input_ids"])
    assert [tuple(o) for o in data["tokens"]["offsets"]] == [tuple(o) for o in enc["offset_mapping"]]
    assert data["tokens"]["types"] == [0] * len(enc["input_ids"])
    assert data["tokens"]["kind"].count("mask") == 1 and data["tokens"]["kind"][0] == "special"
    ref, out = reference(AlbertForPreTraining, MODEL, data)
    c = ref.config
    assert data["model"]["parameters"] == ref.num_parameters() and data["model"]["config"] == c.to_dict()
    assert data["applications"] == c.num_hidden_layers and data["heads"] == c.num_attention_heads
    weights, kept = attention_of(data)
    assert kept is None and data["attention"]["mode"] == "full"
    np.testing.assert_allclose(weights, np.concatenate(out.attentions), atol=STEP, rtol=0)
    hidden = np.concatenate(out.hidden_states)                                          # (L + 1, T, H)
    check_layers(data, hidden)
    p = ref.params["predictions"]
    # the by-hand head is the class's own at the last depth
    np.testing.assert_allclose(mlm_by_hand(p, hidden[-1], c.layer_norm_eps), out.prediction_logits[0], atol=2e-4)
    check_lens(data, p, hidden, c.layer_norm_eps)
    assert page.predictions == fill_mask(TEXT)          # the same dicts, the same floats
    assert [m["position"] for m in data["predictions"]] == [data["tokens"]["kind"].index("mask")]
    assert data["lens_absent"] is None and data["predictions_absent"] is None
    assert set(data["precision"]) == {"attention", "layers", "lens", "predictions"}
    assert "within 0.002" in data["precision"]["attention"]


def test_pair_with_token_types_and_groups_of_layers():
    """A text pair on a model with two layer groups of two layers each: the token types, the
    offsets into each text, and the R = L x inner attention runs in the forward's order."""
    tok = load_tokenizer(MLM)
    config = AlbertConfig(vocab_size=len(tok), embedding_size=16, hidden_size=32, num_attention_heads=4,
                          num_hidden_layers=4, num_hidden_groups=2, inner_group_num=2, intermediate_size=37,
                          max_position_embeddings=64)
    model = AlbertForMaskedLM(config, seed=3)
    text, pair = "john and emma lived in [MASK] .", "they moved later"
    data = page_data(explain(text, model=model, pair=pair, tokenizer=tok).html)
    enc = tok(text, pair, return_offsets_mapping=True)
    assert data["tokens"]["ids"] == enc["input_ids"] and data["tokens"]["types"] == enc["token_type_ids"]
    assert data["tokens"]["sequence"] == enc.sequence_ids()
    assert data["pair"] == pair and set(data["tokens"]["types"]) == {0, 1}
    assert [(r["application"], r["layer"], r["group"]) for r in data["runs"]] == [
        (1, 1, 1), (1, 2, 1), (2, 1, 1), (2, 2, 1), (3, 1, 2), (3, 2, 2), (4, 1, 2), (4, 2, 2)]
    out = model(input_ids=np.array([enc["input_ids"]]), token_type_ids=np.array([enc["token_type_ids"]]),
                output_attentions=True, output_hidden_states=True)
    weights, _ = attention_of(data)
    assert len(out.attentions) == 8
    np.testing.assert_allclose(weights, np.concatenate(out.attentions), atol=STEP, rtol=0)
    hidden = np.concatenate(out.hidden_states)
    assert len(hidden) == 5
    check_layers(data, hidden)
    check_lens(data, model.params["predictions"], hidden, config.layer_norm_eps)
    for s, t in ((0, text), (1, pair)):          # each piece's characters are in its own text
        for piece, seq, (a, b) in zip(data["tokens"]["pieces"], data["tokens"]["sequence"], data["tokens"]["offsets"]):
            if seq == s and b > a and piece != tok.mask_token:
                assert t[a:b].lower() in piece.replace("\u2581", "")


def test_long_rows_keep_their_largest_weights():
    """Over the byte budget each row keeps its K largest weights, and thumbnails are block means."""
    text = " ".join(["john and emma lived in the town before the war ."] * 6) + " [MASK]"
    page = explain(text, model=MLM, attention_bytes=20_000)
    data = page_data(page.html)
    att = data["attention"]
    T, A, R = len(data["tokens"]["ids"]), data["heads"], len(data["runs"])
    assert att["mode"] == "top_k" and att["k"] == 20_000 // (3 * R * A * T)
    _, out = reference(AlbertForMaskedLM, MLM, data)
    true = np.concatenate(out.attentions)                                               # (R, A, T, T)
    stored, idx = attention_of(data)
    kept_true = np.take_along_axis(true, idx, -1)
    np.testing.assert_allclose(np.take_along_axis(stored, idx, -1), kept_true, atol=STEP, rtol=0)
    others = true.copy()
    np.put_along_axis(others, idx, -1.0, -1)
    assert np.all(kept_true.min(-1) >= others.max(-1) - 1e-7)            # the kept ones are the largest
    assert att["kept_mean"] == pytest.approx(kept_true.sum(-1).mean(), abs=5e-5)
    S = att["thumbnail_size"]
    assert S == min(T, 64)
    edges = [round(i * T / S) for i in range(S + 1)]
    want = np.array([[[[true[r, h, edges[i]:edges[i + 1], edges[j]:edges[j + 1]].mean() for j in range(S)]
                       for i in range(S)] for h in range(A)] for r in range(R)])
    scale = np.array(att["thumbnail_scale"]).reshape(R, A, 1, 1)
    thumbs = np.frombuffer(base64.b64decode(att["thumbnails"]), np.uint8).reshape(R, A, S, S) / 255.0 * scale
    assert np.all(np.abs(thumbs - want) <= scale / 510 + 1e-9)
    assert f"only its {att['k']} largest weights" in data["precision"]["attention"]


def test_a_text_over_the_limit_is_cut_and_said_so(caplog):
    tok = load_tokenizer(MLM)
    text = " ".join(["john and emma lived in the town before the war ."] * 20) + " [MASK] ."
    n = len(tok(text)["input_ids"])
    assert n > 128
    with caplog.at_level(logging.WARNING, logger="albert_np.explain"):
        page = explain(text, model=MLM)
    data = page_data(page.html)
    assert data["tokens"]["ids"] == tok(text, truncation=True, max_length=128)["input_ids"]
    cut = data["truncation"]
    assert cut["tokens"] == n and cut["kept"] == 128 and cut["masks_cut"] == 1
    assert cut["cuts"] == [{"sequence": 0, "tokens": n - 128, "kept": 126,
                            "from_char": tok(text, return_offsets_mapping=True)["offset_mapping"][127][0]}]
    assert f"The input has {n} tokens, more than the 128 this model reads" in caplog.text
    assert data["predictions"] is None and "part that was cut" in data["predictions_absent"]
    with pytest.raises(ValueError, match=f"the text has {n} tokens, more than the 128 this model reads"):
        explain(text, model=MLM, truncation=False)


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(text=""), ValueError, "text is empty"),
    (dict(text="   \n"), ValueError, "text is empty"),
    (dict(text=TEXT, pair=" "), ValueError, "pair is empty"),
    (dict(text="\u200b\x01"), ValueError, "gives no token"),                  # characters the tokenizer drops
    (dict(text=TEXT, pair="\ufeff"), ValueError, "pair .* gives no token"),
    (dict(text=None), TypeError, "text must be a str"),
    (dict(text=["a", "b"]), TypeError, "text must be a str"),
    (dict(text=TEXT, top_k=0), ValueError, "top_k must be an int >= 1"),
    (dict(text=TEXT, truncation="yes"), TypeError, "truncation must be True or False"),
    (dict(text=TEXT, attention_bytes=0), ValueError, "attention_bytes must be a positive int"),
])
def test_bad_input_is_refused(kwargs, error, match):
    with pytest.raises(error, match=match):
        explain(model=MLM, **kwargs)


def test_a_model_without_masked_lm_head_shows_the_rest():
    page = explain(TEXT, model=SEQ, tokenizer=MLM)
    data = page_data(page.html)
    assert data["model"]["class"] == "AlbertForSequenceClassification" and not data["model"]["has_mlm_head"]
    assert data["lens"] is None and data["predictions"] is None and page.predictions is None
    assert "has no masked-LM head" in data["lens_absent"] and data["lens_absent"] == data["predictions_absent"]
    _, out = reference(AlbertForSequenceClassification, SEQ, data)
    np.testing.assert_allclose(attention_of(data)[0], np.concatenate(out.attentions), atol=STEP, rtol=0)
    check_layers(data, np.concatenate(out.hidden_states))
    assert "lens" not in data["precision"]


def test_the_page_is_self_contained_and_the_preview_static():
    page = explain(TEXT, model=MLM)
    html = page.html
    assert html.count("</script>") == 2                     # the data and the code; "<" is escaped in the data
    assert not re.search(r"""(src|href|action)\s*=\s*["']?(https?:|//|file:)""", html, re.I)
    assert not re.search(r"@import|url\(|<link|<iframe|fetch\(|XMLHttpRequest|import\(", html)
    assert set(re.findall(r"https?://[^\s\"'<>)]+", html)) <= {"http://www.w3.org/2000/svg"}   # a namespace
    data = page_data(html)
    weights, _ = attention_of(data)
    preview = re.search(r'<div id="static-preview">(.*?)</div>\n<main', html, re.S).group(1)
    assert preview.count("<line ") == int((weights[0, 0] >= 0.02).sum())   # application 1, head 1
    assert preview.count("<tr>") == len(page.predictions) + 1
    for f in page.predictions:
        assert f"<td>{f['score']:.4f}</td>" in preview
    notebook = page._repr_html_()
    assert preview in notebook and "<iframe" not in notebook and 'createElement("iframe")' in notebook
    assert notebook.count("</script>") == 1 and "srcdoc" in notebook
    frame = json.loads(re.search(r"frame\.srcdoc = (\".*?\");\n", notebook, re.S).group(1))
    assert frame == html
    assert page._repr_html_() != notebook                    # each cell gets its own element id


def test_save_and_the_command_line(tmp_path, capsys):
    path = explain(TEXT, model=MLM).save(tmp_path / "page.html")
    assert page_data(open(path, encoding="utf-8").read())["text"] == TEXT
    out = tmp_path / "cli.html"
    status = main(["explain", TEXT, "--pair", "they moved later", "--model", MLM, "--out", str(out), "--top-k", "3"])
    printed = capsys.readouterr().out
    assert status == 0 and str(out) in printed and "tokens" in printed
    data = page_data(out.read_text(encoding="utf-8"))
    assert data["pair"] == "they moved later" and len(data["predictions"][0]["fills"]) == 3
    assert main(["explain", "  ", "--model", MLM, "--out", str(out)]) == 2
    assert "text is empty" in capsys.readouterr().err
    assert main(["explain", TEXT, "--model", MLM, "--out", str(tmp_path)]) == 2
    assert "is a folder" in capsys.readouterr().err
    long_text = " ".join(["john and emma lived in the town ."] * 30)
    assert main(["explain", long_text, "--model", MLM, "--out", str(out), "--no-truncation"]) == 2
    assert "more than the 128 this model reads" in capsys.readouterr().err
    assert albert_np.explain is explain and "explain" in albert_np.__all__


# %% Sizes on an albert-base-v2-shaped model -------------------------------------------------------

@pytest.fixture(scope="module")
def base_pages(tmp_path_factory):
    """{tokens: (Explanation, path)} for 32 and 512 tokens on a base-shaped model with random
    weights and the bundled tokenizer (vocab_size 16,000, sized to it; see explain_size.py)."""
    if MODEL is None:
        pytest.skip("no bundled model (its tokenizer is used) in this installation")
    tok = load_tokenizer(MODEL)
    model = explain_size.base_model(len(tok))
    folder = tmp_path_factory.mktemp("explain_base")
    pages = {}
    for n in explain_size.BUDGETS:
        page = explain(explain_size.text_of_tokens(tok, n), model=model, tokenizer=tok)
        pages[n] = (page, page.save(folder / f"base_{n}.html"))
    return pages


def test_sizes_on_a_base_shaped_model(base_pages):
    for n, budget in explain_size.BUDGETS.items():
        page, path = base_pages[n]
        data = page.data
        assert len(data["tokens"]["ids"]) == n and data["heads"] == 12 and data["applications"] == 12
        assert data["model"]["config"]["hidden_size"] == 768 and data["truncation"] is None
        assert os.path.getsize(path) <= budget, f"{n} tokens: {os.path.getsize(path):,} bytes > {budget:,}"
    assert base_pages[32][0].data["attention"]["mode"] == "full"
    assert base_pages[512][0].data["attention"]["mode"] == "top_k"


# %% In a real browser -----------------------------------------------------------------------------

def browser_missing():
    """Why the browser tests cannot run here, or None."""
    if not (shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")):
        return "no Chromium (Debian: apt-get install chromium chromium-driver)"
    if not shutil.which("chromedriver"):
        return "no chromedriver (Debian: apt-get install chromium-driver)"
    if importlib.util.find_spec("selenium") is None:
        return "selenium is not installed (pip install -e .[test])"
    return None


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium driven by selenium, offline: the pages are opened from file://."""
    reason = browser_missing()
    if reason:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true but {reason}: .ci/run installs chromium and chromium-driver")
        pytest.skip(reason)
    os.environ.setdefault("SE_AVOID_STATS", "true")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    options = webdriver.ChromeOptions()
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1280,1000", "--force-device-scale-factor=1", "--proxy-server=127.0.0.1:9",
                "--proxy-bypass-list=<-loopback>"):       # every network request would fail
        options.add_argument(arg)
    options.binary_location = (shutil.which("chromium") or shutil.which("chromium-browser")
                               or shutil.which("google-chrome"))
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(options=options, service=Service(shutil.which("chromedriver")))
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def open_page(driver, path):
    """Open a page, wait until its views are drawn; returns the console's errors so far (none expected)."""
    from selenium.webdriver.support.ui import WebDriverWait
    driver.get_log("browser")                                          # forget earlier pages' messages
    driver.get("file://" + os.path.abspath(path))
    WebDriverWait(driver, 60).until(lambda d: d.execute_script(
        "return document.body.dataset.ready || document.getElementById('error-box') && "
        "!document.getElementById('error-box').hidden"))
    return severe(driver)


def severe(driver):
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def js(driver, script, *args):
    return driver.execute_script(script, *args)


def canvas_image(driver, element_id):
    return js(driver, "return document.getElementById(arguments[0]).toDataURL()", element_id)


def screenshot_stats(driver):
    """Luminance mean and variance and the number of colours of a screenshot, decoded by the browser."""
    png = driver.get_screenshot_as_base64()
    return driver.execute_async_script("""
        var done = arguments[arguments.length - 1], img = new Image();
        img.onload = function () {
          var c = document.createElement("canvas"); c.width = img.width; c.height = img.height;
          var x = c.getContext("2d"); x.drawImage(img, 0, 0);
          var d = x.getImageData(0, 0, c.width, c.height).data, n = 0, s = 0, s2 = 0, colours = new Set();
          for (var i = 0; i < d.length; i += 4) {
            var y = 0.299 * d[i] + 0.587 * d[i + 1] + 0.114 * d[i + 2];
            s += y; s2 += y * y; n++;
            if (colours.size < 4096) colours.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2]);
          }
          done({mean: s / n, variance: s2 / n - (s / n) * (s / n), colours: colours.size, width: img.width});
        };
        img.src = "data:image/png;base64," + arguments[0];""", png)


def state(driver):
    return js(driver, "var s = window.albertExplain.state; return [s.run, s.head, s.token];")


def check_views(driver, data):
    """Every view drawn, with the data's sizes."""
    T, R, A, L = len(data["tokens"]["ids"]), len(data["runs"]), data["heads"], data["applications"]
    assert js(driver, "return document.getElementById('static-preview').hidden") is True
    assert js(driver, "return document.getElementById('error-box').hidden") is True
    assert js(driver, "return document.querySelectorAll('#chips .chip').length") == T
    assert js(driver, "return document.querySelectorAll('#model-grid canvas').length") == R * A
    assert js(driver, "return document.querySelectorAll('#run-select option').length") == R
    assert js(driver, "return document.querySelectorAll('#head-buttons button').length") == A
    for cid in ("head-canvas", "matrix-canvas", "layers-canvas"):
        assert js(driver, "var c = document.getElementById(arguments[0]); return c.width * c.height", cid) > 1000
    assert js(driver, "return document.querySelectorAll('#layers-chart svg polyline').length") == 2
    if data["lens"]:
        assert js(driver, "return document.querySelectorAll('#lens-body table.lens tr').length") == L + 2
    else:
        assert data["lens_absent"] in js(driver, "return document.getElementById('lens-body').textContent")
    if data["predictions"]:
        rows = js(driver, "return document.querySelectorAll('#predictions-body table.preds tr').length")
        assert rows == sum(len(m["fills"]) + 1 for m in data["predictions"])
    else:
        shown = js(driver, "return document.getElementById('predictions-body').textContent")
        assert data["predictions_absent"] in shown
    footer = js(driver, "return document.getElementById('footer').textContent")
    assert all(note in footer for note in data["precision"].values())
    assert js(driver, "return performance.getEntriesByType('resource').length") == 0   # nothing fetched


@needs_model
def test_the_page_in_chromium(browser, tmp_path):
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    page = explain(TEXT)
    path = page.save(tmp_path / "capital.html")
    assert open_page(browser, path) == []
    data = page.data
    check_views(browser, data)
    shot = screenshot_stats(browser)
    assert shot["width"] >= 1000 and shot["variance"] > 200 and shot["colours"] > 200, shot
    mask = data["tokens"]["kind"].index("mask")
    assert state(browser) == [0, 0, mask]                         # the lens starts at the [MASK]
    predictions = js(browser, "return document.getElementById('predictions-body').textContent")
    assert all(f["token_str"] in predictions and f"{f['score']:.4f}" in predictions for f in page.predictions)

    # arrow keys move head (left, right) and layer application (up, down), and redraw
    before = canvas_image(browser, "head-canvas"), canvas_image(browser, "matrix-canvas")
    browser.find_element(By.CSS_SELECTOR, "#attention-view h2").click()
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
    assert state(browser)[:2] == [0, 1]
    after = canvas_image(browser, "head-canvas"), canvas_image(browser, "matrix-canvas")
    assert after[0] != before[0] and after[1] != before[1]
    ActionChains(browser).send_keys(Keys.ARROW_DOWN, Keys.ARROW_DOWN).perform()
    assert state(browser)[:2] == [2, 1]
    assert canvas_image(browser, "head-canvas") != after[0]
    assert "application 3 of" in browser.find_element(By.ID, "att-title").text
    ActionChains(browser).send_keys(Keys.ARROW_LEFT, Keys.ARROW_LEFT, Keys.ARROW_UP).perform()
    assert state(browser)[:2] == [1, 0]                            # clamped at head 1

    # a click on a thumbnail of the model view opens that head
    R, A = len(data["runs"]), data["heads"]
    drawn = canvas_image(browser, "head-canvas")
    browser.find_elements(By.CSS_SELECTOR, "#model-grid canvas")[(R - 1) * A + A - 1].click()
    assert state(browser)[:2] == [R - 1, A - 1]
    assert canvas_image(browser, "head-canvas") != drawn
    thumbnail = browser.find_elements(By.CSS_SELECTOR, "#model-grid canvas")[(R - 1) * A + A - 1]
    assert "selected" in thumbnail.get_attribute("class")

    # hovering a token of the head view keeps only its row
    canvas = browser.find_element(By.ID, "head-canvas")
    full = canvas_image(browser, "head-canvas")
    w, h = canvas.size["width"], canvas.size["height"]
    row_y = 26 + (mask + 0.5) * 20                     # the head view's top margin and row height (T <= 40)
    ActionChains(browser).move_to_element_with_offset(canvas, -int(0.3 * w), int(row_y - h / 2)).perform()
    readout = browser.find_element(By.ID, "att-readout").text
    assert readout.startswith("[MASK] (#%d) attends most to:" % mask), readout
    assert canvas_image(browser, "head-canvas") != full
    ActionChains(browser).move_to_element(browser.find_element(By.CSS_SELECTOR, "#attention-view h2")).perform()
    assert canvas_image(browser, "head-canvas") == full             # the hover is gone

    # the scale and the hiding of [CLS]/[SEP] redraw
    browser.find_element(By.ID, "hide-special").click()
    assert canvas_image(browser, "head-canvas") != full
    js(browser, "var s = document.getElementById('scale-select'); s.value = 'linear';"
                "s.dispatchEvent(new Event('change'));")
    assert canvas_image(browser, "head-canvas") != full

    # tokens: hover highlights the characters; a click (or the lens's arrows) picks the lens token
    chips = browser.find_elements(By.CSS_SELECTOR, "#chips .chip")
    ActionChains(browser).move_to_element(chips[4]).perform()
    start, end = data["tokens"]["offsets"][4]
    lit = "return Array.from(document.querySelectorAll('#texts span.hl')).map(s => s.textContent).join('')"
    assert js(browser, lit) == TEXT[start:end]
    lens = browser.find_element(By.ID, "lens-body").text
    layers = canvas_image(browser, "layers-canvas")
    chips[2].click()
    assert state(browser)[2] == 2 and browser.find_element(By.ID, "lens-body").text != lens
    assert canvas_image(browser, "layers-canvas") != layers
    browser.find_element(By.CSS_SELECTOR, "#lens-view h2").click()
    ActionChains(browser).send_keys(Keys.ARROW_RIGHT).perform()
    assert state(browser)[2] == 3
    first = data["vocab"][str(data["lens"]["ids"][3][0][0])]
    assert first in browser.find_element(By.CSS_SELECTOR, "#lens-body table.lens").text
    chart = js(browser, "return document.getElementById('layers-chart').innerHTML")
    browser.find_element(By.CSS_SELECTOR, 'input[name="measure"][value="cosine"]').click()
    assert canvas_image(browser, "layers-canvas") != layers
    assert js(browser, "return document.getElementById('layers-chart').innerHTML") != chart
    assert severe(browser) == []


def test_pages_without_mlm_head_and_with_cut_rows_in_chromium(browser, tmp_path):
    for name, page in (("seq", explain(TEXT, model=SEQ, tokenizer=MLM)),
                       ("long", explain(" ".join(["john and emma lived in the town ."] * 12) + " [MASK]",
                                        model=MLM, attention_bytes=20_000))):
        path = page.save(tmp_path / f"{name}.html")
        assert open_page(browser, path) == [], name
        check_views(browser, page.data)
        assert screenshot_stats(browser)["variance"] > 200


def test_the_base_shaped_512_token_page_in_chromium(browser, base_pages):
    page, path = base_pages[512]
    assert open_page(browser, path) == []
    check_views(browser, page.data)
    before = canvas_image(browser, "head-canvas")
    js(browser, "window.albertExplain.selectHead(11, 11)")
    assert canvas_image(browser, "head-canvas") != before
    assert severe(browser) == []


@needs_model
def test_the_notebook_output_in_chromium(browser, tmp_path):
    """The cell's HTML in a host page: the script puts the interactive page in an iframe; without
    scripts the static preview (head view SVG and predictions table) is what shows."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
    page = explain(TEXT)
    host = tmp_path / "notebook.html"
    host.write_text(f"<!DOCTYPE html><html><body><h1>a notebook</h1>{page._repr_html_()}</body></html>",
                    encoding="utf-8")
    browser.get_log("browser")
    browser.get(host.as_uri())
    frame = WebDriverWait(browser, 30).until(lambda d: d.find_elements(By.CSS_SELECTOR, "iframe"))[0]
    browser.switch_to.frame(frame)
    WebDriverWait(browser, 30).until(lambda d: d.execute_script("return document.body && document.body.dataset.ready"))
    check_views(browser, page.data)
    browser.switch_to.default_content()
    assert frame.size["height"] > 1000                              # fitted to the page inside
    assert severe(browser) == []
    browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": True})
    try:
        browser.get(host.as_uri())
        assert browser.find_elements(By.CSS_SELECTOR, "iframe") == []
        svg = browser.find_element(By.CSS_SELECTOR, ".albert-np-explain svg")
        assert svg.is_displayed() and svg.size["height"] > 100
        table = browser.find_element(By.CSS_SELECTOR, ".albert-np-explain table")
        assert page.predictions[0]["token_str"] in table.text
        browser.get(page.save(tmp_path / "capital.html") and (tmp_path / "capital.html").as_uri())
        assert browser.find_element(By.ID, "static-preview").is_displayed()
        assert not browser.find_element(By.ID, "app").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setScriptExecutionDisabled", {"value": False})


def test_explanation_repr():
    page = explain(TEXT, model=MLM)
    assert isinstance(page, Explanation)
    assert repr(page).startswith("Explanation('The capital of France is [MASK].', model=") and "tokens=" in repr(page)
