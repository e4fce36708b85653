"""albert_np: ALBERT (A Lite BERT) in plain NumPy, checked against Hugging Face transformers.

Start with `albert_np.fill_mask("The capital of France is [MASK].")`, or use the
HF-named classes: `AlbertTokenizer`, `AlbertForMaskedLM.from_pretrained(...)`.
The whole forward pass is in albert_np/model.py.
"""
from .config import AlbertConfig
from .modeling import (AlbertForMaskedLM, AlbertForMultipleChoice, AlbertForPreTraining,
                       AlbertForPreTrainingOutput, AlbertForQuestionAnswering,
                       AlbertForSequenceClassification, AlbertForTokenClassification, AlbertModel,
                       AlbertPreTrainedModel)

__version__ = "0.1.0"
