"""albert_np: ALBERT (A Lite BERT) in plain NumPy, checked against Hugging Face transformers.

Start with `albert_np.fill_mask("The capital of France is [MASK].")` (or look inside the
forward with `albert_np.explain(...)`), or use the
HF-named classes: `AlbertTokenizer`, `AlbertForMaskedLM.from_pretrained(...)`.
The whole forward pass is in albert_np/model.py.
"""
from .config import AlbertConfig
from .modeling import (AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining,
                       AlbertForPreTrainingOutput, AlbertForQuestionAnswering,
                       AlbertForSequenceClassification, AlbertForTokenClassification, AlbertModel,
                       AlbertPreTrainedModel)
from .auto import (AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForMultipleChoice,
                   AutoModelForPreTraining, AutoModelForQuestionAnswering,
                   AutoModelForSequenceClassification, AutoModelForTokenClassification, AutoTokenizer,
                   pipeline)
from .tasks import DEFAULT_MODEL, answer_question, choose, classify, embed, fill_mask, tag_tokens
from .training.finetuning import finetune
from .explain import explain
from .tokenization import AlbertTokenizer, AlbertTokenizerFast, BatchEncoding, train_tokenizer

__version__ = "0.1.0"

__all__ = [
    "AlbertConfig", "AlbertModel", "AlbertForPreTraining", "AlbertForPreTrainingOutput",
    "AlbertForMaskedLM", "AlbertForSequenceClassification", "AlbertForTokenClassification",
    "AlbertForQuestionAnswering", "AlbertForMultipleChoice", "AlbertPreTrainedModel",
    "AlbertTokenizer", "AlbertTokenizerFast", "BatchEncoding", "train_tokenizer",
    "AutoConfig", "AutoTokenizer", "AutoModel", "AutoModelForPreTraining", "AutoModelForMaskedLM",
    "AutoModelForSequenceClassification", "AutoModelForTokenClassification",
    "AutoModelForQuestionAnswering", "AutoModelForMultipleChoice", "pipeline",
    "DEFAULT_MODEL", "fill_mask", "classify", "tag_tokens", "answer_question", "choose", "embed",
    "finetune", "explain",
]
