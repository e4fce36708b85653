"""pretrain-export's model card: built from the run (its mixture, held-out counts, settings), with the
Hub's YAML metadata read back by huggingface_hub.ModelCard, and the author's note kept as written."""
import json

import pytest
from huggingface_hub import ModelCard

from albert_np.training import pretraining_sources as ps
from albert_np.training.model_card import add_export_arguments, export_main
from albert_np.training.checkpoints import latest_checkpoint
from test_pretraining_sources import TEXTS, TOKENIZER, make, run_sources


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import argparse
    tmp = tmp_path_factory.mktemp("card")
    sources = run_sources(tmp)
    make(tmp, "run", 3, sources).train()
    (tmp / "test.txt").write_text(" = Cats = \n" + "\n".join(TEXTS), encoding="utf-8")
    (tmp / "note.md").write_text("## Study\n\n**Written by the author.** | a | table |\n", encoding="utf-8")
    p = argparse.ArgumentParser()
    add_export_arguments(p)
    out = tmp / "everyday-tiny"
    export_main(p.parse_args(["--checkpoint", latest_checkpoint(str(tmp / "run")), "--tokenizer", TOKENIZER,
                              "--out", str(out), "--text", str(tmp / "test.txt"), "--examples", "8",
                              "--note-file", str(tmp / "note.md"), "--license", "cc-by-sa-4.0"]))
    state = json.loads((tmp / "run" / "checkpoint-3" / "trainer_state.json").read_text())
    return out, sources, state


def test_the_cards_metadata_parses_back(exported):
    out, sources, _ = exported
    card = ModelCard.load(str(out / "README.md"))
    assert card.data.to_dict() == {"datasets": ["stories", "lists"], "language": "en", "library_name": "albert_np",
                                   "license": "cc-by-sa-4.0", "pipeline_tag": "fill-mask",
                                   "tags": ["albert", "fill-mask", "pretraining", "albert_np"]}
    assert card.text.startswith("\n# everyday-tiny\n")


def test_the_card_says_what_the_run_read(exported):
    out, sources, state = exported
    text = (out / "README.md").read_text(encoding="utf-8")
    assert "albert-tiny-en" not in text and "30,729" not in text and "Wikipedia" not in text
    assert "## Study\n\n**Written by the author.** | a | table |" in text           # the note, as written
    # epochs read: finished epochs + the blocks (of 4 documents) read of this one, over 20 documents
    read = {n: s["epoch"] + min(s["block"] * 4 / 20, 1) for n, s in state["data_state"]["sources"].items()}
    assert (f"| stories | `stories.txt` | blocks | yes | 75.0 % | 20 | 0 of 20 blocks | {read['stories']:.2f} |"
            in text)
    assert (f"| lists | `lists.txt.gz` | blocks | no (-100) | 25.0 % | 20 | 0 of 20 blocks | {read['lists']:.2f} |"
            in text)
    assert "| steps | 3 of a planned 3 |" in text and "## Quality (`test.txt`;" in text
    assert "pretrain-eval --model <this folder> --text test.txt" in text
    assert "Held out, never trained on" not in text                   # both sources were noholdout


def test_the_card_of_a_run_with_a_holdout(tmp_path):
    from albert_np.training.model_card import data_section
    state = {"args": {"max_predictions": 20, "max_seq_length": 128, "block_docs": 16},
             "mixture": [ps.Source("stories", ("a/tiny.txt.xz",), 3).to_dict(),
                         ps.Source("wiki", ("w1.xz", "w2.xz"), 1, format="wikiextractor").to_dict()],
             "data_manifest": {"rule": ps.HOLDOUT_RULE, "sources": {
                 "stories": {"documents": 95, "blocks": 100, "heldout_blocks": 5},
                 "wiki": {"documents": 10, "blocks": None, "heldout_blocks": 0}}},
             "data_state": {"seed": 0, "examples": 9, "sources": {
                 "stories": {"epoch": 1, "block": 3, "offset": 0, "seed": 0},
                 "wiki": {"epoch": 0, "block": 0, "offset": 3, "seed": 0}}}}
    text = data_section(state)
    assert "| stories | `tiny.txt.xz` | blocks | yes | 75.0 % | 95 | 5 of 100 blocks | 1.51 |" in text  # 1 + 48 / 95
    assert "| wiki | `w1.xz`, `w2.xz` | wikiextractor | yes | 25.0 % | 10 | none | 0.00 |" in text
    assert "Held out, never trained on (stories): a blank-line-separated block" in text
