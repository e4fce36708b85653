"""Ready-made tasks: fill_mask, classify, tag_tokens, answer_question, choose, embed.

Each task is a plain function for one-off calls, backed by a reusable object
(the `*Pipeline` classes, which `albert_np.pipeline(task, ...)` returns) for
batches and repeated calls:

    fill_mask("Plants create [MASK] through photosynthesis.")         # default model
    classify(["good", "bad"], model="path/to/sst2-albert")
    answer_question("Who?", long_text, model="path/to/squad-albert")

`model` is a Hub id, a local folder, or a loaded model (then pass `tokenizer=`
too, unless the model was loaded from a folder that holds one). Models and
tokenizers are loaded once and kept in a small cache, so a second call costs
only the forward pass.

Outputs have the keys, nesting and order of transformers' pipelines, so code
written for `transformers.pipeline` reads them unchanged; each docstring lists
where albert_np deliberately differs.

The modules, in reading order:
    loading.py                the default model, what each task needs, the model/tokenizer cache
    base.py                   the Pipeline base class, batching, input checks
    fill_mask.py, text_classification.py, token_classification.py,
    question_answering.py, multiple_choice.py, feature_extraction.py   one task each
"""
from ..progress import PROGRESS_MIN_ITEMS
from .base import DEFAULT_BATCH_SIZE, Pipeline, encode, encoder_params, pad_batch, run_batched
from .feature_extraction import POOLINGS, FeatureExtractionPipeline, embed
from .fill_mask import FillMaskPipeline, fill_mask
from .loading import (CACHE_SIZE, DEFAULT_MODEL, HUB_DEFAULT, TASK_SPECS, TaskSpec, checkpoint_tensors,
                      clear_cache, load_model, load_tokenizer, resolve)
from .multiple_choice import MultipleChoicePipeline, choose
from .question_answering import QuestionAnsweringPipeline, answer_question
from .text_classification import FUNCTIONS, TextClassificationPipeline, classify
from .token_classification import AGGREGATION_STRATEGIES, TokenClassificationPipeline, tag_tokens

PIPELINES = {cls.task: cls for cls in (FillMaskPipeline, TextClassificationPipeline, TokenClassificationPipeline,
                                       QuestionAnsweringPipeline, MultipleChoicePipeline,
                                       FeatureExtractionPipeline)}

__all__ = [
    "fill_mask", "classify", "tag_tokens", "answer_question", "choose", "embed",
    "FillMaskPipeline", "TextClassificationPipeline", "TokenClassificationPipeline",
    "QuestionAnsweringPipeline", "MultipleChoicePipeline", "FeatureExtractionPipeline", "Pipeline", "PIPELINES",
    "DEFAULT_MODEL", "HUB_DEFAULT", "CACHE_SIZE", "DEFAULT_BATCH_SIZE", "PROGRESS_MIN_ITEMS",
    "FUNCTIONS", "AGGREGATION_STRATEGIES", "POOLINGS", "TASK_SPECS", "TaskSpec",
    "clear_cache", "load_model", "load_tokenizer", "checkpoint_tensors", "resolve",
    "pad_batch", "run_batched", "encode", "encoder_params",
]
