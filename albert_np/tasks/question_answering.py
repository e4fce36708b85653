"""question-answering: the span of a context that answers a question (extractive QA)."""
import logging
from typing import Any, Optional, Union

import numpy as np

from ..ops import softmax
from .base import DEFAULT_BATCH_SIZE, Pipeline, as_text_list, head_outputs, check_top_k, split_rows
from ..hints import Texts
from .loading import ModelArg, TokenizerArg

logger = logging.getLogger(__name__)


class QuestionAnsweringPipeline(Pipeline):
    """Extract answer spans from contexts. Matches: transformers 4.x QuestionAnsweringPipeline.

    A context too long for one input is cut into windows of max_seq_len tokens
    (question + context part), neighbours sharing doc_stride tokens; every window
    is scored, and the best spans of all windows compete. Scores are
    p_start(s) * p_end(e), the probabilities taken over the window's context
    tokens and [CLS]; spans are widened to whole words (align_to_words), and
    equal answers found in several windows add their scores, as transformers 4.x does.
    """

    task = "question-answering"

    def run(self, question=None, context=None, top_k=1, doc_stride=None, max_answer_len=15,
            handle_impossible_answer=False, max_seq_len=384, max_question_len=64, align_to_words=True,
            batch_size=None):
        """Answers of one question or of a list of questions.

        Args:
            question, context: str each; or a list of questions with one context (str) or
                with a list of contexts (one per question); or, as transformers, one
                {"question", "context"} dict (or a list of them) as the first argument.
            top_k: answers per question (fewer when the context has fewer candidates).
            doc_stride: tokens shared by neighbouring windows of a long context; None:
                min(max_seq_len // 2, 128), i.e. 128 for the default max_seq_len (as transformers 4.x),
                lowered when a long question leaves less room.
            max_answer_len: the longest answer, in tokens.
            handle_impossible_answer: also offer the empty answer {"answer": "", start 0, end 0},
                scored p_start([CLS]) * p_end([CLS]) (the smallest over the windows).
            max_seq_len: tokens per window, question and special tokens included.
            max_question_len: longer questions are cut to this many tokens (None: never).
            align_to_words: widen each span to whole words of the context.
        Returns:
            {"score", "start", "end", "answer"} (context[start:end] == answer), or a list of them
            best first when top_k > 1; a list of such results for a list of questions.
        """
        questions, contexts, single = self._split_inputs(question, context)
        check_top_k(top_k)
        for name, value, low in (("max_answer_len", max_answer_len, 1), ("max_seq_len", max_seq_len, 4),
                                 ("doc_stride", 0 if doc_stride is None else doc_stride, 0)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
                raise ValueError(f"{name} must be an int >= {low}, got {value!r}")
        if max_question_len is not None and (isinstance(max_question_len, bool) or not isinstance(
                max_question_len, (int, np.integer)) or max_question_len < 1):
            raise ValueError(f"max_question_len must be an int >= 1 (or None: never cut the question), "
                             f"got {max_question_len!r}")
        if doc_stride is not None and doc_stride > max_seq_len:
            raise ValueError(f"doc_stride ({doc_stride}) is larger than max_seq_len ({max_seq_len})")
        limit = self.model.config.max_position_embeddings
        if max_seq_len > limit:
            logger.info("max_seq_len=%d lowered to the model's max_position_embeddings=%d", max_seq_len, limit)
            max_seq_len = limit
        questions, strides = zip(*[self._fit_question(q, max_question_len, max_seq_len, doc_stride)
                                   for q in questions])
        doc_stride = min(strides)
        enc = self.tokenizer(questions, contexts, truncation="only_second", max_length=max_seq_len,
                             stride=doc_stride, return_overflowing_tokens=True, return_offsets_mapping=True)
        windows = split_rows(enc, len(enc["input_ids"]))
        logits = self._run(windows, self._span_logits, batch_size=batch_size)
        per_sample = [[] for _ in questions]
        for window, (start, end) in zip(windows, logits):
            per_sample[window["sample"]].append((window, start, end))
        results = [self.best_answers(ctx, found, top_k, max_answer_len, handle_impossible_answer, align_to_words)
                   for ctx, found in zip(contexts, per_sample)]
        return results[0] if single else results

    @staticmethod
    def _split_inputs(question, context):
        if context is None and (isinstance(question, dict) or isinstance(question, (list, tuple)) and question
                                and all(isinstance(q, dict) for q in question)):
            items = [question] if isinstance(question, dict) else list(question)   # transformers' dict form
            for i, item in enumerate(items):
                if "question" not in item or "context" not in item:
                    raise ValueError(f"input {i} needs the keys 'question' and 'context', has {sorted(item)}")
            questions, _, _ = QuestionAnsweringPipeline._split_inputs([d["question"] for d in items],
                                                                      [d["context"] for d in items])
            return questions, [d["context"] for d in items], isinstance(question, dict)
        if question is None or context is None:
            raise ValueError("give both question= and context=")
        if isinstance(question, str) and isinstance(context, str):
            questions, contexts, single = [question], [context], True
        elif isinstance(question, (list, tuple)) and isinstance(context, str):
            questions, contexts, single = list(question), [context] * len(question), False
        elif isinstance(question, (list, tuple)) and isinstance(context, (list, tuple)):
            if len(question) != len(context):
                raise ValueError(f"{len(question)} questions but {len(context)} contexts: give one context "
                                 f"per question, or one context for all")
            questions, contexts, single = list(question), list(context), False
        else:
            raise TypeError(f"question and context must be str (or lists of str), got "
                            f"{type(question).__name__} and {type(context).__name__}")
        as_text_list(questions, "question")
        as_text_list(contexts, "context")
        for name, items in (("question", questions), ("context", contexts)):
            for i, s in enumerate(items):
                if not s.strip():
                    raise ValueError(f"{name}{'' if single else f'[{i}]'} is empty")
        return questions, contexts, single

    def _fit_question(self, question, max_question_len, max_seq_len, doc_stride):
        """(question cut to max_question_len tokens, doc_stride); ValueError when no context would fit.

        doc_stride None becomes min(max_seq_len // 2, 128), lowered to fit the room the question leaves.
        """
        enc = self.tokenizer(question, add_special_tokens=False, return_offsets_mapping=True)
        n = len(enc["input_ids"])
        if max_question_len is not None and n > max_question_len:
            cut = enc["offset_mapping"][max_question_len - 1][1]
            logger.warning("question of %d tokens cut to max_question_len=%d: %r", n, max_question_len,
                           question[:cut])
            question, n = question[:cut], max_question_len
        room = max_seq_len - n - 3                       # [CLS] question [SEP] context [SEP]
        if room < 1:
            raise ValueError(f"the question has {n} tokens, which leaves no room for the context in "
                             f"max_seq_len={max_seq_len} tokens: shorten the question, or raise max_seq_len "
                             f"(up to {self.model.config.max_position_embeddings}) or lower max_question_len")
        if doc_stride is None:
            return question, min(max_seq_len // 2, 128, room - 1)
        if doc_stride >= room:
            raise ValueError(f"doc_stride={doc_stride} must be smaller than the {room} context tokens each "
                             f"window holds (max_seq_len={max_seq_len} minus the question's {n} tokens and "
                             f"3 special tokens): lower doc_stride or raise max_seq_len")
        return question, doc_stride

    def _span_logits(self, rows):
        out = head_outputs(self.model, self._batch(rows))
        return [(out["start_logits"][b, :len(r["input_ids"])], out["end_logits"][b, :len(r["input_ids"])])
                for b, r in enumerate(rows)]

    def best_answers(self, context, windows, top_k, max_answer_len, handle_impossible_answer, align_to_words):
        """Merge the candidate spans of all windows of one context (transformers 4.x postprocess)."""
        word_spans = self.word_spans(windows)
        min_null_score = 1e6
        answers = {}                  # answer.lower() -> the first span with that text (scores added)
        for window, start, end in windows:
            starts, ends, scores, null = self.decode_spans(window, start, end, top_k * 2 + 10
                                                           if align_to_words else top_k, max_answer_len)
            if handle_impossible_answer:
                min_null_score = min(min_null_score, null)
            for s, e, score in zip(starts, ends, scores):
                begin, finish = self.char_span(window, s, e, word_spans, align_to_words)
                text = context[begin:finish]
                same = answers.get(text.lower())          # one look-up: linear in the spans, not quadratic
                if same is not None:
                    same["score"] += float(score)
                else:
                    answers[text.lower()] = {"score": float(score), "start": begin, "end": finish, "answer": text}
        answers = list(answers.values())                  # in the order first found, as before
        if handle_impossible_answer:
            answers.append({"score": float(min_null_score), "start": 0, "end": 0, "answer": ""})
        answers = sorted(answers, key=lambda a: a["score"], reverse=True)[:top_k]
        return answers[0] if len(answers) == 1 else answers

    @staticmethod
    def decode_spans(window, start_logits, end_logits, candidates, max_answer_len):
        """Best spans of one window: (starts, ends, scores, null score).

        p_start, p_end: softmax over the context tokens and [CLS] (others get -10000).
        null score = p_start([CLS]) * p_end([CLS]); then [CLS] is zeroed, and the
        `candidates` best spans s <= e < s + max_answer_len by p_start(s) * p_end(e)
        are kept if both ends are allowed tokens.
        Matches: transformers 4.x select_starts_ends + decode_spans.
        """
        allowed = np.array([s == 1 for s in window["sequence_ids"]])
        allowed[0] = True                                         # [CLS]: the "no answer" slot
        dtype = start_logits.dtype
        p_start = softmax(np.where(allowed, start_logits, dtype.type(-10000.0)))   # (T,)
        p_end = softmax(np.where(allowed, end_logits, dtype.type(-10000.0)))       # (T,)
        null = float(p_start[0] * p_end[0])
        p_start[0] = p_end[0] = 0.0
        scores = np.tril(np.triu(p_start[:, None] * p_end[None, :]), max_answer_len - 1)   # (T, T): s <= e
        flat = scores.ravel()
        best = np.argsort(-flat, kind="stable")[:candidates]
        starts, ends = np.unravel_index(best, scores.shape)
        keep = allowed[starts] & allowed[ends]
        return starts[keep], ends[keep], flat[best][keep], null

    @staticmethod
    def word_spans(windows):
        """{word index: (first char, last char + 1)} of the context words, from every window's tokens."""
        spans = {}
        for window, _, _ in windows:
            for seq, word, (a, b) in zip(window["sequence_ids"], window["word_ids"], window["offsets"]):
                if seq != 1 or word is None:
                    continue
                if word in spans:
                    lo, hi = spans[word]
                    spans[word] = (min(lo, a) if a < b else lo, max(hi, b))
                else:
                    spans[word] = (a, b)
        return spans

    @staticmethod
    def char_span(window, s, e, word_spans, align_to_words):
        """Characters of tokens s..e of a window, widened to whole words when asked."""
        if align_to_words:
            first, last = window["word_ids"][s], window["word_ids"][e]
            if first is not None and last is not None and window["sequence_ids"][s] == 1:
                return word_spans[first][0], word_spans[last][1]
        return int(window["offsets"][s][0]), int(window["offsets"][e][1])


def answer_question(question: Texts, context: Texts, model: ModelArg, top_k: int = 1,
                    doc_stride: Optional[int] = None, max_answer_len: int = 15,
                    handle_impossible_answer: bool = False, max_seq_len: int = 384, max_question_len: int = 64, *,
                    tokenizer: TokenizerArg = None, batch_size: int = DEFAULT_BATCH_SIZE,
                    **load_kwargs: Any) -> Union[dict, list]:
    """Extract the answer to `question` from `context`: transformers 4.x question-answering.

        answer_question("Where does Ada live?", "Ada lives in London.", model="path/to/squad-albert")
        {'score': 0.87, 'start': 13, 'end': 20, 'answer': 'London.'}

    Long contexts are split into overlapping windows (doc_stride tokens shared; None:
    min(max_seq_len // 2, 128) as transformers 4.x) and the best span of all windows
    wins; start / end index the context. See QuestionAnsweringPipeline.
    """
    pipe = QuestionAnsweringPipeline(model, tokenizer, batch_size=batch_size, **load_kwargs)
    return pipe.run(question=question, context=context, top_k=top_k, doc_stride=doc_stride,
                    max_answer_len=max_answer_len, handle_impossible_answer=handle_impossible_answer,
                    max_seq_len=max_seq_len, max_question_len=max_question_len)
