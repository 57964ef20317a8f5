"""Stored texts as codes with parameters (core.texts): worded when read, in the reader's
language; a text stored as words before codes existed is shown as it is."""

from __future__ import annotations

import copy
import pickle

import pytest
from django.utils import translation
from django.utils.translation import gettext_lazy

from core import texts
from tenants.onboarding import bulk

SAME_AS_LINE = bulk.SAME_AS_LINE  # "Same as line %(line)s of this file."


def test_it_words_a_stored_code_in_the_readers_language():
    with translation.override("en"):
        kept = texts.stored(texts.Coded(SAME_AS_LINE, line=4))
    assert kept == {
        "code": SAME_AS_LINE,
        "params": {"line": 4},
        "text": "Same as line 4 of this file.",
    }
    with translation.override("nl"):
        assert texts.render(kept) == "Zelfde als regel 4 van dit bestand."
    with translation.override("fr"):
        assert texts.render(kept) == "Identique à la ligne 4 de ce fichier."


def test_it_shows_words_stored_before_codes_as_they_are():
    with translation.override("en"):
        assert texts.render("Zelfde als regel 4 van dit bestand.") == (
            "Zelfde als regel 4 van dit bestand."
        )


def test_it_falls_back_to_the_stored_words_for_a_retired_code_or_bad_params():
    retired = {"code": "csv.retired", "params": {}, "text": "As it was worded."}
    assert texts.render(retired) == "As it was worded."
    wrong = {"code": SAME_AS_LINE, "params": {"other": 1}, "text": "Same as line 4."}
    assert texts.render(wrong) == "Same as line 4."


def test_it_keeps_the_code_through_copies_and_pickles():
    coded = texts.Coded(SAME_AS_LINE, line=7)
    for again in (copy.deepcopy(coded), pickle.loads(pickle.dumps(coded))):
        assert isinstance(again, texts.Coded)
        assert (again.code, again.params, str(again)) == (coded.code, coded.params, str(coded))


def test_it_refuses_an_unknown_code_and_a_code_defined_twice():
    with pytest.raises(KeyError):
        texts.Coded("csv.never_defined")
    with pytest.raises(ValueError, match="defined twice"):
        texts.define(SAME_AS_LINE, gettext_lazy("Another wording."))


def test_it_finds_the_coded_message_an_exception_was_raised_with():
    coded = texts.Coded(SAME_AS_LINE, line=2)
    assert texts.of_error(ValueError(coded)) is coded
    assert texts.of_error(ValueError("plain")) == "plain"
    assert not isinstance(texts.of_error(ValueError("plain")), texts.Coded)
