"""Words of a text as spaCy's blank tokenizer splits them (datatrove's ``word_tokenize``).

``SpacyWords`` gives the same words as ``ReferenceSpacyWords`` (spaCy over the whole text) at
a fraction of the cost, by tokenizing each whitespace-separated chunk once and caching its
words (spaCy's own chunk cache stops at the first special case of a document, spaCy issue
#1250, and at 10,000 chunks). ``tests/test_word_splitter.py`` compares the two on the corpus
and on generated text for every language code split with spaCy.
"""

from __future__ import annotations

import re
import sys
from itertools import chain, compress, pairwise
from operator import and_, itemgetter, not_

from spacy.attrs import IS_PUNCT, ORTH, intify_attrs
from spacy.lang.lex_attrs import LEX_ATTRS
from spacy.tokenizer import Tokenizer

_TOKENS, _ENDS, _STARTS = itemgetter(0), itemgetter(1), itemgetter(2)
_SPACES = re.compile(r"\s+")  # str.isspace runs, as str.split and spaCy cut at
_APART = "\u2029"  # PARAGRAPH SEPARATOR: joins chunks that are tokenized in one call
_GIVES_SPACE_TOKENS = re.compile(r"\s{2,}|[^\S ]")  # whitespace runs but one space: spaCy keeps them
#: Mask bits for special-case patterns that run into whitespace tokens (see ``_Rules``).
_INTO_SPACE_AFTER, _INTO_SPACE_BEFORE = 1, 2
_INTO_SPACE = _INTO_SPACE_AFTER | _INTO_SPACE_BEFORE


class ReferenceSpacyWords:
    """The same tokens as datatrove's ``SpaCyTokenizer.word_tokenize``: spaCy over the whole text.

    datatrove tokenizes inside a spaCy memory zone, which forgets every word's lexeme after
    each document and rebuilds it for the next; here the vocabulary is kept and the blank
    pipeline is rebuilt only when it has grown past ``MAX_VOCAB`` entries (bounded memory).
    Without ``lexeme_attributes``, new lexemes get only their text (``ORTH``), not the
    attributes spaCy's lexeme attribute getters compute (lower case, shape, like_num, ...):
    half the cost of a word never seen before, and no tokenizer rule reads them.
    """

    MAX_VOCAB = 1_000_000

    def __init__(self, tokenizer, lexeme_attributes: bool = True):
        self.tokenizer = tokenizer
        self.lexeme_attributes = lexeme_attributes

    def __call__(self, text: str) -> list[str]:
        return [token.text.strip() for token in self.doc(text) if token.text.strip()]

    def doc(self, text: str):
        """spaCy's tokens of the text (a ``Doc``)."""
        nlp = self.tokenizer.tokenizer
        if len(nlp.vocab) > self.MAX_VOCAB:
            self.tokenizer._tokenizer = None  # datatrove builds a fresh blank pipeline on next use
            nlp = self.tokenizer.tokenizer
        if not self.lexeme_attributes:
            nlp.vocab.lex_attr_getters = {}
        nlp.max_length = len(text) + 10
        return nlp.make_doc(text)


class SpacyWords:
    """``ReferenceSpacyWords``'s words, from a cache of each whitespace-separated chunk's words.

    Why the words are the same. spaCy's tokenizer (``spacy/tokenizer.pyx``) cuts the text
    into runs of whitespace and runs of non-whitespace (chunks) at ``str.isspace``, as
    ``str.split`` does, and tokenizes each run by itself (prefixes, suffixes, infixes, URL
    and token matches, special cases equal to the run or to what is left of it, and its cache
    of such results): a run's tokens depend on the run alone. Whitespace runs give only
    whitespace tokens, which the words leave out. Then one pass over the whole document finds
    the special cases' patterns (token sequences) and replaces or keeps the matched spans,
    longest first; a match across two chunks can change tokens or keep a match inside a chunk
    from applying. ``_Rules`` finds every boundary where a pattern might match across; the
    chunks on both sides of such a boundary are tokenized together (with the whitespace
    between them) by spaCy, and every other chunk's words are the words it has alone, which
    the cache holds. The chunks of a document not yet cached are tokenized in one call,
    joined by a whitespace no pattern crosses.

    Lexeme attributes (lower case, shape, ...) are not computed for the words spaCy sees
    here (see ``ReferenceSpacyWords``): the tokenizer reads only the text.

    What it caches: per chunk of at most ``MAX_CACHED_CHARS`` characters, its words and two
    masks (``_Rules``), for at most ``max_entries`` chunks (~240 bytes each on the corpus,
    24 MB for the default; a full cache is emptied and refills). Longer chunks (URLs,
    unspaced scripts) are tokenized every time. A tokenizer that is not spaCy's rule-based
    ``Tokenizer`` (Vietnamese's, with pyvi installed) splits every text whole.
    """

    MAX_CACHED_CHARS = 64

    def __init__(self, tokenizer, max_entries: int = 100_000):
        self.spacy = ReferenceSpacyWords(tokenizer, lexeme_attributes=False)
        self.max_entries = max_entries
        self.chunks: dict[str, tuple[tuple[str, ...], int, int]] = {}
        nlp = tokenizer.tokenizer
        rules = _Rules(nlp.tokenizer) if type(nlp.tokenizer) is Tokenizer else None
        self.rules = rules if rules and not any(_APART in token for token in rules.space_tokens) else None
        self._sentences = _Sentencizer(nlp)
        self._sentences_from_words = bool(
            self.rules
            and not (self.rules.any_end or self.rules.any_start)
            and self._sentences.same_for_words(nlp.tokenizer.rules)
        )

    @property
    def language(self) -> str:
        return self.spacy.tokenizer.language

    def __call__(self, text: str) -> list[str]:
        if self.rules is None:
            return self.spacy(text)
        chunks = text.split()
        entries = list(map(self.chunks.get, chunks))
        if None in entries:
            entries = self._add_missing(chunks, entries)
        ends = [self.rules.edge_end(text), *map(_ENDS, entries)]
        starts = [*map(_STARTS, entries), self.rules.edge_start(text)]
        if any(map(and_, ends, starts)):
            return self._split_joined(text, chunks, entries, list(map(and_, ends, starts)))
        return list(chain.from_iterable(map(_TOKENS, entries)))

    def sentence_count(self, text: str) -> int:
        """The sentences of ``text`` (at least one) as datatrove's pipeline counts them: spaCy's
        blank tokenizer, then its sentencizer (``Doc.sents``).

        The sentencizer needs each token's class (``_Sentencizer``), whitespace tokens
        included. Where no special-case pattern involves whitespace (every spaCy tokenizer but
        Malay's) and stripping a special case's token never changes its class, the tokens
        are the words of the pieces between the whitespace runs that spaCy keeps as tokens
        (all but single spaces; nothing spans them), with one whitespace token for each such
        run (several behave as one); a single space only begins a text, where its token
        changes nothing. Otherwise the tokens are spaCy's.
        """
        if self._sentences_from_words:
            tokens: list[str] = []
            for index, piece in enumerate(_GIVES_SPACE_TOKENS.split(text)):
                if index:
                    tokens.append(" ")
                tokens += self(piece)
        else:
            tokens = [token.text for token in self.spacy.doc(text)]
        return self._sentences.count(tokens)

    def _add_missing(self, chunks: list[str], entries: list) -> list[tuple[tuple[str, ...], int, int]]:
        """The entries of all ``chunks``: the missing ones (``None`` in ``entries``) tokenized in
        one call, and cached if at most ``MAX_CACHED_CHARS`` long (emptying a full cache)."""
        missing = list(dict.fromkeys(compress(chunks, map(not_, entries))))
        new = {}
        for chunk, words in zip(missing, self._words_apart(missing), strict=True):
            tokens = (chunk,) if words == [chunk] else tuple(map(sys.intern, words))  # shared strings
            new[chunk] = entry = (tokens, self.rules.end_mask(chunk), self.rules.start_mask(chunk))
            if len(chunk) <= self.MAX_CACHED_CHARS:
                if len(self.chunks) >= self.max_entries:
                    self.chunks.clear()
                self.chunks[chunk] = entry
        return list(map(new.get, chunks, entries))

    def _words_apart(self, chunks: list[str]) -> list[list[str]]:
        """Each chunk's words, from one spaCy call over the chunks joined by ``_APART``: a
        whitespace that no pattern spans (not one space, none of the patterns' whitespace
        tokens), so each chunk gets the tokens it gets alone, and only ``_APART``'s
        tokens are whitespace."""
        words: list[list[str]] = [[]]
        after_space = False
        for token in self.spacy.doc(_APART.join(chunks)):
            text = token.text
            if text.isspace():
                after_space = True
            elif after_space:
                words.append([text])
                after_space = False
            else:
                words[-1].append(text)
        return words

    def _split_joined(self, text: str, chunks: list[str], entries: list, masks: list[int]) -> list[str]:
        """Words where a pattern might span some boundaries (``masks[i]``, the whitespace
        before chunk ``i``; the last one: after the last chunk). A boundary that only
        whitespace-free pair tokens might span is crossable only if it is one space. Chunks
        joined by crossable boundaries, with the whitespace between them (and a crossable
        whitespace at either end of the text), are tokenized together; the other chunks'
        words come from the cache."""
        spaces = _SPACES.findall(text)
        lead = 1 if text[:1].isspace() else 0
        crossable = [
            gap
            for gap in compress(range(len(masks)), masks)
            if masks[gap] & _INTO_SPACE or spaces[gap - 1 + lead] == " "
        ]
        words: list[str] = []
        done = 0  # chunks [0, done) have their words in ``words``
        for first, last in _runs(crossable):
            low, high = max(first - 1, 0), min(last, len(chunks) - 1)  # the chunks joined
            words += chain.from_iterable(map(_TOKENS, entries[done:low]))
            parts = [spaces[0]] if first == 0 else []
            parts.append(chunks[low])
            for chunk in range(low + 1, high + 1):
                parts += (spaces[chunk - 1 + lead], chunks[chunk])
            if last == len(chunks):
                parts.append(spaces[-1])
            words += self.spacy("".join(parts))
            done = high + 1
        words += chain.from_iterable(map(_TOKENS, entries[done:]))
        return words


class _Sentencizer:
    """spaCy's ``Sentencizer.predict`` and ``Doc.sents``, counting: a sentence starts at the
    first token and at each token that is neither a sentence-final character (the pipe's
    ``punct_chars``) nor punctuation (the vocabulary's ``IS_PUNCT`` getter: every character
    a Unicode P*), after a sentence-final character since the last start."""

    def __init__(self, nlp):
        self.punct_chars = frozenset(nlp.get_pipe("sentencizer").punct_chars)
        self.is_punct = {**LEX_ATTRS, **nlp.Defaults.lex_attr_getters}[IS_PUNCT]  # spacy.vocab.create_vocab

    def count(self, tokens: list[str]) -> int:
        count, seen_period = 1, False
        for token in tokens:
            if token in self.punct_chars:
                seen_period = True
            elif seen_period and not self.is_punct(token):
                count += 1
                seen_period = False
        return count

    def opens(self, token: str) -> bool:
        """Whether the token starts a sentence after a sentence-final character."""
        return token not in self.punct_chars and not self.is_punct(token)

    def same_for_words(self, rules: dict) -> bool:
        """Whether stripping a special case's token never changes what it does here (a token
        with whitespace opens a sentence) nor leaves nothing, outside whitespace runs."""
        for string, substrings in rules.items():
            if string.isspace():
                continue
            for substring in substrings:
                token = intify_attrs(substring, _do_deprecated=True)[ORTH]
                if not token.strip() or (token != token.strip() and not self.opens(token.strip())):
                    return False
        return True


def _runs(indices) -> list[tuple[int, int]]:
    """Runs of consecutive integers in ascending ``indices``, as (first, last) pairs."""
    runs: list[tuple[int, int]] = []
    for index in indices:
        if runs and runs[-1][1] == index - 1:
            runs[-1] = (runs[-1][0], index)
        else:
            runs.append((index, index))
    return runs


class _Rules:
    """Which chunk boundaries a special-case pattern of a spaCy tokenizer might span.

    A pattern is what the tokenizer matches in its final pass: the tokens of a special
    case's string as prefixes, suffixes and infixes alone split it (spaCy builds them with
    ``_tokenize_affixes(string, False)``; a copy of the tokenizer without special cases
    gives the same). A match spans the boundary between two chunks only if two consecutive
    pattern tokens (a, b) sit on either side of it:

    - a and b not whitespace: a ends the left chunk, b starts the right one, one space between;
    - b whitespace (Malay's "M\\n"): a ends the left chunk, b is in the whitespace after it;
    - a whitespace: b starts the right chunk, a is in the whitespace before it.

    Each chunk gets an end mask and a start mask (ints) so that a boundary is crossable
    exactly when ``end_mask(left) & start_mask(right)`` is not zero: bit ``k + 2`` stands
    for the k-th distinct b of the first kind; the two low bits make every boundary next to
    a chunk of the second or third kind crossable, whatever is on the other side.
    """

    def __init__(self, tokenizer: Tokenizer):
        plain = Tokenizer(
            tokenizer.vocab,
            rules={},
            prefix_search=tokenizer.prefix_search,
            suffix_search=tokenizer.suffix_search,
            infix_finditer=tokenizer.infix_finditer,
            token_match=tokenizer.token_match,
            url_match=tokenizer.url_match,
        )
        patterns = [[token.text for token in plain(string)] for string in tokenizer.rules]
        pairs = {pair for pattern in patterns for pair in pairwise(pattern)}
        self.space_tokens = {token for pattern in patterns for token in pattern if token.isspace()}
        bits: dict[str, int] = {}
        before: dict[str, int] = {}  # a -> what may follow it across a boundary
        after: dict[str, int] = {}  # b -> what it may follow
        self.any_end = self.any_start = 0
        for a, b in sorted(pairs):
            if not a.isspace() and not b.isspace():
                bit = bits.setdefault(b, 1 << (len(bits) + 2))
                before[a] = before.get(a, 0) | bit
                after[b] = after.get(b, 0) | bit
            elif not a.isspace():
                before[a] = before.get(a, 0) | _INTO_SPACE_AFTER
                self.any_start = _INTO_SPACE_AFTER
            elif not b.isspace():
                after[b] = after.get(b, 0) | _INTO_SPACE_BEFORE
                self.any_end = _INTO_SPACE_BEFORE
        self.pair_tokens = before.keys() | after.keys()
        self._endings = _trie({a[::-1]: mask for a, mask in before.items()})
        self._beginnings = _trie(after)
        self._masks: dict[int, int] = {}  # one object per distinct mask (they run to thousands of bits)

    def end_mask(self, chunk: str) -> int:
        """The bits of the b's that may follow the chunk: those of every a it ends with."""
        mask = self.any_end | _walk(self._endings, reversed(chunk))
        return self._masks.setdefault(mask, mask)

    def start_mask(self, chunk: str) -> int:
        """The bits of every b the chunk starts with."""
        mask = self.any_start | _walk(self._beginnings, chunk)
        return self._masks.setdefault(mask, mask)

    def edge_end(self, text: str) -> int:
        """The end mask of what precedes the first chunk: whitespace or nothing."""
        return self.any_end if text[:1].isspace() else 0

    def edge_start(self, text: str) -> int:
        """The start mask of what follows the last chunk: whitespace or nothing."""
        return self.any_start if text[-1:].isspace() else 0


def _trie(masks: dict[str, int]) -> dict:
    """A character trie of the strings; each string's mask under the key ``""`` of its node."""
    root: dict = {}
    for string, mask in masks.items():
        node = root
        for char in string:
            node = node.setdefault(char, {})
        node[""] = mask
    return root


def _walk(trie: dict, chars) -> int:
    """The masks of all the trie's strings that ``chars`` starts with, or-ed."""
    mask, node = 0, trie
    for char in chars:
        node = node.get(char)
        if node is None:
            break
        mask |= node.get("", 0)
    return mask
