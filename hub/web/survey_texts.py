"""The survey page's words in the languages the hub speaks; the survey's language picks
them, English when there are none for it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PageTexts:
    lang: str
    title: str
    question: str  # {ref}
    scale: str
    comment: str
    submit: str
    change_until: str  # {date}
    answered: str  # {rating}, {date}
    thanks_title: str
    thanks: str  # {date}
    pick: str
    closed_title: str
    closed: str
    expired_title: str
    expired: str
    not_found_title: str
    not_found: str


TEXTS = {
    "en": PageTexts(
        lang="en",
        title="How did we do?",
        question="How satisfied are you with our help on your request {ref}?",
        scale="1 = not at all, 5 = very satisfied",
        comment="Anything you would like to add? (optional)",
        submit="Send my rating",
        change_until="You can change your answer until {date}.",
        answered="You rated us {rating}. You can change it until {date}.",
        thanks_title="Thank you",
        thanks="Your rating is recorded. You can change it from the same link until {date}.",
        pick="Please choose a rating from 1 to 5.",
        closed_title="This survey has closed",
        closed="Ratings for this request can no longer be given or changed.",
        expired_title="Please try again",
        expired="This form has expired. Open the link from your message again and resend it.",
        not_found_title="Link not valid",
        not_found="This survey link is not valid or was changed.",
    ),
    "bn": PageTexts(
        lang="bn",
        title="আমাদের সেবা কেমন ছিল?",
        question="আপনার অনুরোধ {ref}-এ আমাদের সাহায্যে আপনি কতটা সন্তুষ্ট?",
        scale="১ = একেবারেই না, ৫ = খুব সন্তুষ্ট",
        comment="আর কিছু বলতে চান? (ঐচ্ছিক)",
        submit="রেটিং পাঠান",
        change_until="{date} পর্যন্ত আপনি উত্তর বদলাতে পারবেন।",
        answered="আপনি {rating} দিয়েছেন। {date} পর্যন্ত এটি বদলাতে পারবেন।",
        thanks_title="ধন্যবাদ",
        thanks="আপনার রেটিং নথিভুক্ত হয়েছে। একই লিংক থেকে {date} পর্যন্ত এটি বদলাতে পারবেন।",
        pick="অনুগ্রহ করে ১ থেকে ৫-এর মধ্যে একটি রেটিং বেছে নিন।",
        closed_title="এই জরিপ বন্ধ হয়ে গেছে",
        closed="এই অনুরোধের রেটিং আর দেওয়া বা বদলানো যাবে না।",
        expired_title="আবার চেষ্টা করুন",
        expired="এই ফর্মের মেয়াদ শেষ। আপনার বার্তার লিংকটি আবার খুলে পাঠান।",
        not_found_title="লিংকটি বৈধ নয়",
        not_found="এই জরিপের লিংকটি বৈধ নয় বা বদলানো হয়েছে।",
    ),
}


def texts_for(language: str | None) -> PageTexts:
    base = (language or "en").split("-")[0].split("_")[0].lower()
    return TEXTS.get(base, TEXTS["en"])
